//! One run of the job: read and validate the input once, react it once,
//! then every letter in the chosen [`Mode`], gathered into a [`Report`].
//!
//! Reacting once up front is sound because removing a unit type commutes
//! with a prior full reaction (see the property tests in `polymer`): every
//! letter then works on the shorter polymer. With `--no-prereact` the
//! children get the original input, and the orchestrator still reacts it
//! once itself, after handing it over, for the full length in the report.
//!
//! Reading and reacting run on a worker thread (`background`), so that a
//! stop signal is answered at once even while a read blocks.
//!
//! Not here: how children are supervised (`supervise`), how the report is
//! shown (`report`).

mod background;
mod in_process;
pub mod janitor;
mod marker;
mod process;
pub mod record;
pub mod status;
mod workspace;

pub use workspace::TemporaryFolder;

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use crate::input::{self, FileId, Source};
use crate::polymer::stream::{self, Reaction};
use crate::polymer::sweep::{MAX_SEGMENTS, SEGMENT_BYTES};
use crate::polymer::{Polymer, UnitType};
use crate::report::{Phase, Report};
use crate::signals::Signals;
use crate::supervise::placement::{Delivery, Placement};
use crate::supervise::queue::Queue;
use crate::supervise::{Attempt, Policy};
use record::InputDigest;
use workspace::SharedCopy;

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
    Process(Box<ProcessMode>),
    /// A pool of `threads` threads inside the orchestrator.
    Thread { threads: usize },
    /// One letter after another on one thread.
    Serial,
    /// Every letter from the junctions of the reacted polymer, on
    /// `threads` threads: no copy, no re-reaction.
    Sweep { threads: usize },
}

/// What the process mode needs.
#[derive(Clone, Debug)]
pub struct ProcessMode {
    /// The child program.
    pub program: PathBuf,
    /// Whether it is this package's `reduce`, which takes
    /// [`crate::protocol::PARENT_PID_OPTION`].
    pub heeds_parent_pid: bool,
    pub policy: Policy,
    /// Hand children the fully reacted polymer (true) or the original input.
    pub prereact: bool,
    /// Where the children run.
    pub placement: Placement,
    /// Where validated results are published, if anywhere: a job array
    /// cannot do without one (it reports through it), which
    /// [`ProcessMode::check`] enforces.
    pub results: Option<ResultsFolder>,
}

/// A folder where validated results are published.
#[derive(Clone, Debug)]
pub struct ResultsFolder {
    pub path: PathBuf,
    /// Reuse the results it holds of an earlier run of the same input and
    /// program.
    pub resume: bool,
}

impl ProcessMode {
    /// Refuses what cannot run: a job array without a results folder.
    pub fn check(&self) -> anyhow::Result<()> {
        if matches!(self.placement, Placement::Array { .. }) && self.results.is_none() {
            anyhow::bail!("--sbatch needs --results-dir: a job array reports through it");
        }
        Ok(())
    }
}

impl Mode {
    /// The mode's name, as the command line spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Process(_) => "process",
            Mode::Thread { .. } => "thread",
            Mode::Serial => "serial",
            Mode::Sweep { .. } => "sweep",
        }
    }

    /// How many letters run at once, at most, out of `letters`.
    fn concurrency(&self, letters: usize) -> usize {
        let wanted = match self {
            Mode::Process(process) => process.policy.concurrency,
            Mode::Thread { threads } | Mode::Sweep { threads } => *threads,
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
        let name = crate::supervise::attempt::signal_name(self.signal);
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

/// Runs the whole job, with `queue` for a job array. `progress` hears of
/// each letter's final attempt.
///
/// Returns the report even when letters failed (its verdict then has no
/// minimum); errors are for bad input, unusable paths, resources that ran
/// out, and stop signals (an [`Interrupted`] inside the `anyhow::Error`).
/// Temporary files and folders are removed, and every child and anything
/// it started is gone, before this returns, on every path.
pub fn run(
    config: &Config,
    queue: &mut dyn Queue,
    signals: &Signals,
    progress: &dyn Fn(&Attempt),
) -> anyhow::Result<Report> {
    let mut phases = Phases {
        epoch: Instant::now(),
        done: Vec::new(),
    };
    let read = read_phase(config, &mut phases, signals)?;
    let input_length = read.input_length;
    let (attempts, full_length) = match &config.mode {
        Mode::Process(process) => {
            process.check()?;
            process::fan_out(config, process, read, queue, &mut phases, signals, progress)?
        }
        Mode::Thread { .. } | Mode::Serial | Mode::Sweep { .. } => {
            let reacted = read.polymer;
            let full_length = reacted.len();
            let threads = config.mode.concurrency(config.letters.len());
            let epoch = phases.epoch;
            let sweep = matches!(config.mode, Mode::Sweep { .. })
                .then(|| sweep_budget(input_length, full_length, threads));
            let attempts = in_process::run(
                reacted,
                &config.letters,
                threads,
                sweep,
                signals,
                epoch,
                progress,
            )?;
            (attempts, full_length)
        }
    };
    let ran = attempts
        .iter()
        .filter(|a| !a.outcome.is_kept())
        .map(|a| a.letter)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    Ok(Report {
        input_length,
        full_length,
        phases: phases.done,
        attempts,
        letters: config.letters.clone(),
        mode: config.mode.name(),
        // What ran at once at most: letters kept from an earlier run did not.
        concurrency: config.mode.concurrency(ran),
        containment: match &config.mode {
            Mode::Process(process) if process.placement.on_this_machine() => {
                crate::sys::contain::current().map(|c| c.name())
            }
            _ => None,
        },
        elapsed: phases.epoch.elapsed(),
    })
}

/// The input as read: reacted while it was read, unless the children are
/// to get it as it is.
struct Read {
    polymer: Polymer,
    reacted: bool,
    input_length: usize,
    file: Option<FileId>,
    /// The input's SHA-256, taken while reading it (or once it was read),
    /// when a results folder will need it.
    digest: Option<String>,
    /// The children's copy of the reacted polymer, written while it was
    /// read, for children on this machine (not sealed yet; see
    /// [`SharedCopy`]).
    shared: Option<std::fs::File>,
}

/// Reads the input on a worker thread (a stop signal is answered at once
/// even while a read blocks): reacted as it is read, on every core, unless
/// process children are to get the input as it is.
fn read_phase(config: &Config, phases: &mut Phases, signals: &Signals) -> anyhow::Result<Read> {
    let source = config.source.clone();
    let (as_it_is, digest, share) = match &config.mode {
        Mode::Process(process) => (
            !process.prereact,
            process.results.is_some(),
            process.placement.delivery() == Delivery::Stdin,
        ),
        _ => (false, false, false),
    };
    if as_it_is {
        let loaded = phases.time("read and validate", || {
            background::one(signals, move || input::load_with_id(&source))
        })??;
        let (polymer, digest) = if digest {
            let polymer = loaded.polymer;
            phases.time("digest", || {
                background::one(signals, move || {
                    let digest = record::sha256(polymer.units());
                    (polymer, Some(digest))
                })
            })?
        } else {
            (loaded.polymer, None)
        };
        return Ok(Read {
            input_length: polymer.len(),
            polymer,
            reacted: false,
            file: loaded.file,
            digest,
            shared: None,
        });
    }
    phases.time("read and react", || {
        background::one(signals, move || read_and_react(&source, digest, share))
    })?
}

/// Reads the input and reacts it on every core; with `digest`, takes its
/// SHA-256 on the way; with `share`, writes the children's copy of the
/// reacted polymer as it is joined.
fn read_and_react(source: &Source, digest: bool, share: bool) -> anyhow::Result<Read> {
    let mut hasher = digest.then(InputDigest::default);
    let reaction = Reaction {
        threads: None,
        without: None,
        size_hint: 0,
    };
    // The children's copy is written as the polymer is joined, on the
    // thread that joins it while the others react, instead of on one
    // thread once it is all reacted. A write that fails leaves the copy to
    // be written afterwards, as a plain file if need be.
    let shared = share.then(SharedCopy::new).flatten();
    let write = |offset: usize, stretch: &[u8]| {
        if let Some(shared) = &shared {
            shared.write(offset, stretch);
        }
        Ok(())
    };
    let mirror = shared.is_some().then_some(&write as stream::Mirror);
    let read = input::react_mirrored(
        source,
        &reaction,
        &mut |units| {
            if let Some(hasher) = &mut hasher {
                hasher.update(units);
            }
        },
        mirror,
    )?;
    let mut polymer = read.reacted.polymer;
    // What follows (copies per thread, the children's file) then adds to
    // the reacted size only.
    polymer.shrink_to_fit();
    Ok(Read {
        polymer,
        reacted: true,
        input_length: read.reacted.input_length,
        file: read.file,
        digest: hasher.map(InputDigest::finish),
        shared: shared.and_then(SharedCopy::finish),
    })
}

/// The one full reaction of an input read as it is, on a worker thread, on
/// every core for large inputs.
fn react_in_background(mut polymer: Polymer, signals: &Signals) -> anyhow::Result<Polymer> {
    background::one(signals, move || {
        const PARALLEL_FROM: usize = 1 << 20;
        let threads = || std::thread::available_parallelism().map_or(1, usize::from);
        if polymer.len() >= PARALLEL_FROM {
            polymer.react_parallel(threads());
        } else {
            polymer.react();
        }
        polymer.shrink_to_fit();
        polymer
    })
}

/// The segments the sweep may hold in all, for an `input_length`-unit
/// input that reacted to `reacted_length` units: the input is never held
/// whole, so the run may use what holding it would have cost, less the
/// reacted polymer and a buffer of its size for each of `threads` (for the
/// letters the sweep gives up on), and never less than [`MAX_SEGMENTS`]
/// (16 MiB); halved, as each letter's stack of segments grows by doubling
/// and may hold twice what it uses. So the peak stays within the input's
/// size, plus 16 MiB.
fn sweep_budget(input_length: usize, reacted_length: usize, threads: usize) -> usize {
    let held = reacted_length.saturating_mul(threads.saturating_add(1));
    (input_length.saturating_sub(held) / SEGMENT_BYTES).max(MAX_SEGMENTS) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_may_use_what_holding_the_input_would_have_and_never_less_than_the_floor() {
        // 1 GB that reacts to 194 MB, two threads: 1000 - 3 x 194 MB.
        assert_eq!(
            sweep_budget(1_000_000_000, 194_000_000, 2),
            418_000_000 / SEGMENT_BYTES / 2
        );
        assert_eq!(
            sweep_budget(1_000_000_000, 400_000_000, 2),
            MAX_SEGMENTS / 2
        );
        assert_eq!(sweep_budget(50_000, 9_848, 2), MAX_SEGMENTS / 2);
        assert_eq!(sweep_budget(100, 100, 0), MAX_SEGMENTS / 2);
    }
}
