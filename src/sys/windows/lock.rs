//! Locks on files (`LockFileEx`, through the standard library): held by
//! the open file, and released by the system when the process that holds
//! it ends, however it ends. Unlike an `flock`, such a lock also keeps
//! other processes from reading the locked bytes.
//!
//! Not here: what a lock means (`orchestrator`).

use std::fs::File;
use std::io;

use super::fs::FileId;

/// Takes an exclusive lock on `file` without waiting: an error when
/// another open file holds it.
pub fn try_lock(file: &File) -> io::Result<()> {
    file.try_lock().map_err(|err| match err {
        std::fs::TryLockError::Error(err) => err,
        std::fs::TryLockError::WouldBlock => io::ErrorKind::WouldBlock.into(),
    })
}

/// A folder's lock, taken by [`try_lock_folder`]: a hidden file in the
/// folder (`.orchestrate.lock`) that this process holds open with no
/// sharing at all, so no other process can open it, and that the system
/// removes when it is closed (`FILE_FLAG_DELETE_ON_CLOSE`): when this lock
/// is dropped, or the process ends however it ends. (Windows cannot lock a
/// folder itself.)
#[derive(Debug)]
pub struct FolderLock(#[allow(dead_code, reason = "held for its handle")] File);

/// The name of the file that holds a folder's lock.
const FOLDER_LOCK_FILE: &str = ".orchestrate.lock";

/// Takes an exclusive lock on the folder open as `folder` without waiting:
/// an error when another process holds it.
pub fn try_lock_folder(folder: &File) -> io::Result<FolderLock> {
    use std::os::windows::fs::OpenOptionsExt;
    use windows_sys::Win32::Foundation::{ERROR_SHARING_VIOLATION, GENERIC_READ, GENERIC_WRITE};
    use windows_sys::Win32::Storage::FileSystem::{
        DELETE, FILE_ATTRIBUTE_HIDDEN, FILE_FLAG_DELETE_ON_CLOSE,
    };
    let path = super::fs::folder_path(folder)?.join(FOLDER_LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .access_mode(GENERIC_READ | GENERIC_WRITE | DELETE)
        .create(true)
        .share_mode(0)
        .attributes(FILE_ATTRIBUTE_HIDDEN)
        .custom_flags(FILE_FLAG_DELETE_ON_CLOSE)
        .open(path)
        .map_err(|err| {
            // Held by another process: the lock is taken.
            match err.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32) {
                true => io::ErrorKind::WouldBlock.into(),
                false => err,
            }
        })?;
    Ok(FolderLock(file))
}

/// Whether a process holds the lock of the folder `dir` ([`try_lock_folder`]):
/// its lock file exists only while a process holds it open (the system
/// removes it when that process closes it or ends). It is looked at, never
/// opened, so looking cannot make a run that starts meanwhile find its
/// folder taken. Which process holds it, Windows does not say.
pub fn folder_holder(dir: &std::path::Path) -> io::Result<crate::sys::lock::Holder> {
    use crate::sys::lock::Holder;
    match dir.join(FOLDER_LOCK_FILE).symlink_metadata() {
        Ok(_) => Ok(Holder::Unknown),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Holder::Free),
        Err(err) => Err(err),
    }
}

/// An error always: Windows has no table of locks to read (the caller
/// falls back on the pid the holder wrote down).
pub fn holder(_file: FileId) -> io::Result<Option<u32>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows has no table of locks",
    ))
}
