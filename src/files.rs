//! Writing files that other people and programs read: result files, job
//! logs, timelines.
//!
//! A regular file is replaced atomically: the content goes to a temporary
//! file in the same folder, which is renamed into place, so a reader sees
//! the old file or the whole new one, and a failure leaves nothing behind.
//! Anything else (a device such as `/dev/stdout` or `/dev/null`, a FIFO, or
//! a symlink to one) is written in place: replacing it would destroy it.
//!
//! Not here: what the files hold (`protocol`, `report`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use tempfile::NamedTempFile;

/// The folder a file goes in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// What tells one file from another: its device and inode (the same
/// through a symlink or a hard link).
type Identity = (u64, u64);

fn identity_of(metadata: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

/// Where an input comes from, for [`check_outputs`]: a path, or standard
/// input (`-`).
pub fn input_identity(input: &Path) -> Option<Identity> {
    if input.as_os_str() == "-" {
        let stdin = std::io::stdin();
        let metadata = std::os::fd::AsFd::as_fd(&stdin).try_clone_to_owned().ok()?;
        return File::from(metadata)
            .metadata()
            .ok()
            .map(|m| identity_of(&m));
    }
    std::fs::metadata(input).ok().map(|m| identity_of(&m))
}

/// Refuses outputs that would land on the input or on each other, before
/// anything is written: `outputs` are (what names it, its path, whether to
/// compare it with the input). A path that does not exist yet clashes only
/// with the same path (its folder resolved), a regular file that does with
/// the same file (device and inode, through symlinks and hard links). A
/// device or FIFO is written where it is, and clashes with nothing.
pub fn check_outputs(
    input: Option<Identity>,
    outputs: &[(&str, &Path, bool)],
) -> anyhow::Result<()> {
    let place = |path: &Path| -> Option<Result<Identity, PathBuf>> {
        match std::fs::metadata(path) {
            Ok(metadata) if !metadata.is_file() => None,
            Ok(metadata) => Some(Ok(identity_of(&metadata))),
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

/// A path for error lines: escaped, so a newline in it cannot split the line.
pub fn shown(path: &Path) -> String {
    path.display().to_string().escape_debug().to_string()
}

/// What opening a file that someone else wrote found.
#[derive(Debug)]
pub enum Opened {
    Missing,
    /// Not a regular file: a symlink, a FIFO, a device, a folder.
    NotRegular(&'static str),
    Regular(File),
}

/// Opens a file that another program (a child, a task, an earlier run)
/// wrote, never following a symlink and never blocking (a FIFO cannot hang
/// the reader), and only if it is a regular file: its type is checked
/// before it is opened for reading (through an `O_PATH` handle, which runs
/// no driver's open), so a device planted under the name is never opened.
pub fn open_regular(path: &Path) -> io::Result<Opened> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path);
    let handle = match handle {
        Ok(handle) => handle,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(err) => return Err(err),
    };
    let seen = handle.metadata()?;
    if seen.file_type().is_symlink() {
        return Ok(Opened::NotRegular("a symlink, not a regular file"));
    }
    if !seen.is_file() {
        return Ok(Opened::NotRegular("not a regular file"));
    }
    let flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    // Reopened through the handle's link in /proc, which leads to the very
    // file whose type was checked, whatever the path names now.
    let reopened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    let file = match reopened {
        Ok(file) => file,
        // No /proc: by the path again, and the same file checked for.
        Err(_) => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags | libc::O_NOFOLLOW)
            .open(path)?,
    };
    let opened = file.metadata()?;
    if !opened.is_file() || (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
        return Ok(Opened::NotRegular("not a regular file"));
    }
    Ok(Opened::Regular(file))
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
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o644))
        .prefix(".partial-")
        .tempfile_in(dir)
}

/// What is under `name` in the folder open as `dir`, when it is something
/// other than a regular file ("a symlink", "a folder", "not a regular
/// file"); `None` for a regular file or nothing. Links are not followed.
pub fn not_regular_at(dir: &File, name: &str) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: fstatat with a descriptor we own and a NUL-terminated name,
    // writing only into `stat`, which we own.
    let stat = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        let rc = libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut stat,
            libc::AT_SYMLINK_NOFOLLOW,
        );
        (rc == 0).then_some(stat)
    }?;
    match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => None,
        libc::S_IFLNK => Some("a symlink"),
        libc::S_IFDIR => Some("a folder"),
        _ => Some("not a regular file"),
    }
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
    use std::hash::{BuildHasher, Hasher};
    use std::os::fd::{AsRawFd, FromRawFd};
    let context = || format!("could not write {}", shown(shown_as));
    let token = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let staged = CString::new(format!(".partial-{token:016x}")).with_context(context)?;
    let final_name = CString::new(name).with_context(context)?;
    let (from, to) = (staging.as_raw_fd(), dir.as_raw_fd());
    // SAFETY: openat with a descriptor we own and a NUL-terminated name; on
    // success the new descriptor is owned by nothing else.
    let staged_fd = unsafe {
        libc::openat(
            from,
            staged.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if staged_fd < 0 {
        return Err(io::Error::last_os_error()).with_context(context);
    }
    // SAFETY: `staged_fd` is a fresh descriptor nothing else owns.
    let mut file = unsafe { File::from_raw_fd(staged_fd) };
    let written = file.write_all(content).and_then(|()| {
        // SAFETY: renameat with descriptors we own and NUL-terminated
        // names.
        match unsafe { libc::renameat(from, staged.as_ptr(), to, final_name.as_ptr()) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    });
    if written.is_err() {
        // SAFETY: unlinkat with a descriptor we own and a NUL-terminated name.
        unsafe { libc::unlinkat(from, staged.as_ptr(), 0) };
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
        if let Some(fd) = descriptor_named(path) {
            // The user's own descriptor, as it is (its offset, append mode):
            // `-o /dev/stdout > file` writes into the file the shell opened.
            let file = duplicate(fd).with_context(|| format!("could not write {shown}"))?;
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
                open_in_place(path)
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

/// A copy of descriptor `fd` of this process, if it is open.
fn duplicate(fd: std::os::fd::RawFd) -> io::Result<File> {
    use std::os::fd::FromRawFd;
    // SAFETY: fcntl with integer arguments only; a descriptor that is not
    // open is EBADF.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(copy) })
}

/// The descriptor of this process that `path` names, if it names one:
/// `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`, or a
/// symlink that leads to one of these. Such a path is the descriptor as it
/// is open, not the file it leads to: replacing that file would leave the
/// descriptor writing into a file no one can reach.
fn descriptor_named(path: &Path) -> Option<std::os::fd::RawFd> {
    let named = |path: &Path| -> Option<std::os::fd::RawFd> {
        let text = path.to_str()?;
        match text {
            "/dev/stdout" => return Some(1),
            "/dev/stderr" => return Some(2),
            _ => {}
        }
        let number = text
            .strip_prefix("/dev/fd/")
            .or_else(|| text.strip_prefix("/proc/self/fd/"))
            .or_else(|| text.strip_prefix("/proc/thread-self/fd/"))?;
        number.parse().ok().filter(|fd: &i32| *fd >= 0)
    };
    // A chain of symlinks, followed a link at a time as the kernel would
    // (at most 40 of them).
    let mut at = path.to_path_buf();
    for _ in 0..40 {
        if let Some(fd) = named(&at) {
            return Some(fd);
        }
        let target = std::fs::read_link(&at).ok()?;
        at = folder_of(&at).join(target);
    }
    None
}

/// Opens a non-regular file for writing without blocking: a FIFO with no
/// reader is an error (ENXIO) instead of a hang.
fn open_in_place(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    // Back to blocking writes, so that a slow reader is waited for.
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Makes a FIFO at `path`, for tests of what readers and writers do with
/// one.
#[cfg(test)]
pub(crate) fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_target_through_a_symlink_replaces_the_file_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.tsv");
        let link = dir.path().join("link.tsv");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        Target::open(&link).unwrap().write(b"new").unwrap();
        assert!(link.symlink_metadata().unwrap().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

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
            std::os::unix::fs::FileTypeExt::is_char_device(
                &Path::new("/dev/null").metadata().unwrap().file_type()
            ),
            "/dev/null is still a device"
        );
    }

    #[test]
    fn the_descriptors_paths_name_are_written_as_they_are_open() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("out");
        std::os::unix::fs::symlink("/dev/stdout", &link).unwrap();
        let case =
            |path: &Path, fd: Option<i32>| assert_eq!(descriptor_named(path), fd, "{path:?}");
        case(Path::new("/dev/stdout"), Some(1));
        case(Path::new("/dev/stderr"), Some(2));
        case(Path::new("/dev/fd/7"), Some(7));
        case(Path::new("/proc/self/fd/3"), Some(3));
        case(&link, Some(1));
        case(Path::new("/dev/null"), None);
        case(&dir.path().join("missing"), None);
    }

    #[test]
    fn a_target_naming_an_open_descriptor_writes_into_it_at_its_offset() {
        use std::io::Read as _;
        use std::os::fd::AsRawFd as _;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"before\n").unwrap();
        let path = PathBuf::from(format!("/dev/fd/{}", file.as_raw_fd()));
        Target::open(&path).unwrap().write(b"4\n").unwrap();
        let mut content = String::new();
        std::io::Seek::rewind(&mut file).unwrap();
        file.read_to_string(&mut content).unwrap();
        assert_eq!(content, "before\n4\n");
    }

    #[test]
    fn a_fifo_without_a_reader_and_a_folder_are_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
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
