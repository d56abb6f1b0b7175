//! One run of the job: read and validate the input once, react it once,
//! then every letter in the chosen [`Mode`], gathered into a [`Report`].
//!
//! Reacting once up front is sound because removing a unit type commutes
//! with a prior full reaction (see the property tests in `polymer`): every
//! letter then works on the shorter polymer. With `--no-prereact` the
//! children get the original input, and the orchestrator still reacts it
//! once itself, after handing it over, for the full length in the report.
//!
//! Reading and reacting run on a worker thread ([`background`]), so that a
//! stop signal is answered at once even while a read blocks.
//!
//! Not here: how children are supervised (`supervise`), how the report is
//! shown (`report`).

mod background;
mod in_process;
pub mod manifest;
mod workspace;

use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use crate::input::{self, Loaded, Source};
use crate::polymer::{Polymer, UnitType};
use crate::report::{ModeName, Phase, Report};
use crate::signals::Signals;
use crate::supervise::{self, Attempt, Batch, ChildProgram, Outcome, Policy, Supervisor};
use manifest::Manifest;
use std::time::Duration;
use workspace::Workspace;

/// Everything a run needs to know.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: Source,
    pub letters: Vec<UnitType>,
    pub mode: Mode,
}

/// Where the per-letter reactions run, with what each place needs.
#[derive(Clone, Debug)]
pub enum Mode {
    /// One child process per letter, results through files.
    Process(ProcessMode),
    /// A pool of `threads` threads inside the orchestrator.
    Thread { threads: usize },
    /// One letter after another on one thread.
    Serial,
}

/// What the process mode needs.
#[derive(Clone, Debug)]
pub struct ProcessMode {
    pub program: ChildProgram,
    pub policy: Policy,
    /// Publish validated results here; by default they stay private.
    pub results_dir: Option<PathBuf>,
    /// Hand children the fully reacted polymer (true) or the original input.
    pub prereact: bool,
    /// Reuse the results in `results_dir` of an earlier run of the same job.
    pub resume: bool,
}

impl Mode {
    pub fn name(&self) -> ModeName {
        match self {
            Mode::Process(_) => ModeName::Process,
            Mode::Thread { .. } => ModeName::Thread,
            Mode::Serial => ModeName::Serial,
        }
    }

    /// How many letters run at once, at most, out of `letters`.
    fn concurrency(&self, letters: usize) -> usize {
        let wanted = match self {
            Mode::Process(process) => process.policy.jobs,
            Mode::Thread { threads } => *threads,
            Mode::Serial => 1,
        };
        wanted.clamp(1, letters.max(1))
    }
}

/// The run was stopped by a stop signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted {
    pub signal: i32,
}

impl Interrupted {
    /// The conventional exit status, 128 + the signal number.
    pub fn exit_status(self) -> u8 {
        (128 + self.signal).clamp(0, 255) as u8
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = supervise::attempt::signal_name(self.signal);
        write!(f, "interrupted by {name}; every child was stopped")
    }
}

impl std::error::Error for Interrupted {}

/// Times the phases before the fan-out, for the report and the timeline.
struct Phases {
    epoch: Instant,
    done: Vec<Phase>,
}

impl Phases {
    fn time<T>(&mut self, name: &'static str, work: impl FnOnce() -> T) -> T {
        let start = self.epoch.elapsed();
        let value = work();
        self.done.push(Phase {
            name,
            start,
            duration: self.epoch.elapsed() - start,
        });
        value
    }
}

/// Runs the whole job. `progress` hears of each letter's final attempt.
///
/// Returns the report even when letters failed (its verdict then has no
/// minimum); errors are for bad input, unusable paths, resources that ran
/// out, and stop signals (an [`Interrupted`] inside the `anyhow::Error`).
/// Temporary files and folders are removed, and every child and anything
/// it started is gone, before this returns, on every path.
pub fn run(
    config: &Config,
    signals: &Signals,
    progress: &dyn Fn(&Attempt),
) -> anyhow::Result<Report> {
    let mut phases = Phases {
        epoch: Instant::now(),
        done: Vec::new(),
    };
    let source = config.source.clone();
    let loaded = phases.time("read and validate", || {
        background::one(signals, move || input::load_with_id(&source))
    })??;
    let input_length = loaded.polymer.len();
    let (attempts, full_length) = match &config.mode {
        Mode::Process(process) => fan_out(config, process, loaded, &mut phases, signals, progress)?,
        Mode::Thread { .. } | Mode::Serial => {
            let reacted = phases.time("react", || react_in_background(loaded.polymer, signals))?;
            let full_length = reacted.len();
            let threads = config.mode.concurrency(config.letters.len());
            let epoch = phases.epoch;
            let attempts =
                in_process::run(reacted, &config.letters, threads, signals, epoch, progress)?;
            (attempts, full_length)
        }
    };
    Ok(Report {
        input_length,
        full_length,
        phases: phases.done,
        attempts,
        letters: config.letters.clone(),
        mode: config.mode.name(),
        jobs: config.mode.concurrency(config.letters.len()),
        elapsed: phases.epoch.elapsed(),
    })
}

/// The process mode: hand the children a private snapshot of the polymer,
/// supervise them, publish what they found. With `--resume`, letters whose
/// result the results folder already holds for this job are not run.
fn fan_out(
    config: &Config,
    process: &ProcessMode,
    loaded: Loaded,
    phases: &mut Phases,
    signals: &Signals,
    progress: &dyn Fn(&Attempt),
) -> anyhow::Result<(Vec<Attempt>, usize)> {
    // Orphans of children are re-parented here, to be swept; where the
    // platform has no subreapers, process groups still do most of it.
    let _ = supervise::contain::become_subreaper();
    let workspace = Workspace::create(process.results_dir.as_deref(), loaded.file, process.resume)?;
    let mut polymer = loaded.polymer;
    let mut job = None;
    if workspace.results_dir().is_some() {
        let (digested, digest) = phases.time("digest", || {
            background::one(signals, move || {
                let digest = manifest::sha256(polymer.units());
                (polymer, digest)
            })
        })?;
        polymer = digested;
        job = Some(Manifest {
            input_sha256: digest,
            input_length: polymer.len(),
            full_length: 0,
            program: manifest::program_identity(&process.program.program)?,
            array: None,
        });
    }
    let workspace::Kept {
        results: cached,
        recorded,
    } = match (&job, process.resume) {
        (Some(job), true) => workspace.cached(job, &config.letters)?,
        _ => workspace::Kept::default(),
    };
    let mut attempts: Vec<Attempt> = cached.iter().map(|&(l, n)| cached_attempt(l, n)).collect();
    attempts.iter().for_each(progress);
    let todo: Vec<UnitType> = config
        .letters
        .iter()
        .copied()
        .filter(|letter| cached.iter().all(|&(l, _)| l != *letter))
        .collect();
    if let (true, Some(recorded)) = (todo.is_empty(), &recorded) {
        // A finished run, resumed: no work at all.
        return Ok((attempts, recorded.full_length));
    }
    if process.prereact {
        polymer = phases.time("react", || react_in_background(polymer, signals))?;
    }
    let snapshot = phases.time("write polymer file", || {
        workspace.write_polymer(polymer.units(), signals)
    })?;
    let handed = polymer.len();
    if !process.prereact {
        polymer = phases.time("react", || react_in_background(polymer, signals))?;
    }
    let full_length = polymer.len();
    drop(polymer);
    if let Some(job) = &mut job {
        job.full_length = full_length;
        workspace.record(job)?;
    }
    if let Some(signal) = signals.stop_signal() {
        return Err(Interrupted { signal }.into());
    }
    let batch = Batch {
        letters: todo,
        polymer: snapshot,
        polymer_len: handed,
        dir: workspace.private().to_path_buf(),
    };
    // Each result is published as soon as its letter settles, so that even
    // a run killed outright leaves what it found for `--resume`.
    let unpublished = RefCell::new(None);
    let settled = |attempt: &Attempt| {
        if let Outcome::Ok(length) = attempt.outcome
            && unpublished.borrow().is_none()
            && let Err(err) = workspace.publish(attempt.letter, length)
        {
            *unpublished.borrow_mut() = Some(err);
        }
        progress(attempt);
    };
    let supervision = Supervisor::new(
        &batch,
        &process.program,
        &process.policy,
        signals,
        phases.epoch,
        &settled,
    )
    .run();
    if let Some(err) = unpublished.into_inner() {
        return Err(err);
    }
    if let Some(signal) = supervision.interrupted {
        return Err(Interrupted { signal }.into());
    }
    attempts.extend(supervision.attempts);
    Ok((attempts, full_length))
}

/// A letter whose result was kept from an earlier run.
fn cached_attempt(letter: UnitType, length: usize) -> Attempt {
    Attempt {
        letter,
        number: 0,
        spawned: Duration::ZERO,
        started: Duration::ZERO,
        duration: Duration::ZERO,
        outcome: Outcome::Cached(length),
        stderr_tail: Vec::new(),
    }
}

/// The one full reaction, on a worker thread (on all cores for large
/// inputs, where this serial step would otherwise dominate the run).
fn react_in_background(mut polymer: Polymer, signals: &Signals) -> anyhow::Result<Polymer> {
    background::one(signals, move || {
        const PARALLEL_FROM: usize = 1 << 20;
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        if polymer.len() >= PARALLEL_FROM && threads > 1 {
            polymer.react_parallel(threads);
        } else {
            polymer.react();
        }
        polymer
    })
}
