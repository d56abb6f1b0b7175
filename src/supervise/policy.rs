//! The decisions of supervision, with no process in sight: when a letter is
//! tried again, when a failure stops the run, when a child is past its time,
//! when a stop turns into a kill, and how long the loop may sleep. Every
//! function takes the time it decides about (`now`), so the tests drive a
//! fake clock.

use std::time::{Duration, Instant};

use super::attempt::{Attempt, Outcome};

/// How many times a start refused for a reason that may pass is tried in
/// all before the attempt counts as not started.
pub const START_TRIES: u32 = 5;

/// The first pause before a refused start is tried again.
pub const FIRST_START_PAUSE: Duration = Duration::from_millis(50);

/// How children are supervised.
#[derive(Clone, Debug)]
pub struct Policy {
    /// At most this many children alive at once (at least 1).
    pub concurrency: usize,
    /// Per-attempt wall-clock limit.
    pub timeout: Option<Duration>,
    /// Run every letter even after a failure.
    pub keep_going: bool,
    /// Extra attempts for a failed letter.
    pub retries: u32,
    /// Time between SIGTERM and SIGKILL when stopping a child.
    pub grace: Duration,
    /// The first poll interval; it doubles while nothing happens...
    pub first_poll: Duration,
    /// ...up to this.
    pub max_poll: Duration,
    /// How often a scheduler's queue is asked what it still holds (each
    /// question costs the controller a request).
    pub queue_poll: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            concurrency: 26,
            timeout: None,
            keep_going: false,
            retries: 0,
            grace: Duration::from_secs(2),
            first_poll: Duration::from_millis(1),
            max_poll: Duration::from_millis(50),
            queue_poll: Duration::from_millis(500),
        }
    }
}

/// Where a child is in its life, as far as supervision is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Life {
    /// Working, with the moment it is out of time.
    Running { deadline: Option<Instant> },
    /// Asked to stop at `since` (SIGTERM, or a cancellation in a queue);
    /// the attempt will count as `counts_as`.
    Stopping { since: Instant, counts_as: Outcome },
    /// Sent SIGKILL after stopping; only its end is awaited.
    Killed { counts_as: Outcome },
}

impl Life {
    /// The same life with its clock moved on by `paused`: time the run
    /// spent paused (Ctrl+Z) does not count against a deadline or a grace
    /// period.
    pub fn shifted(self, paused: Duration) -> Life {
        match self {
            Life::Running { deadline } => Life::Running {
                deadline: deadline.map(|d| d + paused),
            },
            Life::Stopping { since, counts_as } => Life::Stopping {
                since: since + paused,
                counts_as,
            },
            killed @ Life::Killed { .. } => killed,
        }
    }

    /// What the attempt counts as if it was being stopped, whatever its exit.
    pub fn counts_as(&self) -> Option<&Outcome> {
        match self {
            Life::Running { .. } => None,
            Life::Stopping { counts_as, .. } | Life::Killed { counts_as } => Some(counts_as),
        }
    }
}

/// What a living child needs from the loop now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Escalation {
    /// Send SIGTERM to its group; the attempt counts as this.
    Stop(Outcome),
    /// Send SIGKILL to its group.
    Kill,
}

/// What follows an ended attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Run the letter again.
    Retry,
    /// The letter is settled; `halt` when the run must stop because of it.
    Settled { halt: bool },
}

impl Policy {
    /// A life for a child spawned at `spawned`.
    pub fn life_from(&self, spawned: Instant) -> Life {
        Life::Running {
            deadline: self.timeout.map(|timeout| spawned + timeout),
        }
    }

    /// How many more attempts may be in flight next to `running` others.
    pub fn room(&self, running: usize) -> usize {
        self.concurrency.max(1).saturating_sub(running)
    }

    /// After an attempt ends: try the letter again, or settle it (and halt
    /// the run on a final failure without `--keep-going`).
    pub fn after(&self, attempt: &Attempt) -> Next {
        let failed = attempt.outcome.is_failure();
        if failed && attempt.attempt <= self.retries {
            Next::Retry
        } else {
            Next::Settled {
                halt: failed && !self.keep_going,
            }
        }
    }

    /// What a child in `life` needs at `now`; `hurry` when a second stop
    /// request asked to skip the grace period.
    pub fn escalation(&self, life: &Life, now: Instant, hurry: bool) -> Option<Escalation> {
        match life {
            Life::Running { deadline } => deadline
                .is_some_and(|deadline| now >= deadline)
                .then_some(Escalation::Stop(Outcome::Timeout)),
            Life::Stopping { since, .. } => {
                (hurry || now >= *since + self.grace).then_some(Escalation::Kill)
            }
            Life::Killed { .. } => None,
        }
    }

    /// After the `refusals`-th start of an attempt refused in a row for a
    /// reason that may pass (the system out of processes or memory for the
    /// moment): how long to hold every start before trying it again, or
    /// `None` when it has been tried [`START_TRIES`] times and failed.
    /// The pauses double from [`FIRST_START_PAUSE`]: 50, 100, 200, 400 ms.
    pub fn start_again(&self, refusals: u32) -> Option<Duration> {
        (refusals < START_TRIES).then(|| FIRST_START_PAUSE * 2u32.pow(refusals.saturating_sub(1)))
    }

    /// The latest moment the loop must look at a child in `life` again.
    pub fn wake_at(&self, life: &Life) -> Option<Instant> {
        match life {
            Life::Running { deadline } => *deadline,
            Life::Stopping { since, .. } => Some(*since + self.grace),
            Life::Killed { .. } => None,
        }
    }
}

/// The poll interval: short right after something happened, doubling while
/// nothing does, so a quick run is seen at once and a long one costs little.
/// (SIGCHLD wakes the loop early anyway; polling is the safety net.)
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    interval: Duration,
    first: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(policy: &Policy) -> Backoff {
        Backoff {
            interval: policy.first_poll,
            first: policy.first_poll,
            max: policy.max_poll.max(policy.first_poll),
        }
    }

    /// The next sleep: back to the first interval after a change.
    pub fn next(&mut self, changed: bool) -> Duration {
        self.interval = if changed {
            self.first
        } else {
            (self.interval * 2).min(self.max)
        };
        self.interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polymer::UnitType;

    fn ended(attempt: u32, outcome: Outcome) -> Attempt {
        Attempt {
            letter: UnitType::from_ascii(b'c').unwrap(),
            attempt,
            spawned: Duration::ZERO,
            started: Duration::ZERO,
            duration: Duration::ZERO,
            host: None,
            outcome,
            stderr_tail: Vec::new(),
        }
    }

    fn policy(retries: u32, keep_going: bool) -> Policy {
        Policy {
            retries,
            keep_going,
            timeout: Some(Duration::from_secs(5)),
            grace: Duration::from_secs(2),
            ..Policy::default()
        }
    }

    #[track_caller]
    fn case(policy: &Policy, attempt: u32, outcome: Outcome, expected: Next) {
        assert_eq!(
            policy.after(&ended(attempt, outcome.clone())),
            expected,
            "{outcome:?}"
        );
    }

    #[test]
    fn a_refused_start_waits_50_100_200_400_ms_then_fails_at_the_fifth() {
        let p = Policy::default();
        let ms = Duration::from_millis;
        assert_eq!(p.start_again(1), Some(ms(50)));
        assert_eq!(p.start_again(2), Some(ms(100)));
        assert_eq!(p.start_again(3), Some(ms(200)));
        assert_eq!(p.start_again(4), Some(ms(400)));
        assert_eq!(p.start_again(START_TRIES), None);
        assert_eq!(p.start_again(100), None);
    }

    #[test]
    fn a_failure_is_retried_while_retries_are_left_then_halts_the_run() {
        let p = policy(2, false);
        case(&p, 1, Outcome::Exit(3), Next::Retry);
        case(&p, 2, Outcome::Timeout, Next::Retry);
        case(&p, 3, Outcome::NoResult, Next::Settled { halt: true });
        case(&p, 1, Outcome::Ok(4), Next::Settled { halt: false });
    }

    #[test]
    fn keep_going_settles_failures_without_halting() {
        let p = policy(0, true);
        case(&p, 1, Outcome::Signal(11), Next::Settled { halt: false });
        case(
            &p,
            1,
            Outcome::BadResult("x".into()),
            Next::Settled { halt: false },
        );
    }

    #[test]
    fn an_attempt_cancelled_because_the_run_ended_is_neither_retried_nor_a_failure() {
        case(
            &policy(5, false),
            1,
            Outcome::Cancelled,
            Next::Settled { halt: false },
        );
    }

    #[test]
    fn a_child_past_its_deadline_is_stopped_then_killed_after_the_grace_period() {
        let p = policy(0, false);
        let t0 = Instant::now();
        let life = p.life_from(t0);
        assert_eq!(
            p.escalation(&life, t0 + Duration::from_millis(4999), false),
            None
        );
        assert_eq!(
            p.escalation(&life, t0 + Duration::from_secs(5), false),
            Some(Escalation::Stop(Outcome::Timeout))
        );
        let stopping = Life::Stopping {
            since: t0 + Duration::from_secs(5),
            counts_as: Outcome::Timeout,
        };
        assert_eq!(p.wake_at(&stopping), Some(t0 + Duration::from_secs(7)));
        assert_eq!(
            p.escalation(&stopping, t0 + Duration::from_secs(6), false),
            None
        );
        assert_eq!(
            p.escalation(&stopping, t0 + Duration::from_secs(7), false),
            Some(Escalation::Kill)
        );
        let killed = Life::Killed {
            counts_as: Outcome::Timeout,
        };
        assert_eq!(
            p.escalation(&killed, t0 + Duration::from_secs(99), true),
            None
        );
        assert_eq!(p.wake_at(&killed), None);
    }

    #[test]
    fn a_second_stop_request_skips_the_grace_period() {
        let p = policy(0, false);
        let t0 = Instant::now();
        let stopping = Life::Stopping {
            since: t0,
            counts_as: Outcome::Cancelled,
        };
        assert_eq!(p.escalation(&stopping, t0, true), Some(Escalation::Kill));
    }

    #[test]
    fn time_spent_paused_moves_deadlines_and_grace_periods_on() {
        let t0 = Instant::now();
        let paused = Duration::from_secs(7);
        let running = Life::Running {
            deadline: Some(t0 + Duration::from_secs(5)),
        };
        assert_eq!(
            running.shifted(paused),
            Life::Running {
                deadline: Some(t0 + Duration::from_secs(12))
            }
        );
        let unbounded = Life::Running { deadline: None };
        assert_eq!(unbounded.clone().shifted(paused), unbounded);
        let stopping = Life::Stopping {
            since: t0,
            counts_as: Outcome::Timeout,
        };
        assert_eq!(
            stopping.shifted(paused),
            Life::Stopping {
                since: t0 + paused,
                counts_as: Outcome::Timeout
            }
        );
        // A deadline that a pause carried past `now` no longer fires.
        let policy = Policy {
            timeout: Some(Duration::from_secs(5)),
            ..Policy::default()
        };
        let life = policy.life_from(t0).shifted(paused);
        assert_eq!(
            policy.escalation(&life, t0 + Duration::from_secs(6), false),
            None
        );
    }

    #[test]
    fn without_a_timeout_a_running_child_is_left_alone() {
        let p = Policy::default();
        let t0 = Instant::now();
        let life = p.life_from(t0);
        assert_eq!(life, Life::Running { deadline: None });
        assert_eq!(
            p.escalation(&life, t0 + Duration::from_secs(1 << 30), false),
            None
        );
        assert_eq!(p.wake_at(&life), None);
    }

    #[test]
    fn the_concurrency_bounds_the_children_alive_at_once() {
        let p = Policy {
            concurrency: 2,
            ..Policy::default()
        };
        assert_eq!(p.room(1), 1);
        assert_eq!(p.room(2), 0);
        assert_eq!(p.room(3), 0);
        let zero = Policy {
            concurrency: 0,
            ..Policy::default()
        };
        assert_eq!(zero.room(0), 1, "at least one child runs");
    }

    #[test]
    fn the_poll_interval_doubles_while_idle_and_resets_on_change() {
        let mut backoff = Backoff::new(&Policy::default());
        let sleeps: Vec<u128> = [false, false, false, false, false, false, false, true]
            .into_iter()
            .map(|changed| backoff.next(changed).as_millis())
            .collect();
        assert_eq!(sleeps, [2, 4, 8, 16, 32, 50, 50, 1]);
    }
}
