//! Windows: no signals, process groups, `fork` or file descriptors, so this
//! part gives the layer's API the Windows way. What children start is
//! contained by a job object per attempt that the system kills when
//! orchestrate's handle to it closes, however orchestrate ends; a stop is
//! the job's termination; Ctrl+C, Ctrl+Break and a closed console arrive
//! as console events, which a thread of the system's runs; locks are
//! `LockFileEx`'s; a file's identity is its volume and file index; the
//! children's polymer is a private file that this process holds open so
//! that no one can write to it while they read it.
//!
//! Not here: the API this part provides (`sys`, which re-exports it), or
//! what the domain decides with it.

pub mod contain;
pub mod fs;
pub mod host;
pub mod lock;
pub mod memory;
pub mod process;
pub mod sealed;
pub mod signals;
pub mod time;
pub mod user;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};

/// A handle this process owns, closed when dropped.
#[derive(Debug)]
pub(in crate::sys) struct Owned(HANDLE);

// SAFETY: a Windows handle may be used and closed from any thread.
unsafe impl Send for Owned {}
// SAFETY: the calls made through `&Owned` are thread-safe system calls.
unsafe impl Sync for Owned {}

impl Owned {
    /// Takes ownership of `handle`, as a system call returned it; `None`
    /// for the values that say the call failed.
    pub(in crate::sys) fn new(handle: HANDLE) -> Option<Owned> {
        (!handle.is_null() && handle != INVALID_HANDLE_VALUE).then_some(Owned(handle))
    }

    pub(in crate::sys) fn raw(&self) -> HANDLE {
        self.0
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle is ours (see `new`) and closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// A path as the system's calls take it: UTF-16, NUL-terminated.
pub(in crate::sys) fn wide(path: &std::path::Path) -> Vec<u16> {
    use std::os::windows::ffi::OsStrExt;
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}
