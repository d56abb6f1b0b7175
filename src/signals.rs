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
//! Not here: what stopping means (the supervisor, the orchestrator).

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::SigId;
use signal_hook::consts::{SIGCHLD, SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};

/// The signals that stop a run.
pub const STOP_SIGNALS: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// Installed signal handlers, removed again on drop.
pub struct Signals {
    wake: UnixStream,
    alarm: UnixStream,
    stops: Arc<AtomicUsize>,
    last_stop: Arc<AtomicI32>,
    ids: Vec<SigId>,
}

impl Signals {
    /// Installs handlers for SIGCHLD and the stop signals (but those
    /// inherited as ignored), and unblocks them all.
    pub fn install() -> io::Result<Signals> {
        let (wake, alarm) = UnixStream::pair()?;
        // Never block a handler or a waker on a full socket: one byte
        // already waiting is enough to wake the reader.
        alarm.set_nonblocking(true)?;
        let stops = Arc::new(AtomicUsize::new(0));
        let last_stop = Arc::new(AtomicI32::new(0));
        let heard: Vec<i32> = STOP_SIGNALS
            .into_iter()
            .filter(|&signal| !is_ignored(signal))
            .collect();
        let mut ids = Vec::new();
        for &signal in std::iter::once(&SIGCHLD).chain(&heard) {
            ids.push(signal_hook::low_level::pipe::register(
                signal,
                alarm.try_clone()?,
            )?);
        }
        for &signal in &heard {
            let (stops, last_stop) = (Arc::clone(&stops), Arc::clone(&last_stop));
            // SAFETY: the handler only performs atomic stores and adds, which
            // are async-signal-safe; it allocates nothing and takes no lock.
            let id = unsafe {
                signal_hook::low_level::register(signal, move || {
                    last_stop.store(signal, Ordering::SeqCst);
                    stops.fetch_add(1, Ordering::SeqCst);
                })
            }?;
            ids.push(id);
        }
        for &signal in &heard {
            interrupt_calls(signal)?;
        }
        // Ctrl+Z pauses the whole run, unless pausing was turned off.
        if !is_ignored(SIGTSTP) {
            // SAFETY: the handlers call only async-signal-safe functions
            // (kill, getpid, clock_gettime) and atomics; they allocate
            // nothing and take no lock.
            unsafe {
                ids.push(signal_hook::low_level::register(SIGTSTP, on_pause)?);
                ids.push(signal_hook::low_level::register(SIGCONT, on_continue)?);
            }
        }
        unblock(std::iter::once(SIGCHLD).chain(STOP_SIGNALS))?;
        Ok(Signals {
            wake,
            alarm,
            stops,
            last_stop,
            ids,
        })
    }

    /// Signals that hear no signal of the process, only wakers (and, in
    /// tests, stop requests made up for them): for supervising without
    /// taking over the process's signals.
    pub fn detached() -> io::Result<Signals> {
        let (wake, alarm) = UnixStream::pair()?;
        alarm.set_nonblocking(true)?;
        Ok(Signals {
            wake,
            alarm,
            stops: Arc::new(AtomicUsize::new(0)),
            last_stop: Arc::new(AtomicI32::new(0)),
            ids: Vec::new(),
        })
    }

    /// Acts as if the stop signal `signal` had arrived.
    #[cfg(test)]
    pub(crate) fn request_stop(&self, signal: i32) {
        self.last_stop.store(signal, Ordering::SeqCst);
        self.stops.fetch_add(1, Ordering::SeqCst);
    }

    /// A handle that wakes [`Signals::wait`] from another thread.
    pub fn waker(&self) -> io::Result<Waker> {
        Ok(Waker(self.alarm.try_clone()?))
    }

    /// How many stop signals have arrived: one asks for a graceful stop, a
    /// second for an immediate one.
    pub fn stop_requests(&self) -> usize {
        self.stops.load(Ordering::SeqCst)
    }

    /// The last stopping signal received, if any.
    pub fn stop_signal(&self) -> Option<i32> {
        Some(self.last_stop.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// Sleeps until a signal arrives or `timeout` passes, whichever is first.
    pub fn wait(&self, timeout: Duration) {
        if timeout.is_zero() {
            return;
        }
        if self.wake.set_read_timeout(Some(timeout)).is_err() {
            std::thread::sleep(timeout);
            return;
        }
        let mut buffer = [0u8; 64];
        // One signal's byte is enough to wake; the rest of the bytes are
        // drained so the next wait does not return at once for old news.
        if let Ok(n) = (&self.wake).read(&mut buffer)
            && n == buffer.len()
        {
            let _ = self.wake.set_nonblocking(true);
            while matches!((&self.wake).read(&mut buffer), Ok(n) if n > 0) {}
            let _ = self.wake.set_nonblocking(false);
        }
    }
}

/// Slots for the process groups of the children running now, which a
/// pause (Ctrl+Z) stops and a continue resumes: read by signal handlers,
/// so fixed in number and atomic (0: free). More children than slots run
/// on through a pause.
static PAUSABLE: [AtomicI32; 256] = [const { AtomicI32::new(0) }; 256];

/// When the run was paused (CLOCK_MONOTONIC, in ns), or 0 while it runs.
static PAUSED_AT: AtomicU64 = AtomicU64::new(0);

/// How long the run has spent paused in all, in ns.
static PAUSED_FOR: AtomicU64 = AtomicU64::new(0);

/// A child's process group, stopped and resumed with the run while this
/// lives.
#[derive(Debug)]
pub struct Pausable(Option<usize>);

impl Pausable {
    /// Registers the process group `group`.
    pub fn register(group: i32) -> Pausable {
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

/// CLOCK_MONOTONIC in ns (async-signal-safe); never 0.
fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime writes only into `now`, which we own.
    let now = unsafe {
        let mut now: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
        now
    };
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
        .max(1)
}

/// Sends `signal` to every registered child's process group.
fn signal_children(signal: i32) {
    for slot in &PAUSABLE {
        let group = slot.load(Ordering::SeqCst);
        if group > 0 {
            // SAFETY: kill is async-signal-safe and has no memory-safety
            // preconditions; the group is a running child's.
            unsafe { libc::kill(-group, signal) };
        }
    }
}

/// Ctrl+Z: the children are stopped, then this process.
fn on_pause() {
    let _ = PAUSED_AT.compare_exchange(0, monotonic_ns(), Ordering::SeqCst, Ordering::SeqCst);
    signal_children(libc::SIGTSTP);
    // SAFETY: kill and getpid are async-signal-safe; SIGSTOP cannot be
    // caught, so this process stops here until a SIGCONT.
    unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
}

/// SIGCONT: the children resume, and the time spent paused is counted.
fn on_continue() {
    signal_children(libc::SIGCONT);
    let since = PAUSED_AT.load(Ordering::SeqCst);
    if since != 0 {
        PAUSED_FOR.fetch_add(monotonic_ns().saturating_sub(since), Ordering::SeqCst);
        PAUSED_AT.store(0, Ordering::SeqCst);
    }
}

/// Ignores SIGXFSZ, so that writing past the file size limit (`ulimit
/// -f`) fails with `EFBIG`, which the write reports, instead of killing
/// the process without a word. Children inherit it.
pub fn ignore_file_size_limit() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no
    // preconditions.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

/// Whether `signal` is ignored (as a parent may have set it, and exec
/// kept it).
fn is_ignored(signal: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into `current`, which we own.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

/// Makes the handler of `signal` interrupt the call it lands in instead of
/// restarting it (clears `SA_RESTART`, which signal-hook sets), so a
/// blocking call returns `EINTR` to a caller that can see the stop.
fn interrupt_calls(signal: i32) -> io::Result<()> {
    // SAFETY: sigaction reads the installed action into `action`, which we
    // own, and installs it again with one flag cleared: the same handler,
    // mask and other flags.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut action) != 0 {
            return Err(io::Error::last_os_error());
        }
        action.sa_flags &= !libc::SA_RESTART;
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Unblocks `signals` for this thread (and the threads and children it
/// starts from now on, which inherit its mask).
pub fn unblock(signals: impl IntoIterator<Item = i32>) -> io::Result<()> {
    // SAFETY: the set is initialised by sigemptyset before use, and
    // pthread_sigmask only reads it.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut())
    };
    match rc {
        0 => Ok(()),
        err => Err(io::Error::from_raw_os_error(err)),
    }
}

/// Wakes the thread waiting in [`Signals::wait`], as a signal would.
#[derive(Debug)]
pub struct Waker(UnixStream);

impl Waker {
    pub fn wake(&self) {
        use std::io::Write;
        let _ = (&self.0).write(&[1]);
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
