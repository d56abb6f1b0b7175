//! Files, as only Linux has them: a file's type checked through an
//! `O_PATH` handle before it is opened, a path by which a process reaches
//! its own open file (`/proc/self/fd/N`), a rename that never replaces,
//! holes punched into a file, and in-memory files.
//!
//! Not here: what any Unix can do with files (`unix::fs`), sealed
//! in-memory files (`linux::sealed`), or what the files hold (`files`,
//! `protocol`).

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::fs::Opened;
use crate::sys::unix::fs::{FileId, open_unblocking, open_unblocking_nofollow};

/// Opens `path` for reading, never following a symlink and never blocking
/// (a FIFO cannot hang the reader), and only if it is a regular file: its
/// type is checked before it is opened for reading (through an `O_PATH`
/// handle, which runs no driver's open), so a device planted under the
/// name is never opened.
pub fn open_regular_nofollow(path: &Path) -> io::Result<Opened> {
    use std::os::unix::fs::OpenOptionsExt as _;
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
    // Reopened through the handle's link in /proc, which leads to the very
    // file whose type was checked, whatever the path names now.
    let file = match open_unblocking(&path_to_open_file(&handle)) {
        Ok(file) => file,
        // No /proc: by the path again, and the same file checked for.
        Err(_) => open_unblocking_nofollow(path)?,
    };
    let opened = file.metadata()?;
    if !opened.is_file() || FileId::described(&opened) != FileId::described(&seen) {
        return Ok(Opened::NotRegular("not a regular file"));
    }
    Ok(Opened::Regular(file))
}

/// A path by which this process can open `file` afresh (`/proc/self/fd/<n>`):
/// a new open file description, with an offset of its own; for a folder, a
/// path to the files in it that no symlink swapped in for the folder can
/// redirect.
pub fn path_to_open_file(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Renames `from` to `to`, failing if `to` exists (even an empty folder
/// someone made under that name).
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    let from = CString::new(from.as_os_str().as_bytes())?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // Through the system call rather than its wrapper, which musl's C
    // library does not have (a static build links against musl).
    // SAFETY: renameat2 with NUL-terminated paths and integer arguments.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Gives back the storage of the first `len` bytes of `file` (they read as
/// zeros from then on), keeping its size. A failure leaves the file as it
/// was, and is ignored.
pub fn punch_hole(file: &File, len: u64) {
    let Ok(len) = libc::off_t::try_from(len) else {
        return;
    };
    // SAFETY: fallocate on a descriptor we own, integer arguments only.
    unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            0,
            len,
        );
    }
}

/// A new, empty file in memory (`memfd`), closed on exec; `name` shows in
/// `/proc` only. Creating one costs no disk and no folder.
pub fn memory_file(name: &CStr) -> io::Result<File> {
    // SAFETY: `name` is a NUL-terminated string; on success the kernel
    // returns a new file descriptor that nothing else owns.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, valid descriptor owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}
