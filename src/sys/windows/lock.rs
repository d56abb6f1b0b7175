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

/// An error always: Windows has no table of locks to read (the caller
/// falls back on the pid the holder wrote down).
pub fn holder(_file: FileId) -> io::Result<Option<u32>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows has no table of locks",
    ))
}
