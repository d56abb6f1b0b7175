//! Attempts as child processes of orchestrate, started directly or behind a
//! launcher prefix (`nice`, `srun`): the [`Backend`] of the process mode
//! without `--sbatch`.
//!
//! Every child leads its own process group, so a stop reaches whatever it
//! started there, and a terminal's Ctrl-C reaches only the orchestrator,
//! which forwards it. On Linux each child also asks the kernel to kill it if
//! the orchestrator dies, and everything it starts lives in a PID namespace
//! that dies with the orchestrator (or, where the kernel refuses one, the
//! orchestrator is its subreaper; see [`contain`]).

use std::fs::File;
use std::path::PathBuf;
use std::process::Child as Process;
use std::time::Duration;

use super::backend::{Backend, Concluded, Mark, Signal, Start, StartError, Started};
use super::child::{ChildProgram, Handles, Running};
use super::clock::Clock;
use super::placement::Delivery;
use crate::polymer::UnitType;
use crate::protocol::Assignment;
use crate::signals::Signals;
use crate::sys::contain;

/// The letters' children: what each is handed, and how it is started.
pub struct Local<'a> {
    program: &'a ChildProgram,
    /// The polymer every child reads (a private snapshot).
    polymer: PathBuf,
    /// How children get it: as their standard input (opened afresh for
    /// each, so each reads from its start, with `-` as the polymer on
    /// their command line), or by its path.
    delivery: Delivery,
    /// Its length: no valid result is larger.
    polymer_len: usize,
    /// A private folder for this run's per-attempt result files and start
    /// marks: a path there is given to one attempt only.
    dir: PathBuf,
    /// This machine's name, where direct children run.
    host: Option<String>,
    /// Every child's stdin and stdout: one /dev/null, duplicated per child.
    null: Option<File>,
    /// Launcher clean-ups (scancel) of stopped children, run alongside.
    cancels: Vec<Process>,
    clock: &'a dyn Clock,
    /// The pids of the children alive, spared by the kill of orphans.
    alive: Vec<crate::sys::Pid>,
}

/// A child of the local backend.
pub struct Child {
    running: Running,
    attempt: u32,
}

impl<'a> Local<'a> {
    pub fn new(
        program: &'a ChildProgram,
        (polymer, delivery): (PathBuf, Delivery),
        polymer_len: usize,
        dir: PathBuf,
        clock: &'a dyn Clock,
    ) -> Local<'a> {
        Local {
            program,
            polymer,
            delivery,
            clock,
            polymer_len,
            dir,
            host: crate::protocol::this_host(),
            null: File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .ok(),
            cancels: Vec::new(),
            alive: Vec::new(),
        }
    }

    /// The assignment of one attempt, with a result path of its own.
    fn assignment(&self, letter: UnitType, attempt: u32) -> Assignment {
        Assignment {
            letter,
            result: Assignment::result_in(&self.dir, letter, attempt),
            polymer: if self.delivery == Delivery::Stdin {
                PathBuf::from("-")
            } else {
                self.polymer.clone()
            },
        }
    }

    fn spawn(&mut self, letter: UnitType, attempt: u32) -> Result<Child, StartError> {
        let Some(null) = &self.null else {
            return Err(StartError::lasting("could not open /dev/null"));
        };
        let stdin = (self.delivery == Delivery::Stdin)
            .then(|| File::open(&self.polymer))
            .transpose()?;
        let assignment = self.assignment(letter, attempt);
        let handles = Handles {
            null,
            stdin,
            folder: None,
        };
        let running = Running::spawn(assignment, attempt, self.program, handles, self.clock)?;
        self.alive.push(running.pid());
        Ok(Child { running, attempt })
    }

    /// Kills whatever the ended children left behind outside their groups,
    /// sparing the children alive and the clean-ups running.
    fn kill_orphans(&self) {
        let keep: Vec<crate::sys::Pid> = self
            .alive
            .iter()
            .copied()
            .chain(self.cancels.iter().map(|c| c.id() as crate::sys::Pid))
            .collect();
        contain::kill_orphans(&keep);
    }
}

impl Backend for Local<'_> {
    type Handle = Child;

    /// One: children that end while the others are still being spawned
    /// are seen at once.
    fn batch_size(&self) -> usize {
        1
    }

    fn start(&mut self, wanted: &[(UnitType, u32)]) -> Vec<Result<Started<Child>, StartError>> {
        let start = self.program.placement.start();
        let host = self
            .program
            .placement
            .is_direct()
            .then(|| self.host.clone())
            .flatten();
        wanted
            .iter()
            .map(|&(letter, attempt)| {
                let child = self.spawn(letter, attempt)?;
                Ok(Started {
                    spawned: child.running.spawned(),
                    // Spawning returns once the child's exec has succeeded.
                    started: (start == Start::Spawn).then(|| self.clock.now()),
                    handle: child,
                    start,
                    host: host.clone(),
                })
            })
            .collect()
    }

    fn look(&mut self, child: &mut Child) -> Option<Mark> {
        child.running.bound_stderr();
        child.running.look_for_start_mark(self.clock.now_and_wall())
    }

    fn has_ended(&mut self, child: &mut Child) -> bool {
        child.running.has_exited()
    }

    fn signal(&mut self, child: &mut Child, signal: Signal) {
        child.running.signal(signal);
    }

    fn conclude(&mut self, child: Child, stopped: bool) -> Concluded {
        let pid = child.running.pid();
        self.alive.retain(|&alive| alive != pid);
        let (assignment, concluded) = child.running.conclude(self.polymer_len);
        // Under a launcher that needs it (srun), cancels what a stopped
        // child may have left queued or running elsewhere.
        if stopped
            && let Some(mut cancel) = self
                .program
                .placement
                .cancel(assignment.letter, child.attempt)
            && let Ok(process) = cancel.spawn()
        {
            self.cancels.push(process);
        }
        concluded
    }

    /// Only while no child runs: an orphan cannot be traced back to the
    /// child that started it, and one that a running child still needs (a
    /// helper it daemonised) must not be killed under it.
    fn idle(&mut self) {
        self.kill_orphans();
    }

    /// Waits for the launcher clean-ups (killing them after a while: a
    /// scheduler that does not answer must not hang the run), and kills
    /// orphans once more.
    fn finish(&mut self, signals: &Signals, _interrupted: bool) {
        let deadline = self.clock.now() + Duration::from_secs(10);
        while !self.cancels.is_empty() {
            self.cancels
                .retain_mut(|cancel| matches!(cancel.try_wait(), Ok(None)));
            if self.clock.now() >= deadline {
                for cancel in &mut self.cancels {
                    let _ = cancel.kill();
                    let _ = cancel.wait();
                }
                break;
            }
            self.clock.wait(signals, Duration::from_millis(2));
        }
        contain::kill_orphans(&[]);
    }
}
