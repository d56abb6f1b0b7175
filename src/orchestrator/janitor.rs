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
//! Not here: which folders a run makes (`workspace`), what stops the
//! children (`sys::contain`), or how a process is forked (`sys::process`).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;

use crate::sys::process::{self, Channel, Forked, Pid};
use crate::sys::signals::{self, Signal};
use crate::sys::{contain, fs};

/// The run's end of the socket, once the janitor is started.
static TOLD: Mutex<Option<Channel>> = Mutex::new(None);

/// The janitor, from the run's side: dropping it ends the janitor (which
/// removes what is left) and waits for it.
pub struct Janitor(Option<Pid>);

/// Starts the janitor: it is forked, and runs ordinary code. Where it
/// cannot be started, folders are removed by the run itself, and after a
/// SIGKILL by a later run. A process seen to have more than one thread
/// gets no janitor.
///
/// # Safety
///
/// This process must have one thread (call it first thing in `main`):
/// another thread could hold a lock the forked janitor needs (the
/// allocator's). Where `/proc` can be read that is also checked; where it
/// cannot, the caller's word is all there is.
pub unsafe fn start() -> Janitor {
    if process::threads().is_some_and(|threads| threads > 1) {
        return Janitor(None);
    }
    let Ok((ours, theirs)) = process::channel() else {
        return Janitor(None);
    };
    // SAFETY: this process has one thread (the caller's contract, checked
    // above where /proc tells), and nothing here starts one, so the child
    // may run any code; it ends with exit_now.
    match unsafe { process::fork() } {
        Err(_) => Janitor(None),
        Ok(Forked::Child) => {
            drop(ours);
            serve(theirs)
        }
        Ok(Forked::Parent(pid)) => {
            drop(theirs);
            if let Ok(mut told) = TOLD.lock() {
                *told = Some(ours);
            }
            contain::spare(pid);
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
        let mut message = fs::path_bytes(&absolute).to_vec();
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
        process::wait(pid);
    }
}

/// The janitor: collects folder paths until the end of file, then removes
/// each, and exits.
fn serve(mut socket: Channel) -> ! {
    // Stop signals are for orchestrate (a terminal sends them to the whole
    // group): the janitor ends only with the run.
    for signal in [
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Hangup,
        Signal::Quit,
        Signal::Pause,
        Signal::BrokenPipe,
    ] {
        signals::ignore(signal);
    }
    // SAFETY: the janitor keeps nothing of orchestrate's open but the
    // socket: it uses no other descriptor from here on, and ends with
    // exit_now.
    unsafe { process::close_all_but(&socket) };
    let mut told = Vec::new();
    let _ = socket.read_to_end(&mut told);
    for path in told.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = fs::path_from_bytes(path);
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
    // Without running orchestrate's destructors (its copies of them are
    // not its to run).
    process::exit_now(0)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn no_janitor_is_forked_from_a_process_with_threads() {
        // The test harness runs tests on threads of its own.
        assert!(process::threads().is_some_and(|n| n > 1));
        // SAFETY: the check this test exercises refuses before any fork.
        let janitor = unsafe { start() };
        assert!(janitor.0.is_none());
    }
}
