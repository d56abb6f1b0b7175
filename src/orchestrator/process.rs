//! The process mode: hand the children a private snapshot of the polymer,
//! run them (local children, or one Slurm job array), publish what they
//! found. With `--resume`, letters whose result the results folder already
//! holds for this job are not run, and tasks of an earlier job array still
//! queued or running are waited for, not submitted again.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::manifest::{self, ArrayRecord, Manifest};
use super::workspace::{Kept, Workspace};
use super::{Config, Interrupted, Phases, ProcessMode, background, react_in_background};
use crate::input::Loaded;
use crate::polymer::{Polymer, UnitType};
use crate::signals::Signals;
use crate::supervise::array::{self, ArraySpec, ArraySupervisor, Submitted};
use crate::supervise::launcher::Launcher;
use crate::supervise::{self, Attempt, Batch, Outcome, Supervision, Supervisor};

pub(super) fn fan_out(
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
    let (polymer, job) = identify(&workspace, process, loaded.polymer, phases, signals)?;
    let Kept {
        results: cached,
        recorded,
    } = match (&job, process.resume) {
        (Some(job), true) => workspace.cached(job, &config.letters)?,
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
        polymer,
        phases,
        signals,
    )?;
    let record = RefCell::new(job.map(|job| Manifest {
        full_length: handover.full_length,
        array: handover.array.clone(),
        ..job
    }));
    if let Some(job) = &*record.borrow() {
        workspace.record(job)?;
    }
    if let Some(signal) = signals.stop_signal() {
        return Err(Interrupted { signal }.into());
    }
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
    let polymer_len = polymer_len(&handover.snapshot)?;
    let supervision = match (&process.array, &handover.array) {
        (Some(options), Some(array)) => {
            let submitted = |s: &Submitted| {
                if let Err(err) = record_submission(record, workspace, s) {
                    unpublished.borrow_mut().get_or_insert(err);
                }
            };
            let spec = ArraySpec {
                polymer_len,
                dir: handover
                    .snapshot
                    .parent()
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
                program: process.program.program.clone(),
                sbatch_args: options.sbatch_args.clone(),
                job_name: array::default_job_name(),
            };
            run_array(
                &spec,
                &array.jobs,
                &todo,
                process,
                signals,
                phases,
                &settled,
                &submitted,
            )?
        }
        _ => {
            let batch = Batch {
                letters: todo,
                polymer_len,
                polymer: handover.snapshot.clone(),
                polymer_on_stdin: handover.shared.is_some(),
                dir: workspace.private().to_path_buf(),
            };
            let policy = &process.policy;
            Supervisor::new(
                &batch,
                &process.program,
                policy,
                signals,
                phases.epoch,
                &settled,
            )
            .run()
        }
    };
    match unpublished.into_inner() {
        Some(err) => Err(err),
        None => Ok(supervision),
    }
}

/// With a results folder, what the results there will be of: the input's
/// digest and the child program's identity (computed on a worker thread).
fn identify(
    workspace: &Workspace,
    process: &ProcessMode,
    polymer: Polymer,
    phases: &mut Phases,
    signals: &Signals,
) -> anyhow::Result<(Polymer, Option<Manifest>)> {
    if workspace.results_dir().is_none() {
        return Ok((polymer, None));
    }
    let (polymer, digest) = phases.time("digest", || {
        background::one(signals, move || {
            let digest = manifest::sha256(polymer.units());
            (polymer, digest)
        })
    })?;
    let job = Manifest {
        input_sha256: digest,
        input_length: polymer.len(),
        full_length: 0,
        program: manifest::program_identity(&process.program.program)?,
        array: None,
    };
    Ok((polymer, Some(job)))
}

/// Decides where the children's copy of the polymer goes and writes it:
/// for a job array, into the array's folder inside the results folder (it
/// must outlive this run; a resumed array's folder is reused as it is),
/// else into the private folder. Reacts the polymer before or after writing
/// it, as `prereact` says.
fn hand_over(
    process: &ProcessMode,
    workspace: &Workspace,
    recorded: Option<&Manifest>,
    mut polymer: Polymer,
    phases: &mut Phases,
    signals: &Signals,
) -> anyhow::Result<Handover> {
    let earlier = recorded.and_then(|r| r.array.clone());
    let results = workspace.results_dir();
    let array = match (&process.array, earlier, results) {
        (Some(_), Some(earlier), Some(dir)) if dir.join(&earlier.folder).is_dir() => {
            let snapshot = dir.join(&earlier.folder).join("polymer.txt");
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
        (Some(_), _, Some(_)) => Some(ArrayRecord {
            folder: array::folder_name(),
            jobs: Vec::new(),
        }),
        _ => None,
    };
    let folder = array
        .as_ref()
        .zip(results)
        .map(|(array, dir)| dir.join(&array.folder));
    if process.prereact {
        polymer = phases.time("react", || react_in_background(polymer, signals))?;
    }
    let local = process.array.is_none() && process.program.launcher == Launcher::Direct;
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
    if !process.prereact {
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
    if let Some(job) = &mut *record.borrow_mut() {
        if let Some(array) = &mut job.array {
            array.jobs.push(submitted.clone());
        }
        workspace.record(job)?;
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

/// Runs `todo` as Slurm array tasks: adopts those of `earlier` submissions
/// still queued or finished, submits the rest as one new array.
#[allow(clippy::too_many_arguments)]
fn run_array(
    spec: &ArraySpec,
    earlier: &[Submitted],
    todo: &[UnitType],
    process: &ProcessMode,
    signals: &Signals,
    phases: &Phases,
    settled: &dyn Fn(&Attempt),
    submitted: &dyn Fn(&Submitted),
) -> anyhow::Result<Supervision> {
    spec.write_script()?;
    let mut supervisor = ArraySupervisor::new(
        spec,
        &process.policy,
        signals,
        phases.epoch,
        settled,
        submitted,
    );
    let orphaned = supervisor.adopt(earlier, todo);
    let attempt = earlier.iter().map(|s| s.attempt).max().unwrap_or(0) + 1;
    supervisor.submit(&orphaned, attempt)?;
    Ok(supervisor.run())
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
    if let (true, None, Some(array), Some(_)) = (
        all_done,
        supervision.interrupted,
        &handover.array,
        &process.array,
    ) {
        workspace.remove_array_folder(&array.folder);
        if let Some(job) = &mut *record.borrow_mut() {
            job.array = None;
            workspace.record(job)?;
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
        outcome: Outcome::Cached(length),
        stderr_tail: Vec::new(),
    }
}
