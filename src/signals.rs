//! Signals that a run waits on: SIGCHLD, so a child's exit is noticed at
//! once instead of at the next poll, and the stop signals SIGINT, SIGTERM,
//! SIGHUP (a closed terminal) and SIGQUIT, which all stop the run the same
//! way: children stopped, temporary files removed, exit status 128 + n.
//!
//! Handlers only write a byte to a socket and bump atomic counters (both
//! async-signal-safe); all the work happens in the thread that waits on
//! them. Other threads can wake that thread too, through a [`Waker`].
//!
//! Ctrl+Z (SIGTSTP) pauses the whole run: the children's process groups
//! are stopped with it, and resumed with it on SIGCONT; the time spent
//! paused is kept ([`paused`]), so that it does not count against a
//! timeout.
//!
//! Every stop signal is heard: stop signals a parent left blocked are
//! unblocked (for orchestrate and so for its children), and the stop
//! handlers do not restart the call they interrupt, so a call that blocks
//! (a write into a FIFO nobody reads) returns instead of waiting on. A stop
//! signal a parent set to be ignored (`nohup`, a background job of a
//! script) stays ignored: that is how the caller asked for it.
//!
//! Not here: what stopping means (the supervisor, the orchestrator), or
//! how a handler, a mask or the wake-up socket is made (`sys::signals`).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::sys::signals::{self as sys_signals, Handler, Signal, Wakeup};
use crate::sys::{self, Pid};

pub use crate::sys::signals::Waker;

/// The signals that stop a run.
pub const STOP_SIGNALS: [Signal; 4] = [
    Signal::Interrupt,
    Signal::Terminate,
    Signal::Hangup,
    Signal::Quit,
];

/// Installed signal handlers, removed again on drop.
pub struct Signals {
    wakeup: Wakeup,
    stops: Arc<AtomicUsize>,
    last_stop: Arc<AtomicI32>,
    handlers: Vec<Handler>,
}

impl Signals {
    /// Installs handlers for SIGCHLD and the stop signals (but those
    /// inherited as ignored), and unblocks them all.
    pub fn install() -> io::Result<Signals> {
        let wakeup = Wakeup::new()?;
        let stops = Arc::new(AtomicUsize::new(0));
        let last_stop = Arc::new(AtomicI32::new(0));
        let heard: Vec<Signal> = STOP_SIGNALS
            .into_iter()
            .filter(|&signal| !sys_signals::is_ignored(signal))
            .collect();
        let mut handlers = Vec::new();
        for &signal in std::iter::once(&Signal::Child).chain(&heard) {
            handlers.push(wakeup.wake_on(signal)?);
        }
        for &signal in &heard {
            let (stops, last_stop) = (Arc::clone(&stops), Arc::clone(&last_stop));
            let number = signal.number();
            // SAFETY: the handler only performs atomic stores and adds, which
            // are async-signal-safe; it allocates nothing and takes no lock.
            let handler = unsafe {
                sys_signals::on(signal, move || {
                    last_stop.store(number, Ordering::SeqCst);
                    stops.fetch_add(1, Ordering::SeqCst);
                })
            }?;
            handlers.push(handler);
        }
        for &signal in &heard {
            sys_signals::interrupt_calls(signal)?;
        }
        // Ctrl+Z pauses the whole run, unless pausing was turned off.
        if !sys_signals::is_ignored(Signal::Pause) {
            // SAFETY: the handlers call only async-signal-safe functions
            // (`kill_group`, `stop_self`, `monotonic_ns`) and atomics; they
            // allocate nothing and take no lock.
            unsafe {
                handlers.push(sys_signals::on(Signal::Pause, on_pause)?);
                handlers.push(sys_signals::on(Signal::Continue, on_continue)?);
            }
        }
        sys_signals::unblock(std::iter::once(Signal::Child).chain(STOP_SIGNALS))?;
        Ok(Signals {
            wakeup,
            stops,
            last_stop,
            handlers,
        })
    }

    /// Signals that hear no signal of the process, only wakers (and, in
    /// tests, stop requests made up for them): for supervising without
    /// taking over the process's signals.
    pub fn detached() -> io::Result<Signals> {
        Ok(Signals {
            wakeup: Wakeup::new()?,
            stops: Arc::new(AtomicUsize::new(0)),
            last_stop: Arc::new(AtomicI32::new(0)),
            handlers: Vec::new(),
        })
    }

    /// Acts as if the stop signal `signal` had arrived.
    #[cfg(test)]
    pub(crate) fn request_stop(&self, signal: Signal) {
        self.last_stop.store(signal.number(), Ordering::SeqCst);
        self.stops.fetch_add(1, Ordering::SeqCst);
    }

    /// A handle that wakes [`Signals::wait`] from another thread.
    pub fn waker(&self) -> io::Result<Waker> {
        self.wakeup.waker()
    }

    /// How many stop signals have arrived: one asks for a graceful stop, a
    /// second for an immediate one.
    pub fn stop_requests(&self) -> usize {
        self.stops.load(Ordering::SeqCst)
    }

    /// The number of the last stopping signal received, if any.
    pub fn stop_signal(&self) -> Option<i32> {
        Some(self.last_stop.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// Sleeps until a signal arrives or `timeout` passes, whichever is first.
    pub fn wait(&self, timeout: Duration) {
        self.wakeup.wait(timeout);
    }
}

/// Slots for the process groups of the children running now, which a
/// pause (Ctrl+Z) stops and a continue resumes: read by signal handlers,
/// so fixed in number and atomic (0: free). More children than slots run
/// on through a pause.
static PAUSABLE: [AtomicI32; 256] = [const { AtomicI32::new(0) }; 256];

/// When the run was paused (a monotonic clock, in ns), or 0 while it runs.
static PAUSED_AT: AtomicU64 = AtomicU64::new(0);

/// How long the run has spent paused in all, in ns.
static PAUSED_FOR: AtomicU64 = AtomicU64::new(0);

/// A child's process group, stopped and resumed with the run while this
/// lives.
#[derive(Debug)]
pub struct Pausable(Option<usize>);

impl Pausable {
    /// Registers the process group `group`.
    pub fn register(group: Pid) -> Pausable {
        let slot = PAUSABLE.iter().position(|slot| {
            slot.compare_exchange(0, group, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        Pausable(slot)
    }
}

impl Drop for Pausable {
    fn drop(&mut self) {
        if let Some(slot) = self.0 {
            PAUSABLE[slot].store(0, Ordering::SeqCst);
        }
    }
}

/// How long the run has been paused in all, and whether it is paused now
/// (a supervisor then decides nothing by the clock).
pub fn paused() -> (Duration, bool) {
    let now = PAUSED_AT.load(Ordering::SeqCst) != 0;
    (Duration::from_nanos(PAUSED_FOR.load(Ordering::SeqCst)), now)
}

/// Sends `signal` to every registered child's process group.
fn signal_children(signal: Signal) {
    for slot in &PAUSABLE {
        let group = slot.load(Ordering::SeqCst);
        if group > 0 {
            // Async-signal-safe; the group is a running child's.
            let _ = sys::process::kill_group(group, signal);
        }
    }
}

/// Ctrl+Z: the children are stopped, then this process.
fn on_pause() {
    let _ = PAUSED_AT.compare_exchange(
        0,
        sys::time::monotonic_ns(),
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    signal_children(Signal::Pause);
    // This process stops here until a SIGCONT.
    sys::process::stop_self();
}

/// SIGCONT: the children resume, and the time spent paused is counted.
fn on_continue() {
    signal_children(Signal::Continue);
    let since = PAUSED_AT.load(Ordering::SeqCst);
    if since != 0 {
        PAUSED_FOR.fetch_add(
            sys::time::monotonic_ns().saturating_sub(since),
            Ordering::SeqCst,
        );
        PAUSED_AT.store(0, Ordering::SeqCst);
    }
}

/// Ignores SIGXFSZ, so that writing past the file size limit (`ulimit
/// -f`) fails with `EFBIG`, which the write reports, instead of killing
/// the process without a word. Children inherit it.
pub fn ignore_file_size_limit() {
    sys_signals::ignore(Signal::FileSizeLimit);
}

impl Drop for Signals {
    fn drop(&mut self) {
        for handler in self.handlers.drain(..) {
            sys_signals::remove(handler);
        }
    }
}
