//! Writing files that other people and programs read: result files, job
//! logs, timelines.
//!
//! A regular file is replaced atomically: the content goes to a temporary
//! file in the same folder, which is renamed into place, so a reader sees
//! the old file or the whole new one, and a failure leaves nothing behind.
//! Anything else (a device such as `/dev/stdout` or `/dev/null`, a FIFO, or
//! a symlink to one) is written in place: replacing it would destroy it.
//!
//! Not here: what the files hold (`protocol`, `report`), or how a file is
//! opened, created or renamed through a folder's descriptor (`sys::fs`).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use tempfile::NamedTempFile;

use crate::sys::{self, fs::FileId};

pub use crate::sys::fs::Opened;

/// The folder a file goes in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Where an input comes from, for [`check_outputs`]: a path, or standard
/// input (`-`).
pub fn input_identity(input: &Path) -> Option<FileId> {
    if input.as_os_str() == "-" {
        let stdin = sys::fs::duplicate_stdin().ok()?;
        return FileId::of(&stdin).ok();
    }
    FileId::at(input).ok()
}

/// Refuses outputs that would land on the input or on each other, before
/// anything is written: `outputs` are (what names it, its path, whether to
/// compare it with the input). A path that does not exist yet clashes only
/// with the same path (its folder resolved), a regular file that does with
/// the same file (device and inode, through symlinks and hard links). A
/// device or FIFO is written where it is, and clashes with nothing.
pub fn check_outputs(input: Option<FileId>, outputs: &[(&str, &Path, bool)]) -> anyhow::Result<()> {
    let place = |path: &Path| -> Option<Result<FileId, PathBuf>> {
        match std::fs::metadata(path) {
            Ok(metadata) if !metadata.is_file() => None,
            Ok(_) => Some(FileId::at(path).map_err(|_| path.to_path_buf())),
            Err(_) => {
                let folder = std::fs::canonicalize(folder_of(path)).ok()?;
                Some(Err(folder.join(path.file_name()?)))
            }
        }
    };
    let places: Vec<_> = outputs.iter().map(|(_, path, _)| place(path)).collect();
    for (index, ((what, path, vs_input), place)) in outputs.iter().zip(&places).enumerate() {
        let Some(place) = place else { continue };
        if *vs_input && input.is_some() && place.as_ref().ok() == input.as_ref() {
            return Err(anyhow!(
                "{what} {} is the input; nothing was written, choose another path",
                shown(path)
            ));
        }
        for ((other, other_path, _), other_place) in outputs.iter().zip(&places).skip(index + 1) {
            if other_place.as_ref() == Some(place) {
                return Err(anyhow!(
                    "{what} {} and {other} {} are the same file; nothing was written, \
                     choose two paths",
                    shown(path),
                    shown(other_path)
                ));
            }
        }
    }
    Ok(())
}

/// A path for error lines: its control characters escaped, so a newline in
/// it cannot split the line; everything else as it is (a Windows path's
/// backslashes, quotes, letters of any script).
pub fn shown(path: &Path) -> String {
    path.display()
        .to_string()
        .chars()
        .map(|c| match c.is_control() {
            true => c.escape_debug().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// Opens a file that another program (a child, a task, an earlier run)
/// wrote, never following a symlink and never blocking (a FIFO cannot hang
/// the reader), and only if it is a regular file, whose type is checked
/// before it is opened for reading, so a device planted under the name is
/// never opened (see `sys::fs::open_regular_nofollow`).
pub fn open_regular(path: &Path) -> io::Result<Opened> {
    sys::fs::open_regular_nofollow(path)
}

/// The content of a small file another program wrote, read as
/// [`open_regular`] opens it, or `None` when it is missing, not a regular
/// file, or longer than `limit` bytes.
pub fn read_small(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let Ok(Opened::Regular(file)) = open_regular(path) else {
        return None;
    };
    let mut content = Vec::new();
    file.take(limit + 1).read_to_end(&mut content).ok()?;
    (content.len() as u64 <= limit).then_some(content)
}

/// A temporary file in `dir`, readable like any file the user writes (not
/// private like a usual temporary file), removed on drop unless persisted.
fn staging_file(dir: &Path) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    if let Some(permissions) = sys::fs::readable_by_all() {
        builder.permissions(permissions);
    }
    builder.prefix(".partial-").tempfile_in(dir)
}

/// What is under `name` in the folder open as `dir`, when it is something
/// other than a regular file ("a symlink", "a folder", "not a regular
/// file"); `None` for a regular file or nothing. Links are not followed.
pub fn not_regular_at(dir: &File, name: &str) -> Option<&'static str> {
    let name = std::ffi::CString::new(name).ok()?;
    match sys::fs::kind_at(dir, &name)? {
        sys::fs::EntryKind::Regular => None,
        sys::fs::EntryKind::Symlink => Some("a symlink"),
        sys::fs::EntryKind::Folder => Some("a folder"),
        sys::fs::EntryKind::Other => Some("not a regular file"),
    }
}

/// 64 random bits, different on each call (the standard library's hasher
/// keys, seeded from the system's randomness): the one source of the
/// names that no other process may guess (staged files, an attempt's
/// result, a run's folders).
pub fn random_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Writes `content` to `name` in the folder open as `dir`, atomically:
/// staged in the folder open as `staging` (on the same filesystem; a
/// folder of the run's own, so nothing staged is ever in a name someone
/// else could own) and renamed into place, through the folders'
/// descriptors: a folder renamed, or replaced by a symlink to another,
/// under its path while a run goes on is still the one written, and the
/// other is never touched. `shown_as` names the file in errors.
pub fn write_atomically_at(
    staging: &File,
    dir: &File,
    name: &str,
    content: &[u8],
    shown_as: &Path,
) -> anyhow::Result<()> {
    use std::ffi::CString;
    let context = || format!("could not write {}", shown(shown_as));
    let staged = CString::new(format!(".partial-{:016x}", random_token())).with_context(context)?;
    let final_name = CString::new(name).with_context(context)?;
    let mut file = sys::fs::create_new_at(staging, &staged).with_context(context)?;
    let written = file
        .write_all(content)
        .and_then(|()| sys::fs::rename_at(staging, &staged, dir, &final_name));
    if written.is_err() {
        let _ = sys::fs::remove_at(staging, &staged);
    }
    written.with_context(context)
}

/// Writes `content` to `path` through a temporary file in `staging` (which
/// must be on the same filesystem as `path`), renamed into place.
pub fn write_atomically_via(staging: &Path, path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let context = || format!("could not write {}", shown(path));
    let mut file = staging_file(staging).with_context(context)?;
    file.write_all(content).with_context(context)?;
    file.persist(path)
        .map_err(|err| err.error)
        .with_context(context)?;
    Ok(())
}

/// Writes `content` to `path` atomically, staging it in `path`'s own folder.
pub fn write_atomically(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    write_atomically_via(folder_of(path), path, content)
}

/// An output file named on the command line, checked before any work is
/// done so that a bad path costs nothing, and written at the end.
#[derive(Debug)]
pub struct Target {
    path: PathBuf,
    how: How,
}

#[derive(Debug)]
enum How {
    /// A regular file (or none yet): staged beside it when written,
    /// renamed into place. Nothing is staged while the run goes on, so a
    /// run killed outright leaves nothing beside it (only one killed in the
    /// instant between staging and renaming could).
    Replace(PathBuf),
    /// A device, FIFO or socket: written where it is.
    InPlace(File),
    /// A file in folders that do not exist yet: they are made, and the
    /// file staged in them, only when there is something to write, so a
    /// run that fails first leaves no folder behind.
    InNewFolders(PathBuf),
}

impl Target {
    /// Checks that `path` can be written, and prepares to write it.
    pub fn open(path: &Path) -> anyhow::Result<Target> {
        let shown = shown(path);
        if let Some(file) = sys::fs::open_descriptor_named(path) {
            // The user's own descriptor, as it is (its offset, append mode):
            // `-o /dev/stdout > file` writes into the file the shell opened.
            let file = file.with_context(|| format!("could not write {shown}"))?;
            return Ok(Target {
                path: path.to_path_buf(),
                how: How::InPlace(file),
            });
        }
        let how = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                return Err(anyhow!("could not write {shown}: it is a folder"));
            }
            Ok(meta) if !meta.is_file() => How::InPlace(
                sys::fs::open_unblocking_for_writing(path)
                    .with_context(|| format!("could not open {shown} for writing"))?,
            ),
            Ok(_) => {
                // Through a symlink, the file it points to is replaced and
                // the link kept.
                let dest = std::fs::canonicalize(path)
                    .with_context(|| format!("could not resolve {shown}"))?;
                How::Replace(probed(dest).with_context(|| format!("could not write {shown}"))?)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => How::Replace(
                probed(path.to_path_buf()).with_context(|| format!("could not write {shown}"))?,
            ),
            Err(err) => return Err(err).with_context(|| format!("could not write {shown}")),
        };
        Ok(Target {
            path: path.to_path_buf(),
            how,
        })
    }

    /// As [`Target::open`], and where `path`'s folder does not exist,
    /// makes it (and those above it) when the file is written.
    pub fn open_making_folders(path: &Path) -> anyhow::Result<Target> {
        if folder_of(path).symlink_metadata().is_err() {
            return Ok(Target {
                path: path.to_path_buf(),
                how: How::InNewFolders(path.to_path_buf()),
            });
        }
        Target::open(path)
    }

    /// Writes the whole `content`, replacing what was there.
    pub fn write(self, content: &[u8]) -> anyhow::Result<()> {
        let context = || format!("could not write {}", shown(&self.path));
        match self.how {
            How::Replace(dest) => {
                let mut staged = staging_file_for(folder_of(&dest)).with_context(context)?;
                // Through the file itself: the error then names the target,
                // not the staged file's path.
                staged
                    .as_file_mut()
                    .write_all(content)
                    .with_context(context)?;
                staged
                    .persist(&dest)
                    .map_err(|err| err.error)
                    .with_context(context)?;
            }
            How::InPlace(mut file) => {
                write_unless_stopped(&mut file, content).with_context(context)?;
            }
            How::InNewFolders(path) => {
                let folder = folder_of(&path);
                std::fs::create_dir_all(folder)
                    .with_context(|| format!("could not create folder {}", shown(folder)))?;
                Target::open(&path)?.write(content)?;
            }
        }
        Ok(())
    }
}

/// Writes all of `content`, unless a call is interrupted: the stop
/// handlers interrupt calls instead of restarting them (see `signals`), so
/// a write into a FIFO or a pipe nobody reads ends at a stop signal
/// instead of waiting on (`write_all` would restart it).
pub fn write_unless_stopped(out: &mut impl Write, mut content: &[u8]) -> io::Result<()> {
    while !content.is_empty() {
        match out.write(content) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => content = &content[n..],
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "interrupted by a stop signal",
                ));
            }
            Err(err) => return Err(err),
        }
    }
    out.flush()
}

/// `dest`, once a file could be staged beside it (and removed again): the
/// folder exists and takes new files.
fn probed(dest: PathBuf) -> io::Result<PathBuf> {
    staging_file_for(folder_of(&dest))?.close()?;
    Ok(dest)
}

/// A temporary file in `dir` (see [`staging_file`]), whose error says only
/// what went wrong: the target names the file, not the staged one.
fn staging_file_for(dir: &Path) -> io::Result<NamedTempFile> {
    staging_file(dir).map_err(|err| {
        // tempfile says the temporary path after the system's words.
        let said = err.to_string();
        match said.split_once(" at path ") {
            Some((words, _)) => io::Error::new(err.kind(), words.to_string()),
            None => err,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_shown_on_one_line_and_otherwise_as_it_is() {
        let case = |path: &str, expected: &str| assert_eq!(shown(Path::new(path)), expected);
        case("bad\nname.txt", "bad\\nname.txt");
        case("tab\there", "tab\\there");
        case(r"C:\Users\Zoë\my input.txt", r"C:\Users\Zoë\my input.txt");
        case("it's \"quoted\"", "it's \"quoted\"");
    }

    /// A writer whose every write is interrupted after `accepting` bytes.
    struct Interrupting {
        accepting: usize,
        taken: Vec<u8>,
    }

    impl Write for Interrupting {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.accepting - self.taken.len());
            if n == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_interrupted_by_a_stop_signal_ends_instead_of_restarting() {
        let mut out = Interrupting {
            accepting: 3,
            taken: Vec::new(),
        };
        let err = write_unless_stopped(&mut out, b"12345\n").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert_eq!(err.to_string(), "interrupted by a stop signal");
        assert_eq!(out.taken, b"123");
        let mut whole = Interrupting {
            accepting: 10,
            taken: Vec::new(),
        };
        write_unless_stopped(&mut whole, b"12345\n").unwrap();
        assert_eq!(whole.taken, b"12345\n");
    }

    #[test]
    fn atomic_writes_leave_only_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        write_atomically(&path, b"4\n").unwrap();
        write_atomically(&path, b"5\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"5\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_target_through_a_symlink_replaces_the_file_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.tsv");
        let link = dir.path().join("link.tsv");
        std::fs::write(&real, "old").unwrap();
        sys::fs::symlink(&real, &link).unwrap();
        Target::open(&link).unwrap().write(b"new").unwrap();
        assert!(link.symlink_metadata().unwrap().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_written_in_place_and_its_errors_are_reported() {
        Target::open(Path::new("/dev/null"))
            .unwrap()
            .write(b"x")
            .unwrap();
        let full = Target::open(Path::new("/dev/full")).unwrap().write(b"x");
        assert!(
            format!("{:#}", full.unwrap_err()).starts_with("could not write /dev/full: "),
            "the error names the target"
        );
        assert!(
            !Path::new("/dev/null").metadata().unwrap().is_file(),
            "/dev/null is still a device, not a file put in its place"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_target_naming_an_open_descriptor_writes_into_it_at_its_offset() {
        use std::io::Read as _;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"before\n").unwrap();
        let path = sys::fs::path_to_open_file(&file);
        Target::open(&path).unwrap().write(b"4\n").unwrap();
        let mut content = String::new();
        std::io::Seek::rewind(&mut file).unwrap();
        file.read_to_string(&mut content).unwrap();
        assert_eq!(content, "before\n4\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_reader_and_a_folder_are_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        sys::fs::make_fifo(&fifo);
        assert!(Target::open(&fifo).is_err());
        let err = Target::open(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("could not write {}: it is a folder", dir.path().display())
        );
    }

    #[test]
    fn a_target_that_is_never_written_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        drop(Target::open(&dir.path().join("log.tsv")).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
