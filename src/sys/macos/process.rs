//! Processes, as macOS has them: no `prctl`, so a child that must die with
//! its parent watches for that itself; whether a process lives, from
//! `kill(pid, 0)`; a forked helper that closes its parent's descriptors
//! one at a time.
//!
//! Not here: what any Unix can do with processes (`unix::process`).

use std::io;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use crate::sys::unix::process::{Channel, Pid, exit_now};

/// Ends this process when its parent `parent` ends: a thread looks at its
/// parent every 50 ms and ends the process (with SIGKILL's status, 137)
/// once it has changed. Fails if `parent` is not its parent now (`ESRCH`).
pub fn die_with(parent: Pid) -> io::Result<()> {
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != parent {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(50));
                // SAFETY: as above.
                if unsafe { libc::getppid() } != parent {
                    exit_now(128 + libc::SIGKILL);
                }
            }
        })?;
    Ok(())
}

/// Nothing can be arranged between fork and exec on macOS (a thread does
/// not survive the exec): a program other than this package's `reduce`
/// may outlive a parent killed outright, as `docs/guarantees.md` says.
pub fn die_with_at_exec(_command: &mut Command, _parent: Pid) {}

/// Whether `pid` is a live process (a zombie counts as one here, and so
/// does one this user may not signal).
pub fn lives(pid: u32) -> bool {
    let Ok(pid) = Pid::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; no memory is touched.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Closes every descriptor of this process but `keep`'s, so that a forked
/// helper holds nothing of its parent's (no lock, no file). Async-signal-safe.
///
/// # Safety
///
/// No descriptor it closes may be used again by this process, by any code:
/// call it in a forked child that uses `keep` alone from then on, and ends
/// with `exit_now`.
pub unsafe fn close_all_but(keep: &Channel) {
    let keep = keep.0.as_raw_fd();
    // SAFETY: getdtablesize and close take integers only; the caller
    // vouches that no descriptor closed is used again.
    unsafe {
        for fd in 0..libc::getdtablesize() {
            if fd != keep {
                libc::close(fd);
            }
        }
    }
}

/// How many threads this process has: not told here.
pub fn threads() -> Option<usize> {
    None
}
