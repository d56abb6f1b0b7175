//! Files, the Windows way: a file's identity (its volume and file index),
//! opening without following a symlink (`FILE_FLAG_OPEN_REPARSE_POINT`);
//! working in a folder through its handle by asking the system where that
//! folder is now (`GetFinalPathNameByHandleW`), so that a folder renamed
//! and replaced under its old path is still the one written; a rename that
//! never replaces; a file held so that no one can write to it; and renames
//! and removals retried for a moment while another program (a virus
//! scanner, an indexer) holds the file.
//!
//! Not here: what the files hold, or when they are written (`files`,
//! `protocol`, `orchestrator`).

use std::ffi::CStr;
use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::windows::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::windows::io::{AsHandle, AsRawHandle};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
    FILE_NAME_NORMALIZED, FILE_SHARE_READ, GetFileInformationByHandle, GetFinalPathNameByHandleW,
    MOVEFILE_WRITE_THROUGH, MoveFileExW,
};

use super::wide;
use crate::sys::fs::{EntryKind, Opened};

/// What tells one file from another: its volume's serial number and its
/// index on that volume (the same through a symlink or a hard link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub device: u64,
    pub inode: u64,
}

impl FileId {
    /// The identity of the open file `file`.
    pub fn of(file: &File) -> io::Result<FileId> {
        // SAFETY: zeroed is a valid BY_HANDLE_FILE_INFORMATION (integers
        // and FILETIMEs only), which the call fills in.
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: a handle we borrow, and a struct we own for the output.
        if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileId {
            device: u64::from(info.dwVolumeSerialNumber),
            inode: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        })
    }

    /// The identity of the file `path` names, through symlinks.
    pub fn at(path: &Path) -> io::Result<FileId> {
        FileId::opened(path, FILE_FLAG_BACKUP_SEMANTICS)
    }

    /// The identity of what is at `path` itself: a symlink's own.
    pub fn at_nofollow(path: &Path) -> io::Result<FileId> {
        FileId::opened(
            path,
            FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT,
        )
    }

    /// The identity of `path`, opened with `flags` and no access (which
    /// needs no permission to read it, and opens a folder too).
    fn opened(path: &Path, flags: u32) -> io::Result<FileId> {
        let file = OpenOptions::new()
            .access_mode(0)
            .custom_flags(flags)
            .open(path)?;
        FileId::of(&file)
    }
}

/// When the file `metadata` describes last changed: its last write time
/// (seconds and nanoseconds since 1601). Windows keeps a change time too,
/// but the standard library does not read it, so a rename alone does not
/// move this.
pub fn change_time(metadata: &std::fs::Metadata) -> (i64, i64) {
    let ticks = metadata.last_write_time();
    (
        (ticks / 10_000_000) as i64,
        ((ticks % 10_000_000) * 100) as i64,
    )
}

/// Standard input as a file: a new handle for the same open file.
pub fn duplicate_stdin() -> io::Result<File> {
    Ok(File::from(io::stdin().as_handle().try_clone_to_owned()?))
}

/// Standard output as a file, unbuffered: a new handle for the same open
/// file.
pub fn duplicate_stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_handle().try_clone_to_owned()?))
}

/// `None`: no path names a handle of this process on Windows.
pub fn open_descriptor_named(_path: &Path) -> Option<io::Result<File>> {
    None
}

/// Opens `path` for reading. (Opening never waits on Windows.)
pub fn open_unblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// As [`open_unblocking`], and never through a symlink: a symlink under
/// `path` is an error.
pub fn open_unblocking_nofollow(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    if file.metadata()?.file_type().is_symlink() {
        return Err(io::Error::other("a symlink"));
    }
    Ok(file)
}

/// Opens a file that is not a regular one (a device such as `NUL`) for
/// writing.
pub fn open_unblocking_for_writing(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).open(path)
}

/// Opens the folder `path` (through symlinks), to write through it or to
/// lock it; an error for anything but a folder.
pub fn open_folder(path: &Path) -> io::Result<File> {
    let folder = OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)?;
    if !folder.metadata()?.is_dir() {
        return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
    }
    Ok(folder)
}

/// Opens the folder `path`, never through a symlink; an error for anything
/// but a folder.
pub fn open_folder_nofollow(path: &Path) -> io::Result<File> {
    let folder = OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    let metadata = folder.metadata()?;
    if metadata.file_type().is_symlink() || !metadata.is_dir() {
        return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
    }
    Ok(folder)
}

/// Creates the file `path` for writing; an error if anything is there
/// already, a symlink included. (Who may read it is left to the folder's
/// permissions, which Windows files inherit.)
pub fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Creates the folder `path`; an error if anything is there already.
/// (Who may enter it is left to its parent's permissions, which it
/// inherits: a user's temporary folder is that user's alone.)
pub fn create_private_folder(path: &Path) -> io::Result<()> {
    std::fs::create_dir(path)
}

/// `None`: a file's readers are set by its folder's permissions, which
/// it inherits.
pub fn readable_by_all() -> Option<Permissions> {
    None
}

/// The path of `name` in the folder open as `dir`, where that folder is
/// now (renamed since it was opened, it is still the one meant; renamed
/// between this look-up and the use of the path, it is not: Windows has no
/// portable call that works relative to a folder's handle).
fn inside(dir: &File, name: &CStr) -> io::Result<PathBuf> {
    let name = name
        .to_str()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name that is not UTF-8"))?;
    Ok(folder_path(dir)?.join(name))
}

/// Where the folder open as `dir` is now; an error when the system does
/// not say (some network and RAM disks do not), rather than an empty
/// path, which would name the current folder.
pub(in crate::sys) fn folder_path(dir: &File) -> io::Result<PathBuf> {
    let path = path_to_open_file(dir);
    if path.as_os_str().is_empty() {
        return Err(io::Error::other(
            "the system does not say where this folder is",
        ));
    }
    Ok(path)
}

/// Creates the file `name` in the folder open as `dir`, for writing; an
/// error if anything is under that name, a symlink included.
pub fn create_new_at(dir: &File, name: &CStr) -> io::Result<File> {
    create_private(&inside(dir, name)?)
}

/// Renames `from` in the folder open as `from_dir` to `to` in the folder
/// open as `to_dir`, replacing what is there.
pub fn rename_at(from_dir: &File, from: &CStr, to_dir: &File, to: &CStr) -> io::Result<()> {
    let (from, to) = (inside(from_dir, from)?, inside(to_dir, to)?);
    retried(|| std::fs::rename(&from, &to))
}

/// Removes the file `path`, again for a moment while another program
/// holds it.
pub fn remove_file(path: &Path) -> io::Result<()> {
    retried(|| std::fs::remove_file(path))
}

/// Removes the file `name` from the folder open as `dir`.
pub fn remove_at(dir: &File, name: &CStr) -> io::Result<()> {
    let path = inside(dir, name)?;
    retried(|| std::fs::remove_file(&path))
}

/// Removes the empty folder `name` from the folder open as `dir`.
pub fn remove_folder_at(dir: &File, name: &CStr) -> io::Result<()> {
    let path = inside(dir, name)?;
    retried(|| std::fs::remove_dir(&path))
}

/// Runs `change` (a rename or a removal) again for up to two seconds while
/// the system refuses it because another program holds the file open for a
/// moment (a virus scanner, an indexer, a backup); any other error, or the
/// last refusal, is returned.
fn retried(mut change: impl FnMut() -> io::Result<()>) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut pause = Duration::from_millis(1);
    loop {
        match change() {
            Err(err) if is_held_by_another(&err) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            done => return done,
        }
    }
}

/// Whether `err` is the refusal of a file another program holds open.
fn is_held_by_another(err: &io::Error) -> bool {
    err.raw_os_error().is_some_and(|code| {
        code == ERROR_SHARING_VIOLATION as i32 || code == ERROR_ACCESS_DENIED as i32
    })
}

/// What is under `name` in the folder open as `dir`, without following a
/// symlink; `None` when nothing is (or it cannot be told).
pub fn kind_at(dir: &File, name: &CStr) -> Option<EntryKind> {
    let metadata = std::fs::symlink_metadata(inside(dir, name).ok()?).ok()?;
    let kind = metadata.file_type();
    Some(if kind.is_symlink() {
        EntryKind::Symlink
    } else if kind.is_dir() {
        EntryKind::Folder
    } else if kind.is_file() {
        EntryKind::Regular
    } else {
        EntryKind::Other
    })
}

/// Fills `buffer` from `file` at `offset`. (Windows moves the file's
/// offset as it reads.)
pub fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buffer.is_empty() {
        match file.seek_read(buffer, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buffer = &mut buffer[n..];
                offset += n as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// A path as bytes to send to another process: its UTF-16 units, two
/// bytes each (little-endian), so that any path survives.
pub fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::windows::ffi::OsStrExt;
    path.as_os_str()
        .encode_wide()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A path from the bytes [`path_bytes`] gave.
pub fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::windows::ffi::OsStringExt;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    PathBuf::from(std::ffi::OsString::from_wide(&units))
}

/// Whether `err`, from a write, says that nobody reads the pipe any more:
/// Windows says the pipe is being closed (`ERROR_NO_DATA`), Wine that it
/// is not connected (`ERROR_PIPE_NOT_CONNECTED`).
pub fn is_closed_pipe(err: &io::Error) -> bool {
    use windows_sys::Win32::Foundation::{ERROR_NO_DATA, ERROR_PIPE_NOT_CONNECTED};
    err.kind() == io::ErrorKind::BrokenPipe
        || err.raw_os_error().is_some_and(|code| {
            code == ERROR_NO_DATA as i32 || code == ERROR_PIPE_NOT_CONNECTED as i32
        })
}

/// Makes `link` a symlink to `target` (a file's or a folder's, as
/// `target` is now).
pub fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    if target.is_dir() {
        std::os::windows::fs::symlink_dir(target, link)
    } else {
        std::os::windows::fs::symlink_file(target, link)
    }
}

/// Opens `path` for reading, never following a symlink, and only if it is
/// a regular file (its type is checked on the open file).
pub fn open_regular_nofollow(path: &Path) -> io::Result<Opened> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(err) => return Err(err),
    };
    let metadata = file.metadata()?;
    if metadata.file_type().is_symlink() {
        return Ok(Opened::NotRegular("a symlink, not a regular file"));
    }
    if !metadata.is_file() {
        return Ok(Opened::NotRegular("not a regular file"));
    }
    Ok(Opened::Regular(file))
}

/// The path of the file or folder open as `file`, where it is now (an
/// empty path, which names nothing, when the system does not say).
pub fn path_to_open_file(file: &File) -> PathBuf {
    let mut buffer = vec![0u16; 32_768];
    // SAFETY: writes at most `buffer.len()` UTF-16 units, NUL included,
    // into the buffer we own, for a handle we borrow.
    let len = unsafe {
        GetFinalPathNameByHandleW(
            file.as_raw_handle(),
            buffer.as_mut_ptr(),
            buffer.len() as u32,
            FILE_NAME_NORMALIZED,
        )
    } as usize;
    if len == 0 || len >= buffer.len() {
        return PathBuf::new();
    }
    use std::os::windows::ffi::OsStringExt;
    let path = PathBuf::from(std::ffi::OsString::from_wide(&buffer[..len]));
    plain(path)
}

/// `path` without the `\\?\` prefix the system puts before a path it
/// names (`\\?\C:\x` is `C:\x`, `\\?\UNC\host\share` is
/// `\\host\share`), so that it compares equal to, and reads like, the
/// paths users give; a path that needs the prefix (too long, or with a
/// name Windows reserves) keeps it.
fn plain(path: PathBuf) -> PathBuf {
    let Some(text) = path.to_str() else {
        return path;
    };
    let shorter = if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
        format!(r"\\{rest}")
    } else if let Some(rest) = text.strip_prefix(r"\\?\") {
        rest.to_string()
    } else {
        return path;
    };
    let reserved = shorter.split('\\').any(|name| {
        let stem = name
            .split('.')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
            || (stem.len() == 4
                && (stem.starts_with("COM") || stem.starts_with("LPT"))
                && stem.as_bytes()[3].is_ascii_digit())
            || name.ends_with([' ', '.'])
    });
    if shorter.len() >= 260 || reserved {
        return path;
    }
    PathBuf::from(shorter)
}

/// Renames `from` to `to`, failing if `to` exists.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    let (from, to) = (wide(from), wide(to));
    retried(|| {
        // SAFETY: two NUL-terminated UTF-16 paths we own; without
        // MOVEFILE_REPLACE_EXISTING an existing `to` is an error.
        match unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), MOVEFILE_WRITE_THROUGH) } {
            0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    })
}

/// Does nothing: the file stays as it is (its storage is a temporary
/// file's, which goes when it closes).
pub fn punch_hole(_file: &File, _len: u64) {}

/// A new, empty temporary file, removed when its last handle closes
/// (Windows has no in-memory files; a temporary one mostly stays in the
/// cache). `name` is not used.
pub fn memory_file(_name: &CStr) -> io::Result<File> {
    tempfile::tempfile()
}

/// Opens `path` for reading so that, while the handle returned is open, no
/// one can write to the file, shrink it, rename it or remove it (a share
/// mode that allows reading only): the Windows counterpart of a sealed
/// file. Fails if another handle open for writing exists.
pub fn hold_unchanged(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_the_system_names_reads_like_one_a_user_gives() {
        let case = |from: &str, to: &str| assert_eq!(plain(PathBuf::from(from)), Path::new(to));
        case(r"\\?\C:\Users\x", r"C:\Users\x");
        case(r"\\?\UNC\host\share\x", r"\\host\share\x");
        case(r"C:\plain", r"C:\plain");
        case(r"\\?\C:\x\con.txt", r"\\?\C:\x\con.txt");
        case(r"\\?\C:\x\trailing.", r"\\?\C:\x\trailing.");
        let long = format!(r"\\?\C:\{}", "x".repeat(300));
        case(&long, &long);
    }

    #[test]
    fn a_folder_is_named_by_its_handle_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let folder = open_folder(dir.path()).unwrap();
        assert_eq!(
            FileId::at(&path_to_open_file(&folder)).unwrap(),
            FileId::of(&folder).unwrap()
        );
    }
}
