//! The vocabulary of supervision: how one attempt at one letter ended, and
//! when it was spawned, started its work and finished.
//!
//! Three moments, one name each, everywhere (code, job log, timeline):
//! *spawned* (the child process was created), *started* (its work began:
//! at once for a direct child, after any queueing under a launcher such as
//! `srun`), *finished* (`started` + `duration`).

use std::fmt;
use std::time::Duration;

use crate::polymer::UnitType;

/// How one attempt at one letter ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A valid result: the reacted length.
    Ok(usize),
    /// A valid result kept from an earlier run of the same job (`--resume`):
    /// no child ran.
    Kept(usize),
    /// The child exited with this non-zero status.
    Exit(i32),
    /// The child was killed by this signal (not by us).
    Signal(i32),
    /// The child ran past `--timeout` and was stopped.
    Timeout,
    /// The child exited successfully without writing its result file.
    NoResult,
    /// The result file is unusable; holds why, for the error line.
    BadResult(String),
    /// The child could not be started.
    SpawnError(String),
    /// A Slurm array task left the queue without reporting its exit.
    Lost,
    /// Stopped (or taken off a queue) by the orchestrator because the run
    /// was ending.
    Cancelled,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        self.length().is_some()
    }

    /// Whether the result was kept from an earlier run: no child ran.
    pub fn is_kept(&self) -> bool {
        matches!(self, Outcome::Kept(_))
    }

    /// The reacted length, for a result found now or kept from before.
    pub fn length(&self) -> Option<usize> {
        match self {
            Outcome::Ok(length) | Outcome::Kept(length) => Some(*length),
            _ => None,
        }
    }

    /// Whether the letter itself failed: neither a result nor stopped as
    /// collateral of the run ending. Only these are retried and reported.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Ok(_) | Outcome::Kept(_) | Outcome::Cancelled)
    }

    /// The short tag used in job logs: `ok`, `exit 3`, `signal 9`, ...
    pub fn tag(&self) -> String {
        match self {
            Outcome::Ok(_) => "ok".into(),
            // The job log keeps the name scripts filter it by.
            Outcome::Kept(_) => "cached".into(),
            Outcome::Exit(code) => format!("exit {code}"),
            Outcome::Signal(signal) => format!("signal {signal}"),
            Outcome::Timeout => "timeout".into(),
            Outcome::NoResult => "no-result".into(),
            Outcome::BadResult(_) => "bad-result".into(),
            Outcome::SpawnError(_) => "spawn-error".into(),
            Outcome::Lost => "lost".into(),
            Outcome::Cancelled => "cancelled".into(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(length) => write!(f, "reacted to {length} units"),
            Outcome::Kept(length) => write!(f, "reacted to {length} units in an earlier run"),
            Outcome::Exit(code) => write!(f, "exited with status {code}"),
            Outcome::Signal(signal) => {
                write!(f, "killed by signal {signal} ({})", signal_name(*signal))
            }
            Outcome::Timeout => write!(f, "timed out and was stopped"),
            Outcome::NoResult => write!(f, "exited successfully without writing its result file"),
            Outcome::BadResult(why) => write!(f, "wrote a malformed result file ({why})"),
            Outcome::SpawnError(reason) => write!(f, "could not be started: {reason}"),
            Outcome::Lost => write!(f, "left the Slurm queue without reporting its exit status"),
            Outcome::Cancelled => write!(f, "was cancelled because the run ended"),
        }
    }
}

/// The conventional name of a signal, for people.
pub fn signal_name(signal: i32) -> &'static str {
    crate::sys::signals::name(signal)
}

/// One attempt at one letter, as the job log and timeline show it.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub letter: UnitType,
    /// 1 for the first try, 2 for the first retry, ...
    pub attempt: u32,
    /// When the child was spawned, from the start of the run.
    pub spawned: Duration,
    /// When its work started (after any queueing by a launcher); `spawned`
    /// when unknown.
    pub started: Duration,
    /// From `started` to the end of the attempt.
    pub duration: Duration,
    /// The host it ran on, when known.
    pub host: Option<String>,
    pub outcome: Outcome,
    /// The last lines the child wrote to stderr, for failures.
    pub stderr_tail: Vec<String>,
}
