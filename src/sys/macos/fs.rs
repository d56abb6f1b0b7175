//! Files, as macOS has them: a file's type checked before it is opened, a
//! file's path from its descriptor (`F_GETPATH`), a rename that never
//! replaces (`renamex_np`), holes punched into a file (`F_PUNCHHOLE`), and
//! unnamed temporary files where Linux has in-memory ones.
//!
//! Not here: what any Unix can do with files (`unix::fs`), or what the
//! files hold (`files`, `protocol`).

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::fs::Opened;
use crate::sys::unix::fs::{FileId, open_unblocking_nofollow};

/// Opens `path` for reading, never following a symlink and never blocking
/// (a FIFO cannot hang the reader), and only if it is a regular file. Its
/// type is looked at before it is opened and checked again on the open
/// file; macOS has no `O_PATH`, so a device swapped in between the two is
/// opened (and then refused), where Linux would not open it at all.
pub fn open_regular_nofollow(path: &Path) -> io::Result<Opened> {
    let seen = match std::fs::symlink_metadata(path) {
        Ok(seen) => seen,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(err) => return Err(err),
    };
    if seen.file_type().is_symlink() {
        return Ok(Opened::NotRegular("a symlink, not a regular file"));
    }
    if !seen.is_file() {
        return Ok(Opened::NotRegular("not a regular file"));
    }
    let file = open_unblocking_nofollow(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() || FileId::described(&opened) != FileId::described(&seen) {
        return Ok(Opened::NotRegular("not a regular file"));
    }
    Ok(Opened::Regular(file))
}

/// The path of the file or folder open as `file`, where it is now
/// (`F_GETPATH`); an empty path, which names nothing, when the system
/// does not say (the file was removed).
pub fn path_to_open_file(file: &File) -> PathBuf {
    let mut buffer = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: F_GETPATH writes at most PATH_MAX bytes, NUL included, into
    // the buffer we own, which holds PATH_MAX.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETPATH, buffer.as_mut_ptr()) };
    if rc != 0 {
        return PathBuf::new();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    buffer.truncate(end);
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(buffer))
}

/// Renames `from` to `to`, failing if `to` exists (even an empty folder
/// someone made under that name).
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    let from = CString::new(from.as_os_str().as_bytes())?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: renamex_np with NUL-terminated paths and a flag.
    match unsafe { libc::renamex_np(from.as_ptr(), to.as_ptr(), libc::RENAME_EXCL) } {
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
    let hole = libc::fpunchhole_t {
        fp_flags: 0,
        reserved: 0,
        fp_offset: 0,
        fp_length: len,
    };
    // SAFETY: F_PUNCHHOLE on a descriptor we own reads the struct we pass
    // by reference and writes nothing.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_PUNCHHOLE, &hole) };
}

/// A new, empty, unnamed temporary file (macOS has no in-memory files):
/// removed from its folder at once, so it goes when its last handle
/// closes. `name` is not used.
pub fn memory_file(_name: &CStr) -> io::Result<File> {
    tempfile::tempfile()
}
