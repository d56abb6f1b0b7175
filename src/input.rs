//! Reading a polymer from a file or standard input, with the validation rules
//! both binaries share and errors that name the input.
//!
//! Reading validates as it goes, so a stream that is not a polymer (a binary
//! file, `/dev/zero`) fails at its first bad byte instead of filling memory,
//! and the buffer grows with `try_reserve`, so an input too large for memory
//! is an error rather than an abort. A large buffer is asked to sit on huge
//! pages (`memory`). Not here: what the polymer means
//! (`polymer`), or where the children's copy of it goes (`orchestrator`).

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use crate::memory;
use crate::polymer::stream::{self, READ_ALIGN, Reacted, Reaction};
use crate::polymer::{Arriving, InvalidUnit, Polymer};
use crate::sys;
use crate::sys::sealed::Mapped;

/// The file an input was read from, when it was a file: its device and
/// inode, so that a run can refuse to overwrite its own input.
pub use crate::sys::fs::FileId;

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
            Source::Path(path) => write!(f, "{}", crate::files::shown(path)),
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
    let (polymer, file) = read_source(source, |reader, size_hint| read_polymer(reader, size_hint))?;
    Ok(Loaded { polymer, file })
}

/// A polymer reacted while it was read (see [`stream`]), and the file it
/// came from (for a regular file).
#[derive(Debug)]
pub struct ReactedInput {
    pub reacted: Reacted,
    pub file: Option<FileId>,
}

/// Reads a polymer and reacts it as `reaction` says (its size hint is
/// taken from the file), never holding the input whole; `observe` sees
/// every unit of the input, in order.
pub fn react(
    source: &Source,
    reaction: &Reaction,
    observe: &mut (dyn FnMut(&[u8]) + Send),
) -> anyhow::Result<ReactedInput> {
    react_mirrored(source, reaction, observe, None)
}

/// [`react`], handing `mirror` every stretch of the reacted polymer as it
/// is joined (see [`stream::Mirror`]).
pub fn react_mirrored(
    source: &Source,
    reaction: &Reaction,
    observe: &mut (dyn FnMut(&[u8]) + Send),
    mirror: Option<stream::Mirror>,
) -> anyhow::Result<ReactedInput> {
    let (reacted, file) = read_source(source, |reader, size_hint| {
        let reaction = Reaction {
            size_hint,
            ..*reaction
        };
        match mirror {
            Some(mirror) => {
                stream::react_while_reading_mirrored(reader, &reaction, observe, mirror)
            }
            None => stream::react_while_reading(reader, &reaction, observe),
        }
    })?;
    Ok(ReactedInput { reacted, file })
}

/// Opens `source` and reads it with `read` (handed the reader and the
/// input's size when it is a regular file), with errors that name it.
///
/// A regular file must be the same file from the first byte read to the
/// last: one whose size or change time moved while it was read (cut short,
/// appended to, rewritten), or that gave fewer or more bytes than its size
/// said, is an error, never an answer for bytes that were never one file.
fn read_source<T>(
    source: &Source,
    read: impl FnOnce(&mut (dyn Read + Send), usize) -> io::Result<Result<T, InvalidUnit>>,
) -> anyhow::Result<(T, Option<FileId>)> {
    let (file, shown) = match source {
        Source::Stdin => {
            let stdin = sys::fs::duplicate_stdin()
                .context("could not read standard input")
                .map_err(|err| err.context(source.to_string()))?;
            (stdin, "could not read standard input".to_string())
        }
        Source::Path(path) => {
            let opened = File::open(path).with_context(|| format!("could not read {source}"))?;
            (opened, format!("could not read {source}"))
        }
    };
    let before = snapshot(&file, source).with_context(|| shown.clone())?;
    let size_hint = before.map_or(0, |b| b.unread() as usize);
    let mut counted = Counted {
        inner: &file,
        count: 0,
    };
    let read = match source {
        // Through std's handle, which takes its lock for each read: its
        // held lock cannot go to the threads that take turns reading.
        // Nothing else in these programs reads standard input.
        Source::Stdin => {
            let mut counted_stdin = Counted {
                inner: io::stdin(),
                count: 0,
            };
            let read = read(&mut counted_stdin, size_hint);
            counted.count = counted_stdin.count;
            read
        }
        Source::Path(_) => read(&mut counted, size_hint),
    };
    let read = read.with_context(|| shown.clone());
    let read = match source {
        Source::Stdin => read.map_err(|err| err.context(source.to_string()))?,
        Source::Path(_) => read?,
    };
    let read = read.with_context(|| source.to_string())?;
    if let Some(before) = before {
        // Only a whole read is compared: one stopped at a bad byte is an
        // error already.
        let after = file
            .metadata()
            .and_then(|m| Snapshot::of(&m, &file))
            .with_context(|| shown.clone())?;
        before
            .same_after(&after, counted.count)
            .map_err(|what| anyhow!("{what}; it was not read as one file"))
            .with_context(|| shown.clone())?;
    }
    Ok((read, before.map(|b| b.id)))
}

/// What a regular input file looked like, to tell whether it changed while
/// it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Snapshot {
    id: FileId,
    size: u64,
    /// Where reading starts (standard input may be part-read already).
    start: u64,
    changed: (i64, i64),
}

/// The snapshot of `file`, opened for `source`, when it is a regular file;
/// `None` for a stream. A folder is an error.
fn snapshot(file: &File, source: &Source) -> anyhow::Result<Option<Snapshot>> {
    let metadata = match file.metadata() {
        Ok(metadata) => metadata,
        // A pipe or a console that the system cannot describe (Windows
        // cannot, for some) is read as the stream it is.
        Err(_) if matches!(source, Source::Stdin) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    if metadata.is_dir() {
        bail!("is a folder, not a polymer file");
    }
    Ok(match metadata.is_file() {
        true => Some(Snapshot::of(&metadata, file)?),
        false => None,
    })
}

impl Snapshot {
    fn of(metadata: &std::fs::Metadata, file: &File) -> io::Result<Snapshot> {
        use std::io::Seek as _;
        let start = (&*file).stream_position().unwrap_or(0);
        Ok(Snapshot {
            id: FileId::of(file)?,
            size: metadata.len(),
            start: start.min(metadata.len()),
            changed: sys::fs::change_time(metadata),
        })
    }

    /// How many bytes a whole read gives.
    fn unread(&self) -> u64 {
        self.size - self.start
    }

    /// Whether `after`, seen once `read` bytes were read, is the same file
    /// unchanged; what changed, when not.
    fn same_after(&self, after: &Snapshot, read: u64) -> Result<(), String> {
        if after.size != self.size {
            return Err(format!(
                "it changed size while it was read ({} bytes when opened, {} after)",
                self.size, after.size
            ));
        }
        if after.changed != self.changed || after.id != self.id {
            return Err("it was changed while it was read".to_string());
        }
        if read != self.unread() {
            return Err(format!(
                "{read} bytes were read where its size says {}",
                self.unread()
            ));
        }
        Ok(())
    }
}

/// A reader that counts the bytes it gave.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Maps the input read-only when it is a file whose bytes can never change
/// (a sealed in-memory file, as orchestrate hands its local children on
/// standard input), so it is read in place instead of copied; `None` for
/// any other input. Reads nothing: the input is still whole for [`load`].
pub fn map_sealed(source: &Source) -> anyhow::Result<Option<Mapped>> {
    let file = match source {
        Source::Stdin => match sys::fs::duplicate_stdin() {
            Ok(file) => file,
            Err(_) => return Ok(None),
        },
        // Without blocking: a FIFO is opened, seen not to be sealed, and
        // left to `load`.
        Source::Path(path) => match sys::fs::open_unblocking(path) {
            Ok(file) => file,
            Err(_) => return Ok(None),
        },
    };
    Mapped::of(&file).with_context(|| format!("could not read {source}"))
}

/// Reads a whole polymer, validating each piece as it lands (see
/// [`Arriving`]): a stream that is not a polymer stops at its first bad
/// byte, and a valid one is checked in the same pass that reads it. A file's
/// size is known: one buffer (on huge pages, see [`memory`]) and one byte
/// more to see its end.
fn read_polymer(
    mut reader: impl Read,
    size_hint: usize,
) -> io::Result<Result<Polymer, InvalidUnit>> {
    const CHUNK: usize = 1 << 20;
    let buffer = memory::buffer(size_hint.saturating_add(1)).ok_or_else(|| out_of_memory(0))?;
    let mut arriving = Arriving::new(buffer);
    while !arriving.is_refused() {
        if arriving.len() == arriving.capacity() {
            let more = arriving.capacity().max(CHUNK);
            arriving
                .try_reserve(more)
                .map_err(|_| out_of_memory(arriving.len()))?;
            memory::advise_huge_pages(arriving.spare_capacity());
        }
        let mut room = (arriving.capacity() - arriving.len()).min(CHUNK);
        // Reads that land aligned are copied fast (see `READ_ALIGN`): where
        // the buffer is not, one read ends where it is. Not a short one:
        // standard input's 8 KiB buffer would take it, and every read
        // after would land where it did.
        let misaligned = arriving.spare_capacity().as_ptr().addr() % READ_ALIGN;
        if misaligned != 0 {
            room = room.min(CHUNK - misaligned);
        }
        if arriving.read_from(&mut reader, room)? == 0 {
            break;
        }
    }
    Ok(arriving.finish())
}

fn out_of_memory(read: usize) -> io::Error {
    memory::exhausted(format_args!(
        "after {read} bytes (the whole input must fit in memory)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_stream_of_non_letters_fails_at_its_first_byte() {
        let read = read_polymer(io::repeat(0), 0).unwrap();
        assert_eq!(read, Err(InvalidUnit { offset: 0, byte: 0 }));
    }

    #[test]
    fn a_stream_longer_than_its_size_hint_is_read_whole() {
        let units = b"abcDE".repeat(500_000);
        for hint in [0, 10, units.len() - 1, units.len(), units.len() + 10] {
            let read = read_polymer(&units[..], hint).unwrap().unwrap();
            assert_eq!(read.units(), &units[..], "hint {hint}");
        }
    }

    /// Reads `content` from a file through [`read_source`], with `meddle`
    /// run on the file's path once `after` bytes were read.
    fn read_meddled(content: &[u8], after: usize, meddle: impl FnOnce(&Path)) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, content).unwrap();
        let source = Source::Path(path.clone());
        let read = read_source(&source, |reader, _| {
            let mut first = vec![0; after];
            reader.read_exact(&mut first)?;
            meddle(&path);
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest)?;
            Ok(Ok(first.len() + rest.len()))
        });
        match read {
            Ok((n, _)) => format!("read {n}"),
            Err(err) => format!("{err:#}"),
        }
    }

    #[test]
    fn an_input_cut_short_while_it_is_read_is_an_error_not_an_answer() {
        let said = read_meddled(&[b'a'; 4096], 2048, |path| {
            File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_len(1024)
                .unwrap();
        });
        assert!(
            said.starts_with("could not read ")
                && said.ends_with(
                    "in.txt: it changed size while it was read (4096 bytes when opened, \
                     1024 after); it was not read as one file"
                ),
            "{said}"
        );
    }

    #[test]
    fn an_input_that_grows_while_it_is_read_is_an_error() {
        let said = read_meddled(&[b'a'; 4096], 100, |path| {
            use std::io::Write as _;
            let mut file = File::options().append(true).open(path).unwrap();
            file.write_all(b"bbbb").unwrap();
        });
        assert!(said.contains("changed size while it was read"), "{said}");
    }

    #[test]
    fn an_input_left_alone_is_read_whole() {
        assert_eq!(read_meddled(&[b'a'; 4096], 100, |_| {}), "read 4096");
    }

    #[test]
    fn a_read_that_ends_short_of_the_size_is_an_error_even_if_the_file_looks_the_same() {
        let snapshot = Snapshot {
            id: FileId {
                device: 1,
                inode: 2,
            },
            size: 100,
            start: 0,
            changed: (5, 6),
        };
        assert_eq!(snapshot.same_after(&snapshot, 100), Ok(()));
        assert_eq!(
            snapshot.same_after(&snapshot, 60),
            Err("60 bytes were read where its size says 100".into())
        );
        let touched = Snapshot {
            changed: (5, 7),
            ..snapshot
        };
        assert_eq!(
            snapshot.same_after(&touched, 100),
            Err("it was changed while it was read".into())
        );
    }

    #[test]
    fn odd_paths_stay_on_one_line() {
        let source = Source::Path(PathBuf::from("a\nb.txt"));
        assert_eq!(source.to_string(), "a\\nb.txt");
    }
}
