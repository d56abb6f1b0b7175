//! Files, the Unix way: a file's identity (device and inode) and change
//! time; opening without following a symlink, without waiting on a FIFO
//! and without taking a terminal; files and folders only this user may
//! read; creating, renaming and removing through a folder's descriptor;
//! positioned reads; the descriptors a path may name (`/dev/stdout`,
//! `/dev/fd/N`); a path as bytes.
//!
//! Not here: what only Linux can do with files (`linux::fs`), or when and
//! what the files are written (`files`, `protocol`, `orchestrator`).

use std::ffi::{CStr, OsStr};
use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::sys::fs::EntryKind;

/// What tells one file from another: its device and inode (the same
/// through a symlink or a hard link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub device: u64,
    pub inode: u64,
}

impl FileId {
    /// The identity of the open file `file`.
    pub fn of(file: &File) -> io::Result<FileId> {
        Ok(FileId::described(&file.metadata()?))
    }

    /// The identity of the file `path` names, through symlinks.
    pub fn at(path: &Path) -> io::Result<FileId> {
        Ok(FileId::described(&std::fs::metadata(path)?))
    }

    /// The identity of what is at `path` itself: a symlink's own.
    pub fn at_nofollow(path: &Path) -> io::Result<FileId> {
        Ok(FileId::described(&std::fs::symlink_metadata(path)?))
    }

    /// The identity of the file `metadata` describes.
    pub(in crate::sys) fn described(metadata: &std::fs::Metadata) -> FileId {
        FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// When the file `metadata` describes last changed, its content or its
/// status (seconds and nanoseconds): what moves when it is written to,
/// truncated or renamed, whatever its modification time says.
pub fn change_time(metadata: &std::fs::Metadata) -> (i64, i64) {
    (metadata.ctime(), metadata.ctime_nsec())
}

/// Standard input as a file: a new descriptor for the same open file (its
/// offset shared).
pub fn duplicate_stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?))
}

/// Standard output as a file, unbuffered: a new descriptor for the same
/// open file (its offset shared).
pub fn duplicate_stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

/// When `path` names a descriptor of this process (`/dev/stdout`,
/// `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`, or a symlink that leads
/// to one of these), a copy of that descriptor as it is open (its offset,
/// its append mode), not the file it leads to: replacing that file would
/// leave the descriptor writing into a file no one can reach.
pub fn open_descriptor_named(path: &Path) -> Option<io::Result<File>> {
    descriptor_named(path).map(duplicate)
}

/// A copy of descriptor `fd` of this process, if it is open.
fn duplicate(fd: RawFd) -> io::Result<File> {
    // SAFETY: fcntl with integer arguments only; a descriptor that is not
    // open is EBADF.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(copy) })
}

/// The descriptor of this process that `path` names, if it names one (see
/// [`open_descriptor_named`]).
fn descriptor_named(path: &Path) -> Option<RawFd> {
    let named = |path: &Path| -> Option<RawFd> {
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
        // Relative to the link's folder (`.` for a bare name).
        let folder = match at.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        at = folder.join(target);
    }
    None
}

/// Opens `path` for reading without waiting (a FIFO with no writer opens
/// at once) and without making a terminal this process's controlling one.
/// Symlinks are followed.
pub fn open_unblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
}

/// As [`open_unblocking`], and never through a symlink: a symlink under
/// `path` is an error.
pub fn open_unblocking_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
}

/// Opens a file that is not a regular one (a device, a FIFO) for writing
/// without waiting for a reader (a FIFO with no reader is an error, ENXIO,
/// instead of a hang), then makes its writes block again, so that a slow
/// reader is waited for.
pub fn open_unblocking_for_writing(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Opens the folder `path` (through symlinks), to write through it or to
/// lock it; an error for anything but a folder.
pub fn open_folder(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// Opens the folder `path`, never through a symlink; an error for anything
/// but a folder.
pub fn open_folder_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Creates the file `path` for writing, readable and writable by this user
/// only; an error if anything is there already, a symlink included.
pub fn create_private(path: &Path) -> io::Result<File> {
    File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Creates the folder `path`, which only this user may enter; an error if
/// anything is there already.
pub fn create_private_folder(path: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(path)
}

/// The permissions of a file that others read: readable by everyone,
/// writable by its owner only (0644).
pub fn readable_by_all() -> Option<Permissions> {
    Some(Permissions::from_mode(0o644))
}

/// Creates the file `name` in the folder open as `dir`, for writing,
/// readable by all (0644); an error if anything is under that name, a
/// symlink included.
pub fn create_new_at(dir: &File, name: &CStr) -> io::Result<File> {
    // SAFETY: openat with a descriptor we own and a NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Renames `from` in the folder open as `from_dir` to `to` in the folder
/// open as `to_dir` (replacing what is there), through the folders'
/// descriptors: a folder renamed or swapped under its path meanwhile is
/// still the one meant.
pub fn rename_at(from_dir: &File, from: &CStr, to_dir: &File, to: &CStr) -> io::Result<()> {
    // SAFETY: renameat with descriptors we own and NUL-terminated names.
    match unsafe {
        libc::renameat(
            from_dir.as_raw_fd(),
            from.as_ptr(),
            to_dir.as_raw_fd(),
            to.as_ptr(),
        )
    } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Removes the file `name` from the folder open as `dir`.
pub fn remove_at(dir: &File, name: &CStr) -> io::Result<()> {
    unlink_at(dir, name, 0)
}

/// Removes the empty folder `name` from the folder open as `dir`.
pub fn remove_folder_at(dir: &File, name: &CStr) -> io::Result<()> {
    unlink_at(dir, name, libc::AT_REMOVEDIR)
}

fn unlink_at(dir: &File, name: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unlinkat with a descriptor we own and a NUL-terminated name.
    match unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// What is under `name` in the folder open as `dir`, without following a
/// symlink; `None` when nothing is (or it cannot be told).
pub fn kind_at(dir: &File, name: &CStr) -> Option<EntryKind> {
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
    Some(match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => EntryKind::Regular,
        libc::S_IFLNK => EntryKind::Symlink,
        libc::S_IFDIR => EntryKind::Folder,
        _ => EntryKind::Other,
    })
}

/// Fills `buffer` from `file` at `offset`, leaving the file's offset
/// where it is (it may be shared with another process's copy).
pub fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buffer, offset)
}

/// A path as the bytes the system names it with, to send to a process
/// that makes it a path again with [`path_from_bytes`].
pub fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// A path from the bytes [`path_bytes`] gave.
pub fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

/// Opens `path` for reading, for as long as children read it. Unix has no
/// way to keep a file's owner from changing it (the sealed in-memory file
/// is what does on Linux); on Windows the handle keeps everyone else from
/// writing to it.
pub fn hold_unchanged(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Removes the file `path`.
pub fn remove_file(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)
}

/// Whether `err`, from a write, says that nobody reads the pipe any more.
pub fn is_closed_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// Makes `link` a symlink to `target`.
pub fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Makes a FIFO at `path`, for tests of what readers and writers do with
/// one.
#[cfg(test)]
pub(crate) fn make_fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// Makes `path` executable by all (0755), for tests that write a script
/// to run.
#[cfg(test)]
pub(crate) fn make_executable(path: &Path) {
    std::fs::set_permissions(path, Permissions::from_mode(0o755)).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptors_paths_name_are_written_as_they_are_open() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("out");
        symlink(Path::new("/dev/stdout"), &link).unwrap();
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
    fn what_is_under_a_name_is_told_without_following_a_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        symlink(&dir.path().join("file"), &dir.path().join("link")).unwrap();
        make_fifo(&dir.path().join("fifo"));
        let handle = File::open(dir.path()).unwrap();
        let case = |name: &CStr, kind: Option<EntryKind>| {
            assert_eq!(kind_at(&handle, name), kind, "{name:?}");
        };
        case(c"file", Some(EntryKind::Regular));
        case(c"folder", Some(EntryKind::Folder));
        case(c"link", Some(EntryKind::Symlink));
        case(c"fifo", Some(EntryKind::Other));
        case(c"missing", None);
    }
}
