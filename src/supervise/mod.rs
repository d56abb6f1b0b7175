//! Supervision of attempts: start them (at most `concurrency` at once), see each
//! one end, read its result only then, stop attempts on timeout, failure or
//! a stop signal, retry what failed, and never leave one (or anything one
//! started) behind.
//!
//! Where children run is decided once, as a [`placement::Placement`]; there
//! is one loop, [`Supervisor`], for every placement: children of
//! orchestrate, started directly or behind a launcher such as `srun`
//! ([`local::Local`]), and the tasks of a Slurm job array
//! ([`array::Array`], with the queue behind [`queue::Queue`]). The loop is a
//! few named steps over a small state: the letters waiting, the attempts in
//! flight (each with its [`Life`]), the attempts ended. What to do in each
//! case is decided by the [`Policy`]; a [`Backend`] carries the decisions
//! out and says what it sees; both go by a [`Clock`] passed in, so every
//! decision in time is tested on a fake one, without processes.
//!
//! Not here: deciding what to run (the orchestrator) or how to show it (the
//! report).

pub mod array;
pub mod attempt;
mod backend;
pub(crate) mod child;
pub mod clock;
#[cfg(test)]
pub(crate) mod fake_queue;
pub mod local;
pub mod placement;
pub mod policy;
pub mod queue;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use attempt::{Attempt, Outcome};
pub use backend::{Backend, Concluded, Mark, Signal, Start, StartError, Started};
pub use child::ChildProgram;
pub use clock::{Clock, SystemClock};
pub use policy::{Backoff, Life, Next, Policy};

use crate::polymer::UnitType;
use crate::signals::Signals;

/// What supervising a batch produced.
#[derive(Debug)]
pub struct Supervision {
    /// Every attempt, in the order they ended.
    pub attempts: Vec<Attempt>,
    /// The stopping signal, if one ended the run early.
    pub interrupted: Option<i32>,
}

/// One attempt in flight.
struct InFlight<T> {
    letter: UnitType,
    attempt: u32,
    handle: T,
    spawned: Instant,
    /// When its work started, once known.
    started: Option<Instant>,
    /// Where it runs, once known.
    host: Option<String>,
    start: Start,
    life: Life,
}

impl<T> InFlight<T> {
    /// Takes in what the start mark says, the first time it is seen.
    fn heed_mark(&mut self, mark: backend::Mark, policy: &Policy) {
        if self.started.is_none() {
            self.started = Some(mark.at);
            // The time limit counts from the start of the work, not from a
            // spawn or submission that may have sat in a queue.
            if let Life::Running { .. } = self.life
                && self.start != Start::Spawn
            {
                self.life = policy.life_from(mark.at);
            }
        }
        if mark.host.is_some() {
            self.host = mark.host;
        }
    }
}

/// The supervision of one batch of letters, from the first start to the
/// last attempt's end.
pub struct Supervisor<'a, B: Backend> {
    backend: B,
    policy: &'a Policy,
    signals: &'a Signals,
    clock: &'a dyn Clock,
    epoch: Instant,
    settled: &'a mut dyn FnMut(&Attempt),
    /// Letters waiting to be started, with their attempt number.
    waiting: VecDeque<(UnitType, u32)>,
    flying: Vec<InFlight<B::Handle>>,
    attempts: Vec<Attempt>,
    /// How many times in a row each attempt's start was refused for a
    /// reason that may pass.
    refusals: Vec<((UnitType, u32), u32)>,
    /// Until when nothing is started, after such a refusal.
    held_until: Option<Instant>,
    /// Set once the run is ending: nothing more is started.
    halted: bool,
    interrupted: Option<i32>,
}

/// What a supervision goes by: the policy, the signals it heeds, the
/// clock, and the run's epoch (attempts' times are told from it).
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub signals: &'a Signals,
    pub clock: &'a dyn Clock,
    pub epoch: Instant,
}

impl<'a, B: Backend> Supervisor<'a, B> {
    /// A supervision over `backend`; `settled` hears of each letter's
    /// final attempt (a retried one's failures too once the run halts).
    pub fn new(
        backend: B,
        context: Context<'a>,
        settled: &'a mut dyn FnMut(&Attempt),
    ) -> Supervisor<'a, B> {
        let Context {
            policy,
            signals,
            clock,
            epoch,
        } = context;
        Supervisor {
            backend,
            policy,
            signals,
            clock,
            epoch,
            settled,
            waiting: VecDeque::new(),
            flying: Vec::new(),
            attempts: Vec::new(),
            refusals: Vec::new(),
            held_until: None,
            halted: false,
            interrupted: None,
        }
    }

    /// Takes over attempts started before this supervisor (the tasks of an
    /// earlier run's job array, on `--resume`).
    pub fn adopt(&mut self, letter: UnitType, attempt: u32, started: Started<B::Handle>) {
        self.fly(letter, attempt, started);
    }

    /// Runs `letters` (each with the number of its next attempt) to an
    /// outcome, honouring the policy, and returns when nothing of theirs is
    /// left running.
    pub fn run(mut self, letters: impl IntoIterator<Item = (UnitType, u32)>) -> Supervision {
        self.waiting.extend(letters);
        let mut backoff = Backoff::new(self.policy);
        let mut paused_for = crate::signals::paused().0;
        while !self.is_done() {
            self.heed_stop_requests();
            // Time spent paused moves every clock on; while paused, nothing
            // is decided by the clock.
            let (paused, paused_now) = crate::signals::paused();
            if paused > paused_for {
                self.shift_lives(paused - paused_for);
                paused_for = paused;
            }
            // A few starts per pass: attempts that end while the others are
            // still being started are seen (and timed) at once.
            let started = self.start_next();
            let ended = self.collect_ends(!started);
            let escalated = !paused_now && self.escalate();
            if !started {
                let pause = backoff.next(ended || escalated);
                self.sleep(pause);
            }
        }
        self.backend
            .finish(self.signals, self.interrupted.is_some());
        Supervision {
            attempts: self.attempts,
            interrupted: self.interrupted,
        }
    }

    /// Moves every running attempt's clock on by `paused`.
    fn shift_lives(&mut self, paused: Duration) {
        for flight in &mut self.flying {
            let life = std::mem::replace(&mut flight.life, Life::Running { deadline: None });
            flight.life = life.shifted(paused);
        }
    }

    fn is_done(&self) -> bool {
        self.flying.is_empty() && (self.halted || self.waiting.is_empty())
    }

    /// On a stop signal: halt, and start stopping every attempt.
    fn heed_stop_requests(&mut self) {
        if self.interrupted.is_none() && self.signals.stop_requests() > 0 {
            self.interrupted = self.signals.stop_signal();
            self.halt(self.clock.now());
        }
    }

    fn halt(&mut self, now: Instant) {
        self.halted = true;
        for index in 0..self.flying.len() {
            self.stop(index, now, Outcome::Cancelled);
        }
    }

    /// Starts stopping a running attempt; one already being stopped is
    /// left as it is.
    fn stop(&mut self, index: usize, now: Instant, counts_as: Outcome) {
        let flight = &mut self.flying[index];
        if let Life::Running { .. } = flight.life {
            self.backend.signal(&mut flight.handle, Signal::Stop);
            flight.life = Life::Stopping {
                since: now,
                counts_as,
            };
        }
    }

    /// Whether starts are held after a refusal that may pass.
    fn is_held(&self, now: Instant) -> bool {
        self.held_until.is_some_and(|until| now < until)
    }

    /// Starts as many waiting letters as there is room for and the backend
    /// takes in one go; whether it tried.
    fn start_next(&mut self) -> bool {
        if self.halted || self.is_held(self.clock.now()) {
            return false;
        }
        let room = self.policy.room(self.flying.len());
        let count = room.min(self.backend.batch_size()).min(self.waiting.len());
        if count == 0 {
            return false;
        }
        let wanted: Vec<(UnitType, u32)> = self.waiting.drain(..count).collect();
        let results = self.backend.start(&wanted);
        let mut again = Vec::new();
        for (&(letter, attempt), result) in wanted.iter().zip(results) {
            match result {
                Ok(started) => {
                    self.refusals.retain(|&(of, _)| of != (letter, attempt));
                    self.fly(letter, attempt, started);
                }
                Err(refused) => {
                    if let Some(reason) = self.refused(letter, attempt, refused) {
                        let now = self.clock.now().saturating_duration_since(self.epoch);
                        self.settle(Attempt {
                            letter,
                            attempt,
                            spawned: now,
                            started: now,
                            duration: Duration::ZERO,
                            host: None,
                            outcome: Outcome::SpawnError(reason),
                            stderr_tail: Vec::new(),
                        });
                    } else {
                        again.push((letter, attempt));
                    }
                }
            }
        }
        // First in the queue again, in their order.
        for wanted in again.into_iter().rev() {
            self.waiting.push_front(wanted);
        }
        true
    }

    /// Takes in a refused start: `None` when it is to be tried again (and
    /// every start is held until then), else why the attempt failed.
    fn refused(&mut self, letter: UnitType, attempt: u32, refused: StartError) -> Option<String> {
        let key = (letter, attempt);
        let refusals = match self.refusals.iter_mut().find(|(of, _)| *of == key) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                self.refusals.push((key, 1));
                1
            }
        };
        let pause = refused
            .may_pass
            .then(|| self.policy.start_again(refusals))
            .flatten();
        let Some(pause) = pause else {
            self.refusals.retain(|&(of, _)| of != key);
            return Some(match refusals {
                1 => refused.reason,
                _ => format!("{} (tried {refusals} times)", refused.reason),
            });
        };
        let until = self.clock.now() + pause;
        self.held_until = Some(self.held_until.map_or(until, |held| held.max(until)));
        None
    }

    fn fly(&mut self, letter: UnitType, attempt: u32, started: Started<B::Handle>) {
        let Started {
            handle,
            spawned,
            started,
            start,
            host,
        } = started;
        self.flying.push(InFlight {
            letter,
            attempt,
            handle,
            spawned,
            started,
            host,
            start,
            // Under a scheduler the time limit waits for the start mark;
            // under another launcher it counts from the spawn, and moves to
            // the start mark if one comes.
            life: match start {
                Start::Mark => Life::Running { deadline: None },
                Start::Spawn | Start::SpawnUntilMark => self.policy.life_from(spawned),
            },
        });
    }

    /// Concludes every attempt that has ended; whether any had. With
    /// `look_around`, also reads start marks (skipped between starts,
    /// where only ends matter: a mark is read at the end anyway).
    fn collect_ends(&mut self, look_around: bool) -> bool {
        self.backend.refresh(self.clock.now());
        let mut ended = false;
        let mut index = 0;
        while index < self.flying.len() {
            let flight = &mut self.flying[index];
            if look_around && let Some(mark) = self.backend.look(&mut flight.handle) {
                flight.heed_mark(mark, self.policy);
            }
            if !self.backend.has_ended(&mut flight.handle) {
                index += 1;
                continue;
            }
            ended = true;
            let mut flight = self.flying.swap_remove(index);
            // One that ran between two looks is seen only now.
            if let Some(mark) = self.backend.look(&mut flight.handle) {
                flight.heed_mark(mark, self.policy);
            }
            let counts_as = flight.life.counts_as().cloned();
            let concluded = self.backend.conclude(flight.handle, counts_as.is_some());
            // A valid result stands even if a stop came as it was written.
            let outcome = match counts_as {
                Some(counts_as) if !concluded.outcome.is_ok() => counts_as,
                _ => concluded.outcome,
            };
            let started = flight.started.unwrap_or(flight.spawned);
            let attempt = Attempt {
                letter: flight.letter,
                attempt: flight.attempt,
                spawned: flight.spawned.saturating_duration_since(self.epoch),
                started: started.saturating_duration_since(self.epoch),
                duration: self.clock.now().saturating_duration_since(started),
                host: flight.host.or(concluded.host),
                stderr_tail: if outcome.is_ok() {
                    Vec::new()
                } else {
                    concluded.stderr_tail
                },
                outcome,
            };
            if self.flying.is_empty() {
                self.backend.idle();
            }
            self.settle(attempt);
        }
        ended
    }

    /// Records an ended attempt: queues a retry, or settles the letter and
    /// halts the run if the policy says so.
    fn settle(&mut self, attempt: Attempt) {
        match self.policy.after(&attempt) {
            Next::Retry if !self.halted => self
                .waiting
                .push_front((attempt.letter, attempt.attempt + 1)),
            Next::Retry => (self.settled)(&attempt),
            Next::Settled { halt } => {
                (self.settled)(&attempt);
                if halt && !self.halted {
                    self.halt(self.clock.now());
                }
            }
        }
        self.attempts.push(attempt);
    }

    /// Stops attempts past their deadline, kills those past their grace
    /// period; whether anything changed.
    fn escalate(&mut self) -> bool {
        let now = self.clock.now();
        let hurry = self.signals.stop_requests() >= 2;
        let mut changed = false;
        for index in 0..self.flying.len() {
            match self.policy.escalation(&self.flying[index].life, now, hurry) {
                Some(policy::Escalation::Stop(counts_as)) => self.stop(index, now, counts_as),
                Some(policy::Escalation::Kill) => {
                    let flight = &mut self.flying[index];
                    if let Some(counts_as) = flight.life.counts_as().cloned() {
                        self.backend.signal(&mut flight.handle, Signal::Kill);
                        flight.life = Life::Killed { counts_as };
                    }
                }
                None => continue,
            }
            changed = true;
        }
        changed
    }

    /// Sleeps until a signal (a child's exit, a stop request), the next
    /// deadline, the end of a hold on starts, or the poll interval,
    /// whichever comes first; not at all while there is room to start.
    fn sleep(&self, pause: Duration) {
        let now = self.clock.now();
        let held = self.held_until.filter(|_| self.is_held(now));
        let can_start = held.is_none()
            && !self.halted
            && !self.waiting.is_empty()
            && self.policy.room(self.flying.len()) > 0;
        if can_start || (self.flying.is_empty() && held.is_none()) {
            return;
        }
        let next_deadline = self
            .flying
            .iter()
            .filter_map(|flight| self.policy.wake_at(&flight.life))
            .chain(held)
            .min();
        let wait = next_deadline.map_or(pause, |deadline| {
            pause.min(deadline.saturating_duration_since(now))
        });
        self.clock.wait(self.signals, wait);
    }
}

#[cfg(test)]
mod tests;
