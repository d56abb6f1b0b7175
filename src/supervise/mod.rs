//! Supervision of child processes: start them (at most `jobs` at once), see
//! each one finish by its exit, read its result file only then, stop
//! children on timeout, failure or a stop signal, and never leave one (or
//! anything one started) behind.
//!
//! The loop is a few named steps over a small state: the letters waiting,
//! the children running (each with its [`Life`]), the attempts ended. What
//! to do in each case is decided by the [`Policy`], which is tested without
//! processes; this module carries the decisions out.
//!
//! Every child leads its own process group, so a stop reaches whatever it
//! started there, and a terminal's Ctrl-C reaches only the orchestrator,
//! which forwards it. On Linux each child also asks the kernel to kill it if
//! the orchestrator dies, and the orchestrator is the subreaper of the
//! children's descendants (see [`contain`]).
//!
//! Not here: deciding what to run (the orchestrator) or how to show it (the
//! report).

pub mod array;
pub mod attempt;
mod child;
pub mod contain;
pub mod launcher;
pub mod policy;

use std::collections::VecDeque;
use std::fs::File;
use std::path::PathBuf;
use std::process::Child as Process;
use std::time::{Duration, Instant};

pub use attempt::{Attempt, Outcome};
pub use child::ChildProgram;
pub use policy::{Backoff, Life, Next, Policy};

use crate::polymer::UnitType;
use crate::protocol::ChildJob;
use crate::signals::Signals;
use child::{Handles, Running};

/// The letters of one run and what their children are handed.
#[derive(Clone, Debug)]
pub struct Batch {
    pub letters: Vec<UnitType>,
    /// The polymer every child reads (a private snapshot).
    pub polymer: PathBuf,
    /// Whether children get `polymer` as their standard input (opened
    /// afresh for each, so each reads from its start) and `-` as the
    /// polymer on their command line, instead of the path.
    pub polymer_on_stdin: bool,
    /// Its length: no valid result is larger.
    pub polymer_len: usize,
    /// A private folder for this run's per-attempt result files and start
    /// marks: a path there is given to one attempt only.
    pub dir: PathBuf,
}

impl Batch {
    /// The job of one attempt, with a result path of its own: its name
    /// carries a random token, so that no other child (a sibling guessing
    /// `b.1.txt`, one left over from an earlier attempt) writes it by
    /// accident.
    fn job(&self, letter: UnitType, attempt: u32) -> ChildJob {
        use std::hash::{BuildHasher, Hasher};
        let token = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        ChildJob {
            letter,
            result: self
                .dir
                .join(format!("{letter}.{attempt}.{token:016x}.txt")),
            polymer: if self.polymer_on_stdin {
                PathBuf::from("-")
            } else {
                self.polymer.clone()
            },
        }
    }

    /// What a child gets as its standard input: the polymer, opened for it
    /// alone, when children read it there.
    fn stdin(&self) -> std::io::Result<Option<std::fs::File>> {
        self.polymer_on_stdin
            .then(|| std::fs::File::open(&self.polymer))
            .transpose()
    }
}

/// What supervising a batch produced.
#[derive(Debug)]
pub struct Supervision {
    /// Every attempt, in the order they ended.
    pub attempts: Vec<Attempt>,
    /// The stopping signal, if one ended the run early.
    pub interrupted: Option<i32>,
}

/// The supervision of one batch, from the first spawn to the last reaping.
pub struct Supervisor<'a> {
    batch: &'a Batch,
    program: &'a ChildProgram,
    policy: &'a Policy,
    signals: &'a Signals,
    epoch: Instant,
    progress: &'a dyn Fn(&Attempt),
    /// Letters waiting for a child, with their attempt number.
    waiting: VecDeque<(UnitType, u32)>,
    running: Vec<Running>,
    attempts: Vec<Attempt>,
    /// Set once the run is ending: no more spawns.
    halted: bool,
    interrupted: Option<i32>,
    /// Launcher clean-ups (scancel) of stopped children, run alongside.
    cancels: Vec<Process>,
    /// Every child's stdin and stdout: one /dev/null, duplicated per child.
    null: Option<File>,
}

impl<'a> Supervisor<'a> {
    pub fn new(
        batch: &'a Batch,
        program: &'a ChildProgram,
        policy: &'a Policy,
        signals: &'a Signals,
        epoch: Instant,
        progress: &'a dyn Fn(&Attempt),
    ) -> Supervisor<'a> {
        Supervisor {
            batch,
            program,
            policy,
            signals,
            epoch,
            progress,
            waiting: batch.letters.iter().map(|&letter| (letter, 1)).collect(),
            running: Vec::new(),
            attempts: Vec::new(),
            halted: false,
            interrupted: None,
            cancels: Vec::new(),
            null: File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .ok(),
        }
    }

    /// Runs every letter to an outcome, honouring the policy, and returns
    /// when no child of ours, nor anything a child started, is left alive.
    pub fn run(mut self) -> Supervision {
        let mut backoff = Backoff::new(self.policy);
        while !self.is_done() {
            self.heed_stop_requests();
            // One spawn per pass: children that finish while the others are
            // still being started are seen (and timed) at once.
            let spawned = self.start_next();
            let ended = self.collect_exits(!spawned);
            let escalated = self.escalate();
            if !spawned {
                let pause = backoff.next(ended || escalated);
                self.sleep(pause);
            }
        }
        self.finish()
    }

    fn is_done(&self) -> bool {
        self.running.is_empty() && (self.halted || self.waiting.is_empty())
    }

    /// On a stop signal: halt, and start stopping every child.
    fn heed_stop_requests(&mut self) {
        if self.interrupted.is_none() && self.signals.stop_requests() > 0 {
            self.interrupted = self.signals.stop_signal();
            self.halt(Instant::now());
        }
    }

    fn halt(&mut self, now: Instant) {
        self.halted = true;
        for child in &mut self.running {
            child.stop(now, Outcome::Killed);
        }
    }

    /// Spawns the next waiting letter if there is room; whether it tried.
    fn start_next(&mut self) -> bool {
        if self.halted || !self.policy.has_room(self.running.len()) {
            return false;
        }
        let Some((letter, number)) = self.waiting.pop_front() else {
            return false;
        };
        let job = self.batch.job(letter, number);
        let spawned = match (&self.null, self.batch.stdin()) {
            (Some(null), Ok(stdin)) => Running::spawn(
                job,
                number,
                self.program,
                |at| self.policy.life_from(at),
                Handles { null, stdin },
            ),
            (None, _) => Err(std::io::Error::other("could not open /dev/null")),
            (_, Err(err)) => Err(err),
        };
        match spawned {
            Ok(child) => self.running.push(child),
            Err(err) => {
                let now = self.epoch.elapsed();
                self.settle(Attempt {
                    letter,
                    number,
                    spawned: now,
                    started: now,
                    duration: Duration::ZERO,
                    outcome: Outcome::SpawnError(err.to_string()),
                    stderr_tail: Vec::new(),
                });
            }
        }
        true
    }

    /// Concludes every child that has exited; whether any had. With
    /// `look_around`, also looks for start marks (skipped between spawns,
    /// where only exits matter: a mark is read at exit anyway).
    fn collect_exits(&mut self, look_around: bool) -> bool {
        let mut ended = false;
        let mut index = 0;
        while index < self.running.len() {
            if look_around {
                self.running[index].bound_stderr();
            }
            if look_around
                && let Some(started) = self.running[index].look_for_start_mark()
                && let Life::Running { .. } = self.running[index].life
            {
                // Under a launcher that queues, the time limit counts from
                // the start of the work, not from the spawn.
                self.running[index].life = self.policy.life_from(started);
            }
            if !self.running[index].has_exited() {
                index += 1;
                continue;
            }
            ended = true;
            let child = self.running.swap_remove(index);
            let (job, attempt) = child.conclude(self.epoch, self.batch.polymer_len);
            self.cancel_launch(&job, &attempt);
            if self.running.is_empty() {
                self.sweep_orphans();
            }
            self.settle(attempt);
        }
        ended
    }

    /// Under a launcher that needs it (srun), cancels what a stopped child
    /// may have left queued or running elsewhere.
    fn cancel_launch(&mut self, job: &ChildJob, attempt: &Attempt) {
        if matches!(attempt.outcome, Outcome::Timeout | Outcome::Killed)
            && let Some(mut cancel) = self.program.launcher.cancel(job.letter, attempt.number)
            && let Ok(process) = cancel.spawn()
        {
            self.cancels.push(process);
        }
    }

    /// Kills whatever the ended children left behind outside their groups.
    /// Only while no child runs: an orphan cannot be traced back to the
    /// child that started it, and one that a running child still needs
    /// (a helper it daemonised) must not be killed under it.
    fn sweep_orphans(&mut self) {
        let keep: Vec<libc::pid_t> = self
            .running
            .iter()
            .map(Running::pid)
            .chain(self.cancels.iter().map(|c| c.id() as libc::pid_t))
            .collect();
        contain::sweep_orphans(&keep);
    }

    /// Records an ended attempt: queues a retry, or settles the letter and
    /// halts the run if the policy says so.
    fn settle(&mut self, attempt: Attempt) {
        match self.policy.after(&attempt) {
            Next::Retry => self
                .waiting
                .push_front((attempt.letter, attempt.number + 1)),
            Next::Settled { halt } => {
                (self.progress)(&attempt);
                if halt && !self.halted {
                    self.halt(Instant::now());
                }
            }
        }
        self.attempts.push(attempt);
    }

    /// Stops children past their deadline, kills those past their grace
    /// period; whether anything changed.
    fn escalate(&mut self) -> bool {
        let now = Instant::now();
        let hurry = self.signals.stop_requests() >= 2;
        let mut changed = false;
        for child in &mut self.running {
            if let Some(escalation) = self.policy.escalation(&child.life, now, hurry) {
                child.escalate(escalation, now);
                changed = true;
            }
        }
        changed
    }

    /// Sleeps until a signal (a child's exit, a stop request), the next
    /// deadline, or the poll interval, whichever comes first; not at all
    /// while there is room to spawn.
    fn sleep(&self, pause: Duration) {
        let can_spawn =
            !self.halted && !self.waiting.is_empty() && self.policy.has_room(self.running.len());
        if self.running.is_empty() || can_spawn {
            return;
        }
        let now = Instant::now();
        let next_deadline = self
            .running
            .iter()
            .filter_map(|child| self.policy.wake_at(&child.life))
            .min();
        let wait = next_deadline.map_or(pause, |deadline| {
            pause.min(deadline.saturating_duration_since(now))
        });
        self.signals.wait(wait);
    }

    /// Waits for the launcher clean-ups (killing them after a while: a
    /// scheduler that does not answer must not hang the run), sweeps once
    /// more, and hands over the attempts.
    fn finish(mut self) -> Supervision {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.cancels.is_empty() {
            self.cancels
                .retain_mut(|cancel| matches!(cancel.try_wait(), Ok(None)));
            if Instant::now() >= deadline {
                for cancel in &mut self.cancels {
                    let _ = cancel.kill();
                    let _ = cancel.wait();
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        contain::sweep_orphans(&[]);
        Supervision {
            attempts: self.attempts,
            interrupted: self.interrupted,
        }
    }
}
