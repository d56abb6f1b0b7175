//! Work that may take long and cannot be interrupted from inside (a read
//! blocked on a FIFO, a gigabyte being reacted) runs on threads of its own,
//! while the calling thread waits on the signals. A stop signal is then
//! answered at once: the caller returns [`Interrupted`], cleans up, and the
//! process exits with the workers still blocked, which the kernel ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Duration;

use anyhow::Context;

use super::Interrupted;
use crate::signals::{Signals, Waker};

/// A worker's way to hand items to the waiting thread, and to hear that the
/// run is stopping.
pub struct Emit<T> {
    sender: Sender<T>,
    waker: Waker,
    cancelled: Arc<AtomicBool>,
}

impl<T> Emit<T> {
    pub fn send(&self, item: T) {
        let _ = self.sender.send(item);
        self.waker.wake();
    }

    /// Whether the waiting thread has given up on the work.
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Emit<T> {
    fn drop(&mut self) {
        // The last worker to end wakes the waiting thread to see it.
        self.waker.wake();
    }
}

/// Runs each of `workers` on a thread of its own and hands every item they
/// emit to `on_item`, on the calling thread, until all have ended. Returns
/// early with [`Interrupted`] on a stop signal, and with an error when a
/// thread cannot be started.
pub fn run<T: Send + 'static>(
    signals: &Signals,
    workers: Vec<Box<dyn FnOnce(Emit<T>) + Send>>,
    mut on_item: impl FnMut(T),
) -> anyhow::Result<()> {
    let (sender, receiver) = mpsc::channel();
    let cancelled = Arc::new(AtomicBool::new(false));
    for work in workers {
        let emit = Emit {
            sender: sender.clone(),
            waker: signals
                .waker()
                .context("could not set up a worker thread")?,
            cancelled: Arc::clone(&cancelled),
        };
        let spawned = std::thread::Builder::new().spawn(move || work(emit));
        if let Err(err) = spawned {
            cancelled.store(true, Ordering::Relaxed);
            return Err(err).context("could not start a thread");
        }
    }
    drop(sender);
    let result = watch(signals, &receiver, &mut on_item);
    if result.is_err() {
        cancelled.store(true, Ordering::Relaxed);
    }
    result
}

fn watch<T>(
    signals: &Signals,
    receiver: &Receiver<T>,
    on_item: &mut impl FnMut(T),
) -> anyhow::Result<()> {
    loop {
        if let Some(signal) = signals.stop_signal() {
            return Err(Interrupted { signal }.into());
        }
        loop {
            match receiver.try_recv() {
                Ok(item) => on_item(item),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        signals.wait(Duration::from_millis(100));
    }
}

/// Runs `work` on a thread of its own and returns its value, or
/// [`Interrupted`] as soon as a stop signal arrives.
pub fn one<T: Send + 'static>(
    signals: &Signals,
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let mut value = None;
    let worker: Box<dyn FnOnce(Emit<T>) + Send> = Box::new(move |emit| emit.send(work()));
    run(signals, vec![worker], |item| value = Some(item))?;
    value.context("a worker thread ended without its result")
}
