//! One run of the fan-out: read and validate the input once, react it once,
//! hand each child the reacted polymer, supervise the children, and gather
//! their results into a report.
//!
//! Reacting once in the parent is sound because removing a unit type
//! commutes with a prior full reaction (see the property tests in
//! `polymer`): every child then works on the shorter polymer.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::in_process;
use crate::input::{self, Source};
use crate::polymer::Polymer;
use crate::polymer::UnitType;
use crate::protocol::{self, ChildJob};
use crate::report::{Attempt, Outcome, Phase, Report};
use crate::signals::Signals;
use crate::supervisor::{self, ChildProgram, Policy, Supervision};

/// Everything a run needs to know.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: Source,
    /// The child program; the process mode needs one, the others none.
    pub program: Option<ChildProgram>,
    /// Keep result files here; by default they live in a temporary folder.
    pub results_dir: Option<PathBuf>,
    pub letters: Vec<UnitType>,
    /// Hand children the fully reacted polymer (true) or the original input.
    pub prereact: bool,
    pub mode: Mode,
    pub policy: Policy,
}

/// The run was stopped by SIGINT or SIGTERM.
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
        let name = match self.signal {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            _ => "a signal",
        };
        write!(f, "interrupted by {name}; every child was stopped")
    }
}

impl std::error::Error for Interrupted {}

fn check(signals: &Signals) -> anyhow::Result<()> {
    match signals.stop_signal() {
        Some(signal) => Err(Interrupted { signal }.into()),
        None => Ok(()),
    }
}

/// Where the per-letter reactions run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// One `reduce` child process per letter, results through files.
    Process,
    /// A pool of threads inside the orchestrator.
    Thread,
    /// One letter after another on the orchestrator's own thread.
    Serial,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Process => "process",
            Mode::Thread => "thread",
            Mode::Serial => "serial",
        }
    }
}

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

/// Runs the whole job: read and validate, react once, then every letter in
/// `config.mode`. `progress` hears of each letter's final attempt.
///
/// Returns the report even when letters failed (the report then has no
/// minimum); errors are for bad input, unusable paths and interruption
/// (an [`Interrupted`] inside the `anyhow::Error`). Temporary files and
/// folders are removed before this returns, on every path.
pub fn run(
    config: &Config,
    signals: &Signals,
    progress: &(dyn Fn(&Attempt) + Sync),
) -> anyhow::Result<Report> {
    let epoch = Instant::now();
    let mut phases = Phases {
        epoch,
        done: Vec::new(),
    };
    let mut polymer = phases.time("read and validate", || input::load(&config.source))?;
    let input_length = polymer.len();
    check(signals)?;

    let (supervision, full_length, jobs) = match config.mode {
        Mode::Process => {
            let program = config
                .program
                .as_ref()
                .context("the process mode needs a child program")?;
            let (supervision, full_length) =
                fan_out(config, program, polymer, &mut phases, signals, progress)?;
            (supervision, full_length, config.policy.jobs)
        }
        Mode::Thread | Mode::Serial => {
            phases.time("react", || react_up_front(&mut polymer));
            check(signals)?;
            let threads = match config.mode {
                Mode::Serial => 1,
                _ => config.policy.jobs,
            };
            let supervision = in_process::run(
                polymer.units(),
                &config.letters,
                threads,
                signals,
                epoch,
                progress,
            );
            (supervision, polymer.len(), threads)
        }
    };
    if let Some(signal) = supervision.interrupted {
        return Err(Interrupted { signal }.into());
    }
    let results = supervision
        .attempts
        .iter()
        .filter_map(|attempt| match attempt.outcome {
            Outcome::Ok(length) => Some((attempt.letter, length)),
            _ => None,
        })
        .collect();
    Ok(Report {
        input_length,
        full_length,
        phases: phases.done,
        attempts: supervision.attempts,
        results,
        letters: config.letters.clone(),
        mode: config.mode.name(),
        jobs,
        elapsed: epoch.elapsed(),
    })
}

/// The process mode: hand the children a polymer file, supervise them.
fn fan_out(
    config: &Config,
    program: &ChildProgram,
    mut polymer: Polymer,
    phases: &mut Phases,
    signals: &Signals,
    progress: &(dyn Fn(&Attempt) + Sync),
) -> anyhow::Result<(Supervision, usize)> {
    // Without --results-dir, a temporary folder holds the results and the
    // children's polymer, and goes when this function returns.
    let workspace;
    let results_dir = match &config.results_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create results folder {}", dir.display()))?;
            std::path::absolute(dir)
                .with_context(|| format!("could not resolve {}", dir.display()))?
        }
        None => {
            workspace = tempfile::Builder::new()
                .prefix("orchestrate-")
                .tempdir()
                .context("could not create a temporary folder")?;
            workspace.path().to_path_buf()
        }
    };

    // The children's polymer lives beside their results: with a cluster
    // launcher, that folder is the one on a filesystem every node shares.
    let polymer_file;
    let polymer_path = match (&config.source, config.prereact) {
        (Source::Path(path), false) => {
            phases.time("react", || react_up_front(&mut polymer));
            std::path::absolute(path)
                .with_context(|| format!("could not resolve {}", path.display()))?
        }
        (_, prereact) => {
            if prereact {
                phases.time("react", || react_up_front(&mut polymer));
            }
            polymer_file = phases.time("write polymer file", || {
                write_polymer(&results_dir, polymer.units())
            })?;
            if !prereact {
                phases.time("react", || react_up_front(&mut polymer));
            }
            polymer_file.path().to_path_buf()
        }
    };
    let full_length = polymer.len();
    drop(polymer);
    check(signals)?;

    let jobs: Vec<ChildJob> = config
        .letters
        .iter()
        .map(|&letter| ChildJob {
            letter,
            result: protocol::result_path(&results_dir, letter),
            polymer: polymer_path.clone(),
        })
        .collect();
    // A result file left by an earlier run must never be counted.
    for job in &jobs {
        protocol::remove_stale(&job.result).with_context(|| {
            format!(
                "could not remove stale result file {}",
                job.result.display()
            )
        })?;
    }
    let supervision = supervisor::supervise(
        jobs,
        program,
        &config.policy,
        signals,
        phases.epoch,
        progress,
    );
    Ok((supervision, full_length))
}

/// The parent's one full reaction: on all cores for large inputs, where
/// this serial step would otherwise dominate the run.
fn react_up_front(polymer: &mut Polymer) {
    const PARALLEL_FROM: usize = 1 << 20;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if polymer.len() >= PARALLEL_FROM && threads > 1 {
        polymer.react_parallel(threads);
    } else {
        polymer.react();
    }
}

fn write_polymer(dir: &Path, units: &[u8]) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(".polymer-")
        .suffix(".txt")
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "could not create the children's polymer file in {}",
                dir.display()
            )
        })?;
    file.write_all(units)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.flush())
        .with_context(|| format!("could not write {}", file.path().display()))?;
    Ok(file)
}
