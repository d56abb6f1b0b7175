//! Who holds a lock: macOS has no table of locks to read, so it is never
//! known from the lock itself.
//!
//! Not here: taking a lock (`unix::lock`), or what holding one means
//! (`orchestrator::status`).

use std::io;

use crate::sys::unix::fs::FileId;

/// An error always: there is no table of locks to read (the caller falls
/// back on the pid the holder wrote down).
pub fn folder_holder(_dir: &std::path::Path) -> io::Result<crate::sys::lock::Holder> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "macOS has no table of locks",
    ))
}

/// An error always: there is no table of locks to read (the caller falls
/// back on the pid the holder wrote down).
pub fn holder(_file: FileId) -> io::Result<Option<u32>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "macOS has no table of locks",
    ))
}
