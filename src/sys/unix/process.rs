//! Processes, the Unix way: signals to a process or to its process group,
//! whether a child has exited (without reaping it), how a child was
//! killed, a process group of its own for a child, and forking a helper
//! that runs this program's own code over a socket to this process.
//!
//! Not here: what only Linux can do with processes (`linux::process`,
//! `linux::contain`), or when a child is signalled (`supervise`).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

use crate::sys::signals::Signal;

/// A process id (a process group's id is its leader's).
pub type Pid = libc::pid_t;

/// Sends `signal` to process `pid` (a positive id: never to a group or to
/// every process). Async-signal-safe. An error (it has ended) is the
/// caller's to ignore.
pub fn kill(pid: Pid, signal: Signal) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: kill has no memory-safety preconditions.
    match unsafe { libc::kill(pid, signal.number()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Sends `signal` to every process of process group `group` (a positive
/// id: never to this process's own group, or to every process).
/// Async-signal-safe. An error (the group is empty) is the caller's to
/// ignore.
pub fn kill_group(group: Pid, signal: Signal) -> io::Result<()> {
    // SAFETY: getpgrp has no arguments and cannot fail.
    if group <= 0 || group == unsafe { libc::getpgrp() } {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: kill has no memory-safety preconditions; a negative pid names
    // the process group (as killpg does).
    match unsafe { libc::kill(-group, signal.number()) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Stops this process (SIGSTOP, which cannot be caught) until a SIGCONT.
/// Async-signal-safe.
pub fn stop_self() {
    // SAFETY: kill and getpid are async-signal-safe and have no
    // memory-safety preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
}

/// Whether our child `pid` has exited, without reaping it: while it is an
/// unreaped zombie its pid, and so its process group id, cannot be reused.
pub fn has_exited(pid: Pid) -> bool {
    // SAFETY: waitid only writes into `info`, a zeroed siginfo_t we own;
    // WNOWAIT leaves the child waitable for `Child::wait` later.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc == 0 && info.si_pid() != 0
    }
}

/// The number of the signal that killed a process that ended with
/// `status`, if one did.
pub fn killed_by(status: &ExitStatus) -> Option<i32> {
    status.signal()
}

/// Starts `command` as the leader of a process group of its own: a signal
/// to that group reaches whatever it starts in it, and a terminal's
/// Ctrl-C, sent to this process's group, does not reach it.
pub fn spawn_contained(command: &mut Command) -> io::Result<Child> {
    command.process_group(0).spawn()
}

/// Whether a start that failed with `err` may succeed if tried again soon:
/// the system was out of processes or memory for the moment (`EAGAIN`,
/// `ENOMEM`), or the program was being written (`ETXTBSY`). A program
/// missing or not allowed fails the same way every time.
pub fn start_may_pass(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EAGAIN | libc::ENOMEM | libc::ETXTBSY)
    )
}

/// What [`fork`] returned, in each of the two processes.
#[derive(Debug)]
pub enum Forked {
    /// In the new process.
    Child,
    /// In this process: the new one's pid.
    Parent(Pid),
}

/// Forks this process.
///
/// # Safety
///
/// The child is a copy of this process with one thread, the caller's.
/// Unless the caller knows that this process has one thread, the child may
/// make only async-signal-safe calls (no allocation, no lock: another
/// thread may have held one at the fork) until it execs or exits. Either
/// way the child must end with [`exit_now`] (or an exec), never by
/// returning into frames it shares with the parent, whose destructors are
/// the parent's to run.
pub unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller upholds what the child may do (see above).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Ends this process at once with exit status `code`: no destructor, no
/// exit handler, no flush of what another thread or the parent of a fork
/// holds. Async-signal-safe.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no memory-safety preconditions; it runs nothing of
    // the process's.
    unsafe { libc::_exit(code) }
}

/// Waits for our child `pid` to end, and reaps it (its status is not
/// kept).
pub fn wait(pid: Pid) {
    // Zero or less would reap any child, one a `std::process::Child` owns
    // included.
    if pid <= 0 {
        return;
    }
    let mut status = 0;
    // SAFETY: waitpid on our own child, writing into `status`, which we own.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

/// Writes `bytes` to standard error directly, with no lock, buffer or
/// allocation, so that it may be called where none can be had (memory ran
/// out, a forked child); errors are ignored. Async-signal-safe.
pub fn write_stderr(bytes: &[u8]) {
    // SAFETY: write reads at most `bytes.len()` bytes from `bytes`, which
    // we borrow.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

/// One end of a connected pair of sockets between this process and a
/// helper it forks ([`channel`]): when every copy of the other end is
/// closed (by the kernel too, when the process holding it ends, however it
/// ends), reading this end finds the end of file.
#[derive(Debug)]
pub struct Channel(pub(in crate::sys) UnixStream);

/// A connected pair of [`Channel`] ends, one for each side of a fork.
pub fn channel() -> io::Result<(Channel, Channel)> {
    let (one, other) = UnixStream::pair()?;
    Ok((Channel(one), Channel(other)))
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_signal_never_reaches_this_process_or_every_process() {
        // SAFETY: getpgrp has no arguments and cannot fail.
        let own = unsafe { libc::getpgrp() };
        // SIGCONT: harmless, should the guard ever fail.
        for group in [own, 0, -1] {
            let refused = kill_group(group, Signal::Continue).unwrap_err();
            assert_eq!(refused.kind(), io::ErrorKind::InvalidInput, "{group}");
        }
        assert_eq!(
            kill(0, Signal::Continue).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn waiting_for_no_particular_child_reaps_none() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        wait(0);
        wait(-1);
        // Still ours to reap: its status was not taken.
        assert!(child.wait().unwrap().success());
    }
}
