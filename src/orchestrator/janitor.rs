//! What removes a run's folders when the run cannot: a small process forked
//! at the start, while orchestrate has one thread, that waits for
//! orchestrate to end and then removes every folder the run told it of.
//!
//! A run killed outright (SIGKILL, out of memory) runs no destructor, but
//! the kernel closes its end of the socket to the janitor, whatever killed
//! it; the janitor sees the end of file at once. So a folder a run makes is
//! gone a moment after the run, however it ended, with no later run
//! needed. A folder is named to the janitor *before* it is made, so there
//! is no moment in which it exists unknown to the janitor.
//!
//! Not here: which folders a run makes (`workspace`), or what stops the
//! children (`supervise::contain`).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The run's end of the socket, once the janitor is started.
static TOLD: Mutex<Option<UnixStream>> = Mutex::new(None);

/// The janitor, from the run's side: dropping it ends the janitor (which
/// removes what is left) and waits for it.
pub struct Janitor(Option<libc::pid_t>);

/// Starts the janitor. Call it first, while this process has one thread:
/// the janitor is forked, and runs ordinary code. Where it cannot be
/// started, folders are removed by the run itself, and after a SIGKILL by
/// a later run.
pub fn start() -> Janitor {
    let Ok((ours, theirs)) = UnixStream::pair() else {
        return Janitor(None);
    };
    // SAFETY: the caller has one thread, so the child may run any code;
    // it ends with _exit.
    match unsafe { libc::fork() } {
        -1 => Janitor(None),
        0 => {
            drop(ours);
            serve(theirs)
        }
        pid => {
            drop(theirs);
            if let Ok(mut told) = TOLD.lock() {
                *told = Some(ours);
            }
            crate::supervise::contain::spare(pid);
            Janitor(Some(pid))
        }
    }
}

/// Tells the janitor of `folder`, to be removed when the run is gone.
pub fn watch(folder: &Path) {
    let Ok(absolute) = std::path::absolute(folder) else {
        return;
    };
    if let Ok(mut told) = TOLD.lock()
        && let Some(socket) = told.as_mut()
    {
        let mut message = absolute.as_os_str().as_bytes().to_vec();
        message.push(0);
        let _ = socket.write_all(&message);
    }
}

impl Drop for Janitor {
    fn drop(&mut self) {
        let Some(pid) = self.0 else { return };
        if let Ok(mut told) = TOLD.lock() {
            told.take();
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child, writing into `status`.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
}

/// The janitor: collects folder paths until the end of file, then removes
/// each, and exits.
fn serve(mut socket: UnixStream) -> ! {
    // SAFETY: signal and close_range with integer arguments only. Stop
    // signals are for orchestrate (a terminal sends them to the whole
    // group): the janitor ends only with the run. It keeps nothing of
    // orchestrate's open but the socket.
    unsafe {
        for signal in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGTSTP,
            libc::SIGPIPE,
        ] {
            libc::signal(signal, libc::SIG_IGN);
        }
        let fd = socket.as_raw_fd() as libc::c_uint;
        if fd > 0 {
            libc::syscall(libc::SYS_close_range, 0, fd - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, fd + 1, libc::c_uint::MAX, 0);
    }
    let mut told = Vec::new();
    let _ = socket.read_to_end(&mut told);
    for path in told.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(path));
        // Gone already when the run ended well. A child killed with the
        // run may still write into the folder for a moment after the run
        // is gone (its file then keeps the folder from going): tried again
        // until it is gone, for a few seconds at most.
        for _ in 0..500 {
            let _ = std::fs::remove_dir_all(&path);
            if path.symlink_metadata().is_err() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    // SAFETY: _exit ends the janitor without running orchestrate's
    // destructors (its copies of them are not its to run).
    unsafe { libc::_exit(0) }
}
