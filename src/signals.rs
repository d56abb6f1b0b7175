//! Signals that a run waits on: SIGCHLD, so a child's exit is noticed at
//! once instead of at the next poll, and the stop signals SIGINT, SIGTERM,
//! SIGHUP (a closed terminal) and SIGQUIT, which all stop the run the same
//! way: children stopped, temporary files removed, exit status 128 + n.
//!
//! Handlers only write a byte to a socket and bump atomic counters (both
//! async-signal-safe); all the work happens in the thread that waits on
//! them. Other threads can wake that thread too, through a [`Waker`].
//!
//! Not here: what stopping means (the supervisor, the orchestrator).

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::SigId;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM};

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
    /// Installs handlers for SIGCHLD and the stop signals.
    pub fn install() -> io::Result<Signals> {
        let (wake, alarm) = UnixStream::pair()?;
        // Never block a handler or a waker on a full socket: one byte
        // already waiting is enough to wake the reader.
        alarm.set_nonblocking(true)?;
        let stops = Arc::new(AtomicUsize::new(0));
        let last_stop = Arc::new(AtomicI32::new(0));
        let mut ids = Vec::new();
        for signal in std::iter::once(SIGCHLD).chain(STOP_SIGNALS) {
            ids.push(signal_hook::low_level::pipe::register(
                signal,
                alarm.try_clone()?,
            )?);
        }
        for signal in STOP_SIGNALS {
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
