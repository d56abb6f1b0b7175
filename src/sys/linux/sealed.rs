//! A file that cannot change: an in-memory file (`memfd`) that its writer
//! seals once it is written, so that no one can write to it, shrink it or
//! grow it again. That is what makes it safe to read in place through a
//! read-only mapping: the bytes under a `&[u8]` can never change, and no
//! page of the mapping can be cut off (which would kill the reader with
//! `SIGBUS`). Orchestrate hands its local children the polymer this way,
//! on their standard input; every child shares the one copy instead of
//! reading its own.
//!
//! Not here: what the bytes mean (`polymer`, `input`), or in-memory files
//! that are not sealed (`linux::fs`).

use std::fs::File;
use std::io;
use std::path::PathBuf;

/// Creates an empty in-memory file that can be sealed, closed on exec.
pub fn create(name: &std::ffi::CStr) -> io::Result<File> {
    use std::os::fd::FromRawFd;
    // SAFETY: `name` is a NUL-terminated string; the flags are constants.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Writes `bytes` at `offset` of `file` (made by [`create`], not sealed
/// yet), growing it as needed.
pub fn write_at(file: &File, offset: usize, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(bytes, offset as u64)
}

/// The seals that make a file's bytes fixed for good.
const FIXED: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK;

/// Seals `file` (made by [`create`], written) against any change: writing,
/// shrinking, growing, and further sealing.
pub fn seal(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let seals = FIXED | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A path by which this process can open `file` afresh (`/proc/self/fd/<n>`):
/// a new open file description, with an offset of its own, which can be
/// handed to a child as its standard input.
pub fn path_for_self(file: &File) -> PathBuf {
    super::fs::path_to_open_file(file)
}

/// The bytes of a sealed file, mapped read-only.
pub struct Mapped {
    start: std::ptr::NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// Maps `file` read-only if its bytes can never change (it is sealed
    /// against writing and shrinking) and it is not empty; `None` for any
    /// other file, which the caller reads as usual.
    pub fn of(file: &File) -> io::Result<Option<Mapped>> {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own, with integer arguments only.
        let seals = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
        // Files that cannot be sealed (every file but a memfd) say EINVAL.
        if seals < 0 || seals & FIXED != FIXED {
            return Ok(None);
        }
        // Read after the seals: the size can no longer shrink below this.
        let Ok(len) = usize::try_from(file.metadata()?.len()) else {
            return Ok(None);
        };
        if len == 0 {
            return Ok(None);
        }
        // SAFETY: a new read-only shared mapping of `len` bytes of `fd`,
        // placed by the kernel; no existing memory is affected.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let start = std::ptr::NonNull::new(start.cast()).ok_or(io::ErrorKind::Other)?;
        Ok(Some(Mapped { start, len }))
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `start` is a live mapping of `len` readable bytes (made in
        // `of`, unmapped only on drop, so not while this borrow lives). The
        // file behind it is sealed against writing, so no write(2) and no
        // writable shared mapping can change its bytes (the kernel refuses
        // the write seal while such a mapping exists), and against
        // shrinking, so every page stays backed. The bytes are therefore
        // initialised and unchanging for the borrow, as `&[u8]` requires.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `of`; no borrow of it
        // outlives `self`.
        unsafe {
            libc::munmap(self.start.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_sealed_file_is_mapped_and_cannot_change() {
        let mut file = create(c"test").unwrap();
        file.write_all(b"dabAcCaCBAcCcaDA\n").unwrap();
        assert!(Mapped::of(&file).unwrap().is_none(), "not sealed yet");
        seal(&file).unwrap();
        let mapped = Mapped::of(&file).unwrap().expect("sealed");
        assert_eq!(mapped.bytes(), b"dabAcCaCBAcCcaDA\n");
        assert!(file.write_all(b"x").is_err(), "writing is refused");
        assert!(file.set_len(3).is_err(), "shrinking is refused");
        let reopened = File::open(path_for_self(&file)).unwrap();
        assert_eq!(std::fs::read(path_for_self(&file)).unwrap(), mapped.bytes());
        assert!(Mapped::of(&reopened).unwrap().is_some());
    }

    #[test]
    fn ordinary_and_empty_files_are_not_mapped() {
        let ordinary = tempfile::tempfile().unwrap();
        (&ordinary).write_all(b"abc").unwrap();
        assert!(Mapped::of(&ordinary).unwrap().is_none());
        let empty = create(c"empty").unwrap();
        seal(&empty).unwrap();
        assert!(Mapped::of(&empty).unwrap().is_none());
    }
}
