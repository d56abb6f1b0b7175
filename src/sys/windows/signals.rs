//! Signals, the Windows way: Windows has console events instead (Ctrl+C,
//! Ctrl+Break, the console closed; logging off and shutting down reach
//! services only), which the system delivers by running a handler on a new
//! thread. Ctrl+C and Ctrl+Break arrive as an interrupt, a closed console
//! as a hang-up; the rest of the signals a Unix run hears never arrive here.
//! Handlers run on that thread, so they may lock and allocate; the wake-up
//! is a condition variable.
//!
//! Not here: which signals stop a run, and what a stop does (`signals`).

use std::io;
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::Duration;

use windows_sys::Win32::Foundation::{FALSE, TRUE};
use windows_sys::Win32::System::Console::{
    CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
    SetConsoleCtrlHandler,
};
use windows_sys::core::BOOL;

use crate::sys::signals::Signal;

impl Signal {
    /// Its Unix number: an exit status of 128 + n reports it, as on Unix,
    /// so scripts see the same statuses everywhere.
    pub fn number(self) -> i32 {
        match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Quit => 3,
            Signal::Kill => 9,
            Signal::BrokenPipe => 13,
            Signal::Terminate => 15,
            Signal::Child => 17,
            Signal::Continue => 18,
            Signal::Pause => 20,
            Signal::FileSizeLimit => 25,
        }
    }

    /// Whether sending it ends a process.
    pub(in crate::sys) fn ends(self) -> bool {
        matches!(
            self,
            Signal::Hangup | Signal::Interrupt | Signal::Quit | Signal::Terminate | Signal::Kill
        )
    }
}

/// What the signal numbered `number` is, for people: the console event
/// for the two that arrive here, else the Unix name (`SIGKILL`), or
/// `signal` for one without a name here.
pub fn name(number: i32) -> &'static str {
    match number {
        1 => "the console's close",
        2 => "Ctrl+C or Ctrl+Break",
        3 => "SIGQUIT",
        9 => "SIGKILL",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => "signal",
    }
}

type Action = Arc<dyn Fn() + Send + Sync>;

/// The installed actions: an id, the signal, what to run.
static ACTIONS: Mutex<Vec<(u64, Signal, Action)>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
static DISPATCH: Once = Once::new();

/// A handler installed by [`on`] or [`Wakeup::wake_on`], until it is
/// [`remove`]d.
#[derive(Debug)]
pub struct Handler(u64);

/// The console's handler: runs the actions for the event's signal, on the
/// thread the system started for it. Without one, the system's default
/// (ending the process) goes on.
unsafe extern "system" fn dispatch(event: u32) -> BOOL {
    let signal = match event {
        CTRL_C_EVENT | CTRL_BREAK_EVENT => Signal::Interrupt,
        CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT => Signal::Hangup,
        _ => return FALSE,
    };
    let actions: Vec<Action> = match ACTIONS.lock() {
        Ok(actions) => actions
            .iter()
            .filter(|(_, of, _)| *of == signal)
            .map(|(_, _, action)| Arc::clone(action))
            .collect(),
        Err(_) => return FALSE,
    };
    if actions.is_empty() {
        return FALSE;
    }
    for action in actions {
        action();
    }
    if signal == Signal::Hangup {
        // Windows ends the process as soon as a handler for a closed
        // console returns (and in any case some seconds later): waiting
        // here gives the run the time to stop its children, clean up and
        // end with its own status, which ends this thread too.
        std::thread::sleep(std::time::Duration::from_secs(4));
    }
    TRUE
}

/// Runs `action` whenever `signal` arrives (besides the handlers already
/// installed for it). A kill cannot be caught: asking for it is an error.
///
/// # Safety
///
/// None beyond the layer's contract: `action` runs on a thread of its own
/// here, so it may do what any thread does.
pub unsafe fn on(signal: Signal, action: impl Fn() + Sync + Send + 'static) -> io::Result<Handler> {
    if signal == Signal::Kill {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    let mut installed = Ok(());
    DISPATCH.call_once(|| {
        // SAFETY: `dispatch` is a valid handler for the life of the
        // process.
        if unsafe { SetConsoleCtrlHandler(Some(dispatch), TRUE) } == 0 {
            installed = Err(io::Error::last_os_error());
        }
    });
    installed?;
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    ACTIONS
        .lock()
        .map_err(|_| io::Error::other("a handler panicked"))?
        .push((id, signal, Arc::new(action)));
    Ok(Handler(id))
}

/// Removes a handler: its signal no longer runs it.
pub fn remove(handler: Handler) {
    if let Ok(mut actions) = ACTIONS.lock() {
        actions.retain(|(id, _, _)| *id != handler.0);
    }
}

/// Whether `signal` is ignored: never known here.
pub fn is_ignored(_signal: Signal) -> bool {
    false
}

/// Ignores Ctrl+C from now on, in this process and the children it
/// starts, when `signal` is the interrupt; nothing for any other.
pub fn ignore(signal: Signal) {
    if signal == Signal::Interrupt {
        // SAFETY: a null handler with TRUE sets the process's flag that
        // ignores Ctrl+C.
        unsafe { SetConsoleCtrlHandler(None, TRUE) };
    }
}

/// Nothing to change: a handler here interrupts no call.
pub fn interrupt_calls(_signal: Signal) -> io::Result<()> {
    Ok(())
}

/// Nothing to unblock: events are never blocked here.
pub fn unblock(_signals: impl IntoIterator<Item = Signal>) -> io::Result<()> {
    Ok(())
}

/// A bell: rung by handlers and other threads, waited on by one.
#[derive(Debug, Default)]
struct Bell {
    rung: Mutex<bool>,
    ringing: Condvar,
}

impl Bell {
    fn ring(&self) {
        if let Ok(mut rung) = self.rung.lock() {
            *rung = true;
            self.ringing.notify_all();
        }
    }
}

/// What wakes one waiting thread ([`Wakeup::wait`]) from a handler or
/// another thread.
#[derive(Debug)]
pub struct Wakeup(Arc<Bell>);

impl Wakeup {
    pub fn new() -> io::Result<Wakeup> {
        Ok(Wakeup(Arc::default()))
    }

    /// Wakes the waiting thread whenever `signal` arrives.
    pub fn wake_on(&self, signal: Signal) -> io::Result<Handler> {
        let bell = Arc::clone(&self.0);
        // SAFETY: ringing the bell is what any thread may do.
        unsafe { on(signal, move || bell.ring()) }
    }

    /// A handle that wakes the waiting thread from another thread.
    pub fn waker(&self) -> io::Result<Waker> {
        Ok(Waker(Arc::clone(&self.0)))
    }

    /// Sleeps until something wakes it or `timeout` passes, whichever is
    /// first.
    pub fn wait(&self, timeout: Duration) {
        if timeout.is_zero() {
            return;
        }
        let Ok(rung) = self.0.rung.lock() else {
            std::thread::sleep(timeout);
            return;
        };
        if let Ok((mut rung, _)) = self
            .0
            .ringing
            .wait_timeout_while(rung, timeout, |rung| !*rung)
        {
            *rung = false;
        }
    }
}

/// Wakes the thread waiting in [`Wakeup::wait`], as a signal would.
#[derive(Debug)]
pub struct Waker(Arc<Bell>);

impl Waker {
    pub fn wake(&self) {
        self.0.ring();
    }
}
