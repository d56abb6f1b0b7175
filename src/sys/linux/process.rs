//! Processes, as only Linux has them: a forked helper that drops every
//! descriptor of its parent's (`close_range`).
//!
//! Not here: what any Unix can do with processes (`unix::process`), or the
//! namespaces that contain what children start (`linux::contain`).

use std::os::fd::AsRawFd;

use crate::sys::unix::process::Channel;

/// Closes every descriptor of this process but `keep`'s, so that a forked
/// helper holds nothing of its parent's (no lock, no file). Async-signal-safe.
///
/// # Safety
///
/// No descriptor it closes may be used again by this process, by any code:
/// call it in a forked child that uses `keep` alone from then on, and ends
/// with `exit_now`.
pub unsafe fn close_all_but(keep: &Channel) {
    let fd = keep.0.as_raw_fd() as libc::c_uint;
    // SAFETY: close_range with integer arguments only; the caller vouches
    // that no descriptor closed is used again.
    unsafe {
        if fd > 0 {
            libc::syscall(libc::SYS_close_range, 0, fd - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, fd + 1, libc::c_uint::MAX, 0);
    }
}
