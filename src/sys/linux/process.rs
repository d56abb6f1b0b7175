//! Processes, as only Linux has them: a child the kernel kills when its
//! parent dies (`prctl`), whether a process lives (from `/proc`), and a
//! forked helper that drops every descriptor of its parent's
//! (`close_range`).
//!
//! Not here: what any Unix can do with processes (`unix::process`), or the
//! namespaces that contain what children start (`linux::contain`).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::sys::unix::process::{Channel, Pid};

/// Has the kernel SIGKILL this process when the thread that started it
/// ends, and checks that its parent is still `parent` (if it died before
/// the request, the signal will never come: then `ESRCH`).
/// Async-signal-safe: it allocates nothing, so it may run between fork and
/// exec.
pub fn die_with(parent: Pid) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only; getppid has no arguments.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

/// Arranges [`die_with`]`(parent)` in the process `command` starts,
/// between fork and exec (which rules out the faster `posix_spawn`): the
/// spawn fails if `parent` is no longer its parent then.
pub fn die_with_at_exec(command: &mut Command, parent: Pid) {
    // SAFETY: the closure runs in the forked child before exec and calls
    // only `die_with`, which is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(move || die_with(parent));
    }
}

/// Whether `pid` is a live process: neither a zombie nor dead (from
/// `/proc`: false where it is not mounted).
pub fn lives(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command's closing parenthesis.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X']))
    })
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

/// How many threads this process has, from `/proc` (`None` where it
/// cannot be read).
pub fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_or_a_missing_process_does_not_live() {
        assert!(lives(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Unreaped, it is a zombie once it has exited.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while lives(pid) {
            assert!(std::time::Instant::now() < deadline, "true did not exit");
            std::thread::yield_now();
        }
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
        child.wait().unwrap();
        assert!(!lives(pid));
    }
}
