//! Taking a lock on a file (`flock`): held by the open file, so for as long
//! as the file is open, and released by the kernel when the process that
//! holds it ends, however it ends.
//!
//! Not here: who holds a lock (`linux::lock`), or what a lock means
//! (`orchestrator`).

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Takes an exclusive lock on `file` without waiting: an error when
/// another open file holds it.
pub fn try_lock(file: &File) -> io::Result<()> {
    // SAFETY: flock on a descriptor we own, with integer arguments only.
    match unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// A folder's lock, taken by [`try_lock_folder`]: here the `flock` on the
/// folder's open file, which lasts as long as that file is open.
#[derive(Debug)]
pub struct FolderLock(());

/// Takes an exclusive lock on the folder open as `folder` without waiting
/// (an `flock` on it): an error when another open file holds it.
pub fn try_lock_folder(folder: &File) -> io::Result<FolderLock> {
    try_lock(folder)?;
    Ok(FolderLock(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_held_through_one_open_file_is_refused_to_another_until_it_closes() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let first = File::open(file.path()).unwrap();
        let second = File::open(file.path()).unwrap();
        try_lock(&first).unwrap();
        assert!(try_lock(&second).is_err());
        drop(first);
        try_lock(&second).unwrap();
    }
}
