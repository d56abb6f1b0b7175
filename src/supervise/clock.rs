//! The time the supervision loop and its backends go by, passed in: the
//! system's in a run, a fake in tests, so that timeouts, escalation,
//! back-off and a queue's waits are decided in a test without sleeping.
//!
//! Not here: what the times mean (the [`Policy`](super::Policy)).

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};

use crate::signals::Signals;

/// Where the time comes from, and how to wait for it.
pub trait Clock {
    /// The time now.
    fn now(&self) -> Instant;

    /// The time now, and the wall-clock time with it (read together, so
    /// that a time another machine wrote converts without drift).
    fn now_and_wall(&self) -> (Instant, SystemTime);

    /// Waits until a signal comes (a child's exit, a stop request) or
    /// `timeout` has passed.
    fn wait(&self, signals: &Signals, timeout: Duration);
}

/// The system's monotonic clock: waits really wait.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn now_and_wall(&self) -> (Instant, SystemTime) {
        (Instant::now(), SystemTime::now())
    }

    fn wait(&self, signals: &Signals, timeout: Duration) {
        signals.wait(timeout);
    }
}

/// A clock that moves only when waited on (by the whole wait: no signal
/// ever comes early) or when moved on by hand.
#[derive(Debug)]
pub struct FakeClock {
    now: Cell<Instant>,
    /// The wall-clock time when `now` was where it started.
    wall: SystemTime,
    started: Instant,
    waited: Cell<Duration>,
}

impl Default for FakeClock {
    fn default() -> FakeClock {
        let started = Instant::now();
        FakeClock {
            now: Cell::new(started),
            wall: SystemTime::now(),
            started,
            waited: Cell::new(Duration::ZERO),
        }
    }
}

impl FakeClock {
    /// Moves the time on by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }

    /// How long everything has waited on this clock in all.
    pub fn waited(&self) -> Duration {
        self.waited.get()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.now.get()
    }

    fn now_and_wall(&self) -> (Instant, SystemTime) {
        let now = self.now.get();
        (now, self.wall + (now - self.started))
    }

    fn wait(&self, _signals: &Signals, timeout: Duration) {
        // A wait of nothing still moves the time a little: a loop that
        // waits for nothing must not spin forever at one instant.
        let step = timeout.max(Duration::from_micros(1));
        self.waited.set(self.waited.get() + step);
        self.advance(step);
    }
}
