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
    /// `None` only while dropping: the sender must be gone before the
    /// waiting thread is woken to see that it is.
    sender: Option<Sender<T>>,
    waker: Waker,
    cancelled: Arc<AtomicBool>,
}

impl<T> Emit<T> {
    pub fn send(&self, item: T) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(item);
        }
        self.waker.wake();
    }

    /// Whether the waiting thread has given up on the work.
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

impl<T> Drop for Emit<T> {
    fn drop(&mut self) {
        // The last worker to end wakes the waiting thread to see it: after
        // its sender is dropped, or the waiting thread could look too early
        // and sleep through the end.
        drop(self.sender.take());
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
    on_item: impl FnMut(T),
) -> anyhow::Result<()> {
    // A safety net only: workers wake the waiting thread when they emit
    // and when they end.
    run_polling(signals, workers, on_item, Duration::from_millis(100))
}

fn run_polling<T: Send + 'static>(
    signals: &Signals,
    workers: Vec<Box<dyn FnOnce(Emit<T>) + Send>>,
    mut on_item: impl FnMut(T),
    poll: Duration,
) -> anyhow::Result<()> {
    let (sender, receiver) = mpsc::channel();
    let cancelled = Arc::new(AtomicBool::new(false));
    for work in workers {
        let emit = Emit {
            sender: Some(sender.clone()),
            waker: signals
                .waker()
                .context("could not set up a worker thread")?,
            cancelled: Arc::clone(&cancelled),
        };
        let spawned = std::thread::Builder::new().spawn(move || work(emit));
        if let Err(err) = spawned {
            cancelled.store(true, Ordering::Relaxed);
            // The kernel refuses a thread (EINVAL) to a process whose new
            // processes go into a PID namespace it is not in itself.
            if crate::sys::contain::is_thread_refused(&err) {
                anyhow::bail!(
                    "could not start a thread: this process was started in a PID namespace \
                     it is not a member of (as `unshare --pid` without `--fork` does); start \
                     it with `unshare --pid --fork`"
                );
            }
            return Err(err).context("could not start a thread");
        }
    }
    drop(sender);
    let result = watch(signals, &receiver, &mut on_item, poll);
    if result.is_err() {
        cancelled.store(true, Ordering::Relaxed);
    }
    result
}

fn watch<T>(
    signals: &Signals,
    receiver: &Receiver<T>,
    on_item: &mut impl FnMut(T),
    poll: Duration,
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
        signals.wait(poll);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the last worker woke the waiting thread before its
    /// sender was gone, so the end was seen only at the next poll (100 ms
    /// on every phase). With an hour between polls, a lost wake-up hangs
    /// this test, and its deadline catches that.
    #[test]
    fn the_end_of_the_work_wakes_the_waiting_thread() {
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let signals = Signals::install().unwrap();
            for round in 0..200u32 {
                let mut got = Vec::new();
                // The worker ends while the waiting thread waits (the pause
                // only makes that likely; the test holds either way).
                let workers: Vec<Box<dyn FnOnce(Emit<u32>) + Send>> = vec![Box::new(move |emit| {
                    std::thread::sleep(Duration::from_micros(300));
                    emit.send(round)
                })];
                run_polling(
                    &signals,
                    workers,
                    |item| got.push(item),
                    Duration::from_secs(3600),
                )
                .unwrap();
                assert_eq!(got, [round]);
            }
            let _ = done.send(());
        });
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("every round ended without waiting for a poll");
    }
}
