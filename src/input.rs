//! Reading a polymer from a file or standard input, with the validation rules
//! both binaries share and errors that name the input.
//!
//! Reading validates as it goes, so a stream that is not a polymer (a binary
//! file, `/dev/zero`) fails at its first bad byte instead of filling memory,
//! and the buffer grows with `try_reserve`, so an input too large for memory
//! is an error rather than an abort. Not here: what the polymer means
//! (`polymer`), or where the children's copy of it goes (`orchestrator`).

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};

use crate::polymer::Polymer;
use crate::polymer::unit::is_unit;
use crate::sealed::Mapped;

/// Where a polymer comes from: a path, or `-` for standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    Path(PathBuf),
}

impl Source {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Stdin => None,
            Source::Path(path) => Some(path),
        }
    }
}

impl From<&OsStr> for Source {
    fn from(arg: &OsStr) -> Self {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => write!(f, "<stdin>"),
            // Escaped: a path with a newline must not break the error line.
            Source::Path(path) => write!(f, "{}", path.display().to_string().escape_debug()),
        }
    }
}

/// The file an input was read from, when it was a file: its device and
/// inode, so that a run can refuse to overwrite its own input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub device: u64,
    pub inode: u64,
}

impl FileId {
    pub fn of(metadata: &std::fs::Metadata) -> FileId {
        FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// A validated polymer and the file it came from (for a regular file).
#[derive(Debug)]
pub struct Loaded {
    pub polymer: Polymer,
    pub file: Option<FileId>,
}

/// Reads and validates a polymer.
pub fn load(source: &Source) -> anyhow::Result<Polymer> {
    load_with_id(source).map(|loaded| loaded.polymer)
}

/// Reads and validates a polymer, noting the identity of its file.
///
/// The whole input is read into one buffer that is then validated and later
/// reacted in place, so memory stays close to the input's size.
pub fn load_with_id(source: &Source) -> anyhow::Result<Loaded> {
    let (raw, file) = match source {
        Source::Stdin => {
            let stdin = io::stdin();
            let file = regular_file_id(&stdin);
            let raw = read_validating(stdin.lock(), 0)
                .context("could not read standard input")
                .map_err(|err| err.context(source.to_string()))?;
            (raw, file)
        }
        Source::Path(path) => {
            let opened = File::open(path).with_context(|| format!("could not read {source}"))?;
            let metadata = opened
                .metadata()
                .with_context(|| format!("could not read {source}"))?;
            if metadata.is_dir() {
                return Err(anyhow!("is a folder, not a polymer file"))
                    .with_context(|| format!("could not read {source}"));
            }
            let size_hint = if metadata.is_file() {
                metadata.len() as usize
            } else {
                0
            };
            let file = metadata.is_file().then(|| FileId::of(&metadata));
            let raw = read_validating(opened, size_hint)
                .with_context(|| format!("could not read {source}"))?;
            (raw, file)
        }
    };
    let polymer = Polymer::parse(raw).with_context(|| source.to_string())?;
    Ok(Loaded { polymer, file })
}

/// Maps the input read-only when it is a file whose bytes can never change
/// (a sealed in-memory file, as orchestrate hands its local children on
/// standard input), so it is read in place instead of copied; `None` for
/// any other input. Reads nothing: the input is still whole for [`load`].
pub fn map_sealed(source: &Source) -> anyhow::Result<Option<Mapped>> {
    let file = match source {
        Source::Stdin => match io::stdin().as_fd().try_clone_to_owned() {
            Ok(fd) => File::from(fd),
            Err(_) => return Ok(None),
        },
        // Without blocking: a FIFO is opened, seen not to be sealed, and
        // left to `load`.
        Source::Path(path) => match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => file,
            Err(_) => return Ok(None),
        },
    };
    Mapped::of(&file).with_context(|| format!("could not read {source}"))
}

fn regular_file_id(handle: &impl std::os::fd::AsFd) -> Option<FileId> {
    let owned = handle.as_fd().try_clone_to_owned().ok()?;
    let metadata = File::from(owned).metadata().ok()?;
    metadata.is_file().then(|| FileId::of(&metadata))
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Reads everything, but stops early (returning what was read up to and
/// including the first byte that makes the input invalid) so that
/// `Polymer::parse` reports it: a polymer is letters, then only whitespace.
fn read_validating(mut reader: impl Read, size_hint: usize) -> io::Result<Vec<u8>> {
    const CHUNK: usize = 1 << 20;
    let mut raw = Vec::new();
    // A file's size is known: one allocation, and one byte more to see its end.
    reserve(&mut raw, size_hint.saturating_add(1))?;
    let mut checked = 0;
    let mut whitespace_seen = false;
    loop {
        if raw.len() == raw.capacity() {
            let more = raw.capacity().max(CHUNK);
            reserve(&mut raw, more)?;
        }
        let room = (raw.capacity() - raw.len()).min(CHUNK);
        if (&mut reader).take(room as u64).read_to_end(&mut raw)? == 0 {
            return Ok(raw);
        }
        if checked == 0 {
            if raw.len() < BYTE_ORDER_MARK.len() && BYTE_ORDER_MARK.starts_with(&raw) {
                continue;
            }
            if raw.starts_with(BYTE_ORDER_MARK) {
                checked = BYTE_ORDER_MARK.len();
            }
        }
        if let Some(bad) = first_invalid(&raw[checked..], &mut whitespace_seen) {
            raw.truncate(checked + bad + 1);
            return Ok(raw);
        }
        checked = raw.len();
    }
}

/// The position of the first byte that proves `bytes` (following what was
/// checked before, which left `whitespace_seen`) is not a polymer: a byte
/// that is neither a letter nor trailing whitespace, or a letter after
/// whitespace.
fn first_invalid(bytes: &[u8], whitespace_seen: &mut bool) -> Option<usize> {
    if !*whitespace_seen && crate::polymer::unit::first_non_unit(bytes).is_none() {
        return None;
    }
    for (i, &byte) in bytes.iter().enumerate() {
        if is_unit(byte) {
            if *whitespace_seen {
                return Some(i);
            }
        } else if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            *whitespace_seen = true;
        } else {
            return Some(i);
        }
    }
    None
}

fn reserve(raw: &mut Vec<u8>, additional: usize) -> io::Result<()> {
    raw.try_reserve_exact(additional).map_err(|_| {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "out of memory after {} bytes (the whole input must fit in memory)",
                raw.len()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polymer::InvalidUnit;

    /// A reader that hands out its bytes a few at a time, as a pipe may.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[track_caller]
    fn case(input: &[u8]) {
        let whole = Polymer::parse(input.to_vec());
        for step in [1, 2, 3, 7, 4096] {
            let read = read_validating(Trickle(input, step), 0).unwrap();
            assert_eq!(
                Polymer::parse(read),
                whole,
                "{:?} read {step} bytes at a time",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn reading_as_it_validates_reports_what_parsing_the_whole_would() {
        for input in [
            &b""[..],
            b"\n",
            b"abC\r\n",
            b"abC \t \n\n",
            b"\xEF\xBB\xBFabC\n",
            b"\xEF\xBB\xBF",
            b"\xEF\xBB",
            b"\xEF\xBBab",
            b"ab3",
            b"\xEF\xBB\xBFab3",
            b" ab",
            b"ab cd",
            b"ab\ncd\n",
            b"ab\xFF",
            b"ab\0\0\0",
            b"dabAcCaCBAcCcaDA",
        ] {
            case(input);
        }
    }

    #[test]
    fn an_endless_stream_of_non_letters_fails_at_its_first_byte() {
        let zeros = io::repeat(0);
        let read = read_validating(zeros, 0).unwrap();
        assert!(read.len() <= 1 << 20, "stopped after the first chunk");
        assert_eq!(
            Polymer::parse(read),
            Err(InvalidUnit { offset: 0, byte: 0 })
        );
    }

    #[test]
    fn odd_paths_stay_on_one_line() {
        let source = Source::Path(PathBuf::from("a\nb.txt"));
        assert_eq!(source.to_string(), "a\\nb.txt");
    }
}
