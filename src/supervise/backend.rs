//! What the supervision loop needs of the place where attempts run: start
//! them, say whether one has ended and what it amounted to, signal them,
//! and clean up at the end. The loop makes every decision; a backend only
//! carries them out and reports what it sees, so a backend with a fake
//! underneath (see `array`'s tests) lets every decision be tested without
//! processes or a cluster.

use std::time::Instant;

use crate::polymer::UnitType;
use crate::signals::Signals;

/// What marks an attempt's start: its time limit counts from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At the spawn: a child started directly.
    Spawn,
    /// At the spawn, moved to the start mark if one comes: a launcher that
    /// may or may not queue.
    SpawnUntilMark,
    /// Only at the start mark: a scheduler's queue may hold the attempt for
    /// any time before its work starts.
    Mark,
}

/// An attempt the backend has started.
pub struct Started<T> {
    pub handle: T,
    /// When it was spawned or submitted.
    pub spawned: Instant,
    /// When its work started, if known at once (a direct child's, once its
    /// exec succeeded).
    pub started: Option<Instant>,
    pub start: Start,
    /// Where it runs, when known at once.
    pub host: Option<String>,
}

/// Why an attempt could not be started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartError {
    pub reason: String,
    /// Whether the same start may succeed if tried again soon (the system
    /// was out of processes or memory for the moment); else it would fail
    /// the same way every time.
    pub may_pass: bool,
}

impl StartError {
    /// A start that would fail the same way every time.
    pub fn lasting(reason: impl Into<String>) -> StartError {
        StartError {
            reason: reason.into(),
            may_pass: false,
        }
    }
}

impl From<std::io::Error> for StartError {
    /// The system's error; whether it may pass is the system's to say.
    fn from(err: std::io::Error) -> StartError {
        StartError {
            may_pass: crate::sys::process::start_may_pass(&err),
            reason: err.to_string(),
        }
    }
}

/// What a start mark said: when the work started, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub at: Instant,
    pub host: Option<String>,
}

/// A signal from the loop to an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Ask it to stop (SIGTERM; a cancellation in a queue).
    Stop,
    /// Make it stop (SIGKILL).
    Kill,
}

/// What an ended attempt amounted to, as far as the backend can tell.
#[derive(Clone, Debug)]
pub struct Concluded {
    pub outcome: super::Outcome,
    /// Where it ran, if the backend learnt it only at the end.
    pub host: Option<String>,
    /// The last lines it wrote to stderr.
    pub stderr_tail: Vec<String>,
}

/// The place attempts run.
pub trait Backend {
    /// The backend's handle on one attempt in flight.
    type Handle;

    /// At most this many attempts are started in one pass of the loop.
    fn batch_size(&self) -> usize;

    /// Starts attempts at `wanted` (letter, attempt number): one result
    /// each, in order; an error says why that one could not start, and
    /// whether trying again may help.
    fn start(
        &mut self,
        wanted: &[(UnitType, u32)],
    ) -> Vec<Result<Started<Self::Handle>, StartError>>;

    /// Looks at the world once per pass, before tasks are asked about
    /// (for example asks the queue what it still holds).
    fn refresh(&mut self, _now: Instant) {}

    /// The attempt's start mark, the first time it is seen.
    fn look(&mut self, handle: &mut Self::Handle) -> Option<Mark>;

    /// Whether the attempt has ended: nothing of it runs any more, or
    /// nothing ever will.
    fn has_ended(&mut self, handle: &mut Self::Handle) -> bool;

    fn signal(&mut self, handle: &mut Self::Handle, signal: Signal);

    /// What the ended attempt amounted to. `stopped` when the loop stopped
    /// it (its outcome is then the loop's), for what stopping needs besides
    /// signals.
    fn conclude(&mut self, handle: Self::Handle, stopped: bool) -> Concluded;

    /// Nothing is in flight any more (for now).
    fn idle(&mut self) {}

    /// The loop is over: finish clean-ups, leave nothing behind. Bounded,
    /// and shorter after a stop signal (`interrupted`).
    fn finish(&mut self, signals: &Signals, interrupted: bool);
}
