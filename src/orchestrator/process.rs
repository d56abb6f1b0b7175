//! The process mode: hand the children a private snapshot of the polymer,
//! run them (local children, or the tasks of a Slurm job array), publish
//! what they found. With `--resume`, letters whose result the results
//! folder already holds for the same input and program are not run, and
//! tasks of an earlier job array still queued or running are waited for,
//! not submitted again.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::manifest::{self, ArrayRecord, Manifest};
use super::workspace::{Kept, Workspace};
use super::{Config, Interrupted, Phases, ProcessMode, Read, Runner, react_in_background};
use crate::files;
use crate::polymer::{Polymer, UnitType};
use crate::protocol::ARRAY_POLYMER;
use crate::signals::Signals;
use crate::supervise::array::{self, Array, ArraySpec, Submitted};
use crate::supervise::launcher::Launcher;
use crate::supervise::local::Local;
use crate::supervise::queue::{self, Slurm};
use crate::supervise::{self, Attempt, ChildProgram, Outcome, Supervision, Supervisor};

pub(super) fn fan_out(
    config: &Config,
    process: &ProcessMode,
    read: Read,
    phases: &mut Phases,
    signals: &Signals,
    progress: &dyn Fn(&Attempt),
) -> anyhow::Result<(Vec<Attempt>, usize)> {
    let results = process.runner.results();
    let resume = results.is_some_and(|r| r.resume);
    let children_here = matches!(
        &process.runner,
        Runner::Local { launcher, .. } if !matches!(launcher, Launcher::Slurm { .. })
    );
    let workspace = Workspace::create(
        results.map(|r| r.path.as_path()),
        read.file,
        resume,
        children_here,
    )?;
    let reacted = read.reacted;
    let (polymer, manifest) = identify(&workspace, process, read)?;
    let Kept {
        results: cached,
        recorded,
    } = match &manifest {
        Some(manifest) if resume => workspace.cached(manifest, &config.letters)?,
        _ => Kept::default(),
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
    let handover = hand_over(
        process,
        &workspace,
        recorded.as_ref(),
        (polymer, reacted),
        phases,
        signals,
    )?;
    let record = RefCell::new(manifest.map(|manifest| Manifest {
        full_length: handover.full_length,
        array: handover.array.clone(),
        ..manifest
    }));
    if let Some(manifest) = &*record.borrow() {
        workspace.record(manifest)?;
    }
    if let Some(signal) = signals.stop_signal() {
        return Err(Interrupted { signal }.into());
    }
    contain(process)?;
    let supervision = supervise(
        process, &workspace, &handover, todo, &record, phases, signals, progress,
    )?;
    forget_finished_array(process, &workspace, &handover, &supervision, &record)?;
    if let Some(signal) = supervision.interrupted {
        return Err(Interrupted { signal }.into());
    }
    attempts.extend(supervision.attempts);
    Ok((attempts, handover.full_length))
}

/// Contains what children on this machine start: in a PID namespace that
/// dies with orchestrate, or, where the kernel refuses one, as their
/// subreaper (orphans are re-parented here, to be killed). Last before the
/// children: no thread can be started after it. Children on other
/// machines are the scheduler's to contain.
fn contain(process: &ProcessMode) -> anyhow::Result<()> {
    match &process.runner {
        Runner::Local {
            launcher: Launcher::Slurm { .. },
            ..
        }
        | Runner::Array { .. } => Ok(()),
        Runner::Local { .. } => crate::sys::contain::enter().map(drop),
    }
}

/// What the children are handed, and what is known of the job then.
struct Handover {
    /// The children's copy of the polymer.
    snapshot: PathBuf,
    /// When that copy is a sealed in-memory file: the file, kept open for
    /// as long as children are started (each gets it as standard input).
    shared: Option<std::fs::File>,
    full_length: usize,
    /// For a job array: its folder, and the submissions made so far.
    array: Option<ArrayRecord>,
}

/// Runs the letters `todo` and publishes each result as soon as its letter
/// settles, so that even a run killed outright leaves what it found for
/// `--resume`.
#[allow(clippy::too_many_arguments)]
fn supervise(
    process: &ProcessMode,
    workspace: &Workspace,
    handover: &Handover,
    todo: Vec<UnitType>,
    record: &RefCell<Option<Manifest>>,
    phases: &Phases,
    signals: &Signals,
    progress: &dyn Fn(&Attempt),
) -> anyhow::Result<Supervision> {
    let publisher = Publisher {
        workspace,
        record,
        progress,
        error: RefCell::new(None),
    };
    let settled = |attempt: &Attempt| publisher.settled(attempt);
    let polymer_len = polymer_len(&handover.snapshot)?;
    let policy = &process.policy;
    let supervision = match (&process.runner, &handover.array) {
        (Runner::Array { sbatch_args, .. }, Some(array)) => {
            let submitted = |s: &Submitted| publisher.submitted(s);
            let spec = ArraySpec {
                polymer_len,
                dir: files::folder_of(&handover.snapshot).to_path_buf(),
                program: process.program.clone(),
                sbatch_args: sbatch_args.clone(),
                name: array.name.clone(),
            };
            let backend = Array::new(
                &spec,
                Slurm,
                policy.queue_poll,
                array.jobs.len(),
                &submitted,
            );
            run_array(
                backend,
                &array.jobs,
                &todo,
                policy,
                signals,
                phases,
                &settled,
            )
        }
        (Runner::Local { launcher, .. }, _) => {
            let program = ChildProgram {
                program: process.program.clone(),
                launcher: launcher.clone(),
                heeds_parent_pid: process.heeds_parent_pid,
            };
            let backend = Local::new(
                &program,
                handover.snapshot.clone(),
                handover.shared.is_some(),
                polymer_len,
                workspace.private().to_path_buf(),
            );
            Supervisor::new(backend, policy, signals, phases.epoch, &settled)
                .run(todo.into_iter().map(|letter| (letter, 1)))
        }
        (Runner::Array { .. }, None) => {
            anyhow::bail!("internal error: a job array run without its folder")
        }
    };
    match publisher.error.into_inner() {
        Some(err) => Err(err),
        None => Ok(supervision),
    }
}

/// Publishes each result as soon as its letter settles and records each
/// submission of a job array at once, keeping the first error (the run
/// goes on: its children must still be seen to the end).
struct Publisher<'a> {
    workspace: &'a Workspace,
    record: &'a RefCell<Option<Manifest>>,
    progress: &'a dyn Fn(&Attempt),
    error: RefCell<Option<anyhow::Error>>,
}

impl Publisher<'_> {
    fn settled(&self, attempt: &Attempt) {
        if let Outcome::Ok(length) = attempt.outcome
            && self.error.borrow().is_none()
            && let Err(err) = self.workspace.publish(attempt.letter, length)
        {
            *self.error.borrow_mut() = Some(err);
        }
        (self.progress)(attempt);
    }

    fn submitted(&self, submitted: &Submitted) {
        if let Err(err) = record_submission(self.record, self.workspace, submitted) {
            self.error.borrow_mut().get_or_insert(err);
        }
    }
}

/// Runs `todo` as array tasks: adopts those of `earlier` submissions that
/// reported or are still queued, submits the rest.
fn run_array(
    mut backend: Array<'_, Slurm>,
    earlier: &[Submitted],
    todo: &[UnitType],
    policy: &supervise::Policy,
    signals: &Signals,
    phases: &Phases,
    settled: &dyn Fn(&Attempt),
) -> Supervision {
    let (adopted, todo) = backend.adopt(earlier, todo);
    let mut supervisor = Supervisor::new(backend, policy, signals, phases.epoch, settled);
    for (task, started) in adopted {
        supervisor.adopt(task.letter, task.attempt, started);
    }
    supervisor.run(todo)
}

/// With a results folder, what the results there will be of: the input's
/// digest (taken when it was read) and the child program's identity.
fn identify(
    workspace: &Workspace,
    process: &ProcessMode,
    read: Read,
) -> anyhow::Result<(Polymer, Option<Manifest>)> {
    if workspace.results_dir().is_none() {
        return Ok((read.polymer, None));
    }
    // Taken by `read_phase` whenever there is a results folder.
    let digest = read
        .digest
        .context("the input's digest was not taken while it was read")?;
    let manifest = Manifest {
        input_sha256: digest,
        input_length: read.input_length,
        full_length: 0,
        program: manifest::program_identity(&process.program)?,
        array: None,
    };
    Ok((read.polymer, Some(manifest)))
}

/// Decides where the children's copy of the polymer goes and writes it:
/// for a job array, into the array's folder inside the results folder (it
/// must outlive this run; a resumed array's folder is reused as it is),
/// else into the private folder. A polymer read as it is (`prereact` off)
/// is reacted once written, for the full length.
fn hand_over(
    process: &ProcessMode,
    workspace: &Workspace,
    recorded: Option<&Manifest>,
    (mut polymer, reacted): (Polymer, bool),
    phases: &mut Phases,
    signals: &Signals,
) -> anyhow::Result<Handover> {
    let earlier = recorded.and_then(|r| r.array.clone());
    let results = workspace.results_dir();
    let array = match (&process.runner, earlier, results) {
        (Runner::Array { .. }, Some(earlier), Some(dir)) if dir.join(&earlier.folder).is_dir() => {
            let snapshot = dir.join(&earlier.folder).join(ARRAY_POLYMER);
            if let (Some(recorded), true) = (recorded, snapshot.is_file()) {
                return Ok(Handover {
                    snapshot,
                    shared: None,
                    full_length: recorded.full_length,
                    array: Some(earlier),
                });
            }
            Some(earlier)
        }
        (Runner::Array { sbatch_args, .. }, _, _) => {
            let folder = array::folder_name();
            Some(ArrayRecord {
                name: queue::job_name(sbatch_args).unwrap_or_else(|| folder.clone()),
                folder,
                jobs: Vec::new(),
            })
        }
        (Runner::Local { .. }, _, _) => None,
    };
    let folder = array
        .as_ref()
        .zip(results)
        .map(|(array, dir)| dir.join(&array.folder));
    let local = matches!(
        process.runner,
        Runner::Local {
            launcher: Launcher::Direct,
            ..
        }
    );
    let (snapshot, shared) = phases.time("write polymer file", || {
        if local {
            match Workspace::share_polymer(polymer.units(), signals) {
                Ok((file, path)) => return Ok((path, Some(file))),
                Err(err) if err.is::<Interrupted>() => return Err(err),
                // Not on this platform: a plain file does the same.
                Err(_) => {}
            }
        }
        let path = workspace.write_polymer(folder.as_deref(), polymer.units(), signals)?;
        Ok((path, None))
    })?;
    if !reacted {
        polymer = phases.time("react", || react_in_background(polymer, signals))?;
    }
    Ok(Handover {
        snapshot,
        shared,
        full_length: polymer.len(),
        array,
    })
}

/// Records a submission in the manifest at once: the array outlives us.
fn record_submission(
    record: &RefCell<Option<Manifest>>,
    workspace: &Workspace,
    submitted: &Submitted,
) -> anyhow::Result<()> {
    if let Some(manifest) = &mut *record.borrow_mut() {
        if let Some(array) = &mut manifest.array {
            array.jobs.push(submitted.clone());
        }
        workspace.record(manifest)?;
    }
    Ok(())
}

/// The length of the polymer in a children's copy (its size less the
/// newline): no valid result is larger.
fn polymer_len(snapshot: &Path) -> anyhow::Result<usize> {
    let size = std::fs::metadata(snapshot)
        .map_err(anyhow::Error::from)?
        .len();
    Ok(usize::try_from(size.saturating_sub(1)).unwrap_or(usize::MAX))
}

/// A job array with every letter done leaves nothing to collect: its
/// folder (a copy of the polymer, the tasks' files) goes, and so does its
/// record.
fn forget_finished_array(
    process: &ProcessMode,
    workspace: &Workspace,
    handover: &Handover,
    supervision: &Supervision,
    record: &RefCell<Option<Manifest>>,
) -> anyhow::Result<()> {
    let all_done = supervision
        .attempts
        .iter()
        .all(|a| a.outcome.is_ok() || a.number < last_attempt(supervision, a.letter));
    if let (true, None, Some(array), Runner::Array { .. }) = (
        all_done,
        supervision.interrupted,
        &handover.array,
        &process.runner,
    ) {
        workspace.remove_array_folder(&array.folder);
        if let Some(manifest) = &mut *record.borrow_mut() {
            manifest.array = None;
            workspace.record(manifest)?;
        }
    }
    Ok(())
}

/// The number of the last attempt at `letter` in a supervision.
fn last_attempt(supervision: &Supervision, letter: UnitType) -> u32 {
    supervision
        .attempts
        .iter()
        .filter(|a| a.letter == letter)
        .map(|a| a.number)
        .max()
        .unwrap_or(0)
}

/// A letter whose result was kept from an earlier run.
fn cached_attempt(letter: UnitType, length: usize) -> Attempt {
    Attempt {
        letter,
        number: 0,
        spawned: Duration::ZERO,
        started: Duration::ZERO,
        duration: Duration::ZERO,
        host: None,
        outcome: Outcome::Cached(length),
        stderr_tail: Vec::new(),
    }
}
