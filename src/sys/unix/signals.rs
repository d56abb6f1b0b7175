//! Signals, the Unix way: the signals this program sends or hears, by
//! name, and the name of any by its number; handlers (through
//! `signal-hook`, which chains them safely); what a parent left ignored or
//! blocked; and the wake-up, a socket pair that handlers and other threads
//! write a byte into and one thread waits on.
//!
//! Not here: which signals stop a run, what a stop or a pause does, or
//! which process groups a pause reaches (`signals`).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::sys::signals::Signal;

impl Signal {
    /// Its number: what a wait status holds, and what an exit status of
    /// 128 + n reports.
    pub fn number(self) -> i32 {
        match self {
            Signal::Hangup => libc::SIGHUP,
            Signal::Interrupt => libc::SIGINT,
            Signal::Quit => libc::SIGQUIT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Child => libc::SIGCHLD,
            Signal::Pause => libc::SIGTSTP,
            Signal::Continue => libc::SIGCONT,
            Signal::BrokenPipe => libc::SIGPIPE,
            Signal::FileSizeLimit => libc::SIGXFSZ,
        }
    }
}

/// The conventional name of the signal numbered `number`, for people:
/// `SIGKILL`, or `signal` for one without a name here.
pub fn name(number: i32) -> &'static str {
    match number {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// A handler installed by [`on`] or [`Wakeup::wake_on`], until it is
/// [`remove`]d.
#[derive(Debug)]
pub struct Handler(signal_hook::SigId);

/// Runs `action` whenever `signal` arrives (besides the handlers already
/// installed for it). SIGKILL cannot be caught: asking for it is an error.
///
/// # Safety
///
/// `action` runs in a signal handler: it must be async-signal-safe. It may
/// use atomics and the calls of this layer documented as async-signal-safe;
/// it may not allocate, take a lock or panic.
pub unsafe fn on(signal: Signal, action: impl Fn() + Sync + Send + 'static) -> io::Result<Handler> {
    if signal == Signal::Kill {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: the caller vouches that `action` is async-signal-safe.
    let id = unsafe { signal_hook::low_level::register(signal.number(), action) }?;
    Ok(Handler(id))
}

/// Removes a handler: its signal no longer runs it.
pub fn remove(handler: Handler) {
    signal_hook::low_level::unregister(handler.0);
}

/// Whether `signal` is ignored (as a parent may have set it, and exec
/// kept it).
pub fn is_ignored(signal: Signal) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into `current`, which we own.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal.number(), std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

/// Ignores `signal` from now on, in this process and (after exec) in the
/// children it starts. Not SIGCHLD (nor SIGKILL, which cannot be): that
/// call does nothing.
pub fn ignore(signal: Signal) {
    // An ignored SIGCHLD has the kernel reap every child at once, which
    // would take exit statuses from under `std::process::Child`.
    if matches!(signal, Signal::Child | Signal::Kill) {
        return;
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no
    // memory-safety preconditions.
    unsafe { libc::signal(signal.number(), libc::SIG_IGN) };
}

/// Makes the handler of `signal` interrupt the call it lands in instead of
/// restarting it (clears `SA_RESTART`, which signal-hook sets), so a
/// blocking call returns `EINTR` to a caller that can see the stop.
pub fn interrupt_calls(signal: Signal) -> io::Result<()> {
    // SAFETY: sigaction reads the installed action into `action`, which we
    // own, and installs it again with one flag cleared: the same handler,
    // mask and other flags.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal.number(), std::ptr::null(), &mut action) != 0 {
            return Err(io::Error::last_os_error());
        }
        action.sa_flags &= !libc::SA_RESTART;
        if libc::sigaction(signal.number(), &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Unblocks `signals` for this thread (and the threads and children it
/// starts from now on, which inherit its mask).
pub fn unblock(signals: impl IntoIterator<Item = Signal>) -> io::Result<()> {
    // SAFETY: the set is initialised by sigemptyset before use, and
    // pthread_sigmask only reads it.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in signals {
            libc::sigaddset(&mut set, signal.number());
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut())
    };
    match rc {
        0 => Ok(()),
        err => Err(io::Error::from_raw_os_error(err)),
    }
}

/// What wakes one waiting thread ([`Wakeup::wait`]) from a signal handler
/// or another thread: a byte written into one end of a socket pair, read
/// from the other (the self-pipe trick; a socket, so that the read can
/// time out).
#[derive(Debug)]
pub struct Wakeup {
    wake: UnixStream,
    alarm: UnixStream,
}

impl Wakeup {
    pub fn new() -> io::Result<Wakeup> {
        let (wake, alarm) = UnixStream::pair()?;
        // Never block a handler or a waker on a full socket: one byte
        // already waiting is enough to wake the reader.
        alarm.set_nonblocking(true)?;
        Ok(Wakeup { wake, alarm })
    }

    /// Wakes the waiting thread whenever `signal` arrives.
    pub fn wake_on(&self, signal: Signal) -> io::Result<Handler> {
        if signal == Signal::Kill {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let id = signal_hook::low_level::pipe::register(signal.number(), self.alarm.try_clone()?)?;
        Ok(Handler(id))
    }

    /// A handle that wakes the waiting thread from another thread.
    pub fn waker(&self) -> io::Result<Waker> {
        Ok(Waker(self.alarm.try_clone()?))
    }

    /// Sleeps until something wakes it or `timeout` passes, whichever is
    /// first.
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

/// Wakes the thread waiting in [`Wakeup::wait`], as a signal would.
#[derive(Debug)]
pub struct Waker(UnixStream);

impl Waker {
    pub fn wake(&self) {
        let _ = (&self.0).write(&[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(signal: Signal, conventional: &str) {
        assert_eq!(name(signal.number()), conventional);
    }

    #[test]
    fn the_signals_a_run_sends_and_hears_go_by_their_conventional_names() {
        case(Signal::Hangup, "SIGHUP");
        case(Signal::Interrupt, "SIGINT");
        case(Signal::Quit, "SIGQUIT");
        case(Signal::Terminate, "SIGTERM");
        case(Signal::Kill, "SIGKILL");
        case(Signal::BrokenPipe, "SIGPIPE");
        assert_eq!(name(0), "signal");
    }
}
