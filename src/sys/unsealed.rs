//! Sealed in-memory files exist on Linux only: elsewhere (macOS, Windows)
//! [`create`] says so, and the caller hands children a private file
//! instead (which, on Windows, this process holds open so that no one can
//! write to it: `fs::hold_unchanged`); nothing is ever mapped.
//!
//! Not here: what the bytes mean (`polymer`, `input`).

use std::fs::File;
use std::io;
use std::path::PathBuf;

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "sealed in-memory files exist on Linux only",
    )
}

/// An error always: there are no sealed files here.
pub fn create(_name: &std::ffi::CStr) -> io::Result<File> {
    Err(unsupported())
}

/// An error always: no file here is made by [`create`].
pub fn write_at(_file: &File, _offset: usize, _bytes: &[u8]) -> io::Result<()> {
    Err(unsupported())
}

/// An error always: no file here can be sealed.
pub fn seal(_file: &File) -> io::Result<()> {
    Err(unsupported())
}

/// A path by which this process can open `file` afresh.
pub fn path_for_self(file: &File) -> PathBuf {
    super::fs::path_to_open_file(file)
}

/// The bytes of a sealed file, mapped read-only: never made here.
pub struct Mapped(std::convert::Infallible);

impl Mapped {
    /// `None` always: no file here is sealed, so every file is read as
    /// usual.
    pub fn of(_file: &File) -> io::Result<Option<Mapped>> {
        Ok(None)
    }

    pub fn bytes(&self) -> &[u8] {
        match self.0 {}
    }
}
