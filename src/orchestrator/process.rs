//! The process mode: hand the children a private snapshot of the polymer,
//! run them (local children, or the tasks of a Slurm job array), publish
//! what they found. With `--resume`, letters whose result the results
//! folder already holds for the same input and program are not run, and
//! tasks of an earlier job array still queued or running are waited for,
//! not submitted again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use super::record::{self, ArrayRecord, Record};
use super::workspace::{Kept, Workspace};
use super::{Config, Interrupted, Phases, ProcessMode, Read, react_in_background};
use crate::files;
use crate::polymer::{Polymer, UnitType};
use crate::protocol::POLYMER_FILE;
use crate::signals::Signals;
use crate::supervise::array::{self, Array, ArraySpec, Submitted};
use crate::supervise::local::Local;
use crate::supervise::placement::{Delivery, Placement};
use crate::supervise::queue::Queue;
use crate::supervise::{
    Attempt, ChildProgram, Context, Outcome, Supervision, Supervisor, SystemClock,
};

/// Runs the letters of `config` as children, where `process` places them,
/// with `queue` for a job array; returns every attempt (those kept from an
/// earlier run first) and the reacted polymer's length.
pub(super) fn fan_out(
    config: &Config,
    process: &ProcessMode,
    mut read: Read,
    queue: &mut dyn Queue,
    phases: &mut Phases,
    signals: &Signals,
    progress: &dyn Fn(&Attempt),
) -> anyhow::Result<(Vec<Attempt>, usize)> {
    let resume = process.results.as_ref().is_some_and(|r| r.resume);
    let workspace = Workspace::create(
        process.results.as_ref().map(|r| r.path.as_path()),
        read.file,
        resume,
        process.placement.on_this_machine(),
        &mut *queue,
    )?;
    let reacted = read.reacted;
    let shared = read.shared.take();
    let (polymer, record) = identify(&workspace, process, read)?;
    let (mut attempts, todo, recorded) = take_kept(&workspace, config, record.as_ref(), resume)?;
    attempts.iter().for_each(progress);
    if let (true, Some(recorded)) = (todo.is_empty(), &recorded) {
        // A finished run, resumed: no work at all.
        return Ok((attempts, recorded.full_length));
    }
    let handover = hand_over(
        process,
        &workspace,
        recorded.as_ref(),
        (polymer, reacted, shared),
        phases,
        signals,
    )?;
    let mut record = record.map(|record| Record {
        full_length: handover.full_length,
        array: handover.array().cloned(),
        ..record
    });
    if let Some(record) = &record {
        workspace.record(record)?;
    }
    let fan = Fan {
        process,
        workspace: &workspace,
        handover: &handover,
        context: Context {
            policy: &process.policy,
            signals,
            clock: &SystemClock,
            epoch: phases.epoch,
        },
        progress,
    };
    attempts.extend(fan.run(todo, queue, &mut record)?);
    Ok((attempts, handover.full_length))
}

/// With `--resume`, the letters whose result the results folder keeps from
/// an earlier run of the same work (as attempts), the letters left to run,
/// and that run's record.
fn take_kept(
    workspace: &Workspace,
    config: &Config,
    record: Option<&Record>,
    resume: bool,
) -> anyhow::Result<(Vec<Attempt>, Vec<UnitType>, Option<Record>)> {
    let Kept {
        results: kept,
        recorded,
    } = match record {
        Some(record) if resume => workspace.kept(record, &config.letters)?,
        _ => Kept::default(),
    };
    let attempts = kept.iter().map(|&(l, n)| kept_attempt(l, n)).collect();
    let todo = config
        .letters
        .iter()
        .copied()
        .filter(|letter| kept.iter().all(|&(l, _)| l != *letter))
        .collect();
    Ok((attempts, todo, recorded))
}

/// The children's copy of the polymer, as they are handed it.
enum Snapshot {
    /// A sealed in-memory file, kept open for as long as children are
    /// started (each gets it as standard input).
    Sealed { path: PathBuf, _file: std::fs::File },
    /// A file in the run's private folder, held open for as long as
    /// children are started (on Windows so that no one can change it).
    Private { path: PathBuf, _held: std::fs::File },
    /// A file in a job array's folder inside the results folder, and the
    /// array's record (its folder, the submissions made so far).
    Array {
        path: PathBuf,
        array: ArrayRecord,
        sbatch_args: Vec<std::ffi::OsString>,
    },
}

/// What the children are handed, and what is known of the job then.
struct Handover {
    snapshot: Snapshot,
    full_length: usize,
}

impl Handover {
    fn path(&self) -> &Path {
        match &self.snapshot {
            Snapshot::Sealed { path, .. }
            | Snapshot::Private { path, .. }
            | Snapshot::Array { path, .. } => path,
        }
    }

    fn array(&self) -> Option<&ArrayRecord> {
        match &self.snapshot {
            Snapshot::Array { array, .. } => Some(array),
            Snapshot::Sealed { .. } | Snapshot::Private { .. } => None,
        }
    }
}

/// The fan-out once the children's copy is written: what it runs, where,
/// and what it goes by.
struct Fan<'a> {
    process: &'a ProcessMode,
    workspace: &'a Workspace,
    handover: &'a Handover,
    context: Context<'a>,
    progress: &'a dyn Fn(&Attempt),
}

impl Fan<'_> {
    /// Runs `todo` to the end: contains what children here start, runs
    /// them, forgets a finished job array; the attempts.
    fn run(
        &self,
        todo: Vec<UnitType>,
        queue: &mut dyn Queue,
        record: &mut Option<Record>,
    ) -> anyhow::Result<Vec<Attempt>> {
        if let Some(signal) = self.context.signals.stop_signal() {
            return Err(Interrupted { signal }.into());
        }
        // Last before the children: no thread can be started after it.
        if self.process.placement.on_this_machine() {
            crate::sys::contain::enter()?;
        }
        let supervision = self.supervise(todo, queue, record)?;
        self.forget_finished_array(&supervision, record)?;
        if let Some(signal) = supervision.interrupted {
            return Err(Interrupted { signal }.into());
        }
        Ok(supervision.attempts)
    }

    /// Runs the letters `todo` and publishes each result as soon as its
    /// letter settles, so that even a run killed outright leaves what it
    /// found for `--resume`; records each submission of a job array at
    /// once. The first error is kept and returned at the end: the run goes
    /// on, as its children must still be seen to the end.
    fn supervise(
        &self,
        todo: Vec<UnitType>,
        queue: &mut dyn Queue,
        record: &mut Option<Record>,
    ) -> anyhow::Result<Supervision> {
        // The first error of either kind; after it nothing more is
        // published, but every submission is still recorded (the array
        // outlives the run, and a later run must find it to cancel it).
        let first_error = std::cell::OnceCell::new();
        let mut settled = |attempt: &Attempt| {
            if let Outcome::Ok(length) = attempt.outcome
                && first_error.get().is_none()
                && let Err(err) = self.workspace.publish(attempt.letter, length)
            {
                let _ = first_error.set(err);
            }
            (self.progress)(attempt);
        };
        let polymer_len = polymer_len(self.handover.path())?;
        let supervision = match &self.handover.snapshot {
            Snapshot::Array {
                path,
                array,
                sbatch_args,
            } => {
                let mut submitted = |submitted: &Submitted| {
                    if let Err(err) = self.record_submission(record, submitted) {
                        let _ = first_error.set(err);
                    }
                };
                let spec = ArraySpec {
                    polymer_len,
                    dir: files::folder_of(path).to_path_buf(),
                    program: self.process.program.clone(),
                    sbatch_args: sbatch_args.clone(),
                    name: array.name.clone(),
                    queue_poll: self.process.policy.queue_poll,
                };
                let clock = self.context.clock;
                let earlier = array.submissions.len();
                let backend = Array::new(&spec, queue, clock, earlier, &mut submitted);
                self.run_array(backend, &array.submissions, &todo, &mut settled)
            }
            Snapshot::Sealed { path, .. } => {
                self.run_children((path, Delivery::Stdin), polymer_len, todo, &mut settled)
            }
            Snapshot::Private { path, .. } => self.run_children(
                (path, Delivery::PrivateFile),
                polymer_len,
                todo,
                &mut settled,
            ),
        };
        match first_error.into_inner() {
            Some(err) => Err(err),
            None => Ok(supervision),
        }
    }

    /// Runs `todo` as children of orchestrate, handed the polymer at
    /// `path` as `delivery` says.
    fn run_children(
        &self,
        (path, delivery): (&Path, Delivery),
        polymer_len: usize,
        todo: Vec<UnitType>,
        settled: &mut dyn FnMut(&Attempt),
    ) -> Supervision {
        let program = ChildProgram {
            program: self.process.program.clone(),
            placement: self.process.placement.clone(),
            heeds_parent_pid: self.process.heeds_parent_pid,
        };
        let backend = Local::new(
            &program,
            (path.to_path_buf(), delivery),
            polymer_len,
            self.workspace.private().to_path_buf(),
            self.context.clock,
        );
        Supervisor::new(backend, self.context, settled)
            .run(todo.into_iter().map(|letter| (letter, 1)))
    }

    /// Runs `todo` as array tasks: adopts those of `earlier` submissions
    /// that reported or are still queued, submits the rest.
    fn run_array(
        &self,
        mut backend: Array<'_, &mut dyn Queue>,
        earlier: &[Submitted],
        todo: &[UnitType],
        settled: &mut dyn FnMut(&Attempt),
    ) -> Supervision {
        let (adopted, todo) = backend.adopt(earlier, todo);
        let mut supervisor = Supervisor::new(backend, self.context, settled);
        for (task, started) in adopted {
            supervisor.adopt(task.letter, task.attempt, started);
        }
        supervisor.run(todo)
    }

    /// Records a submission at once: the array outlives this run.
    fn record_submission(
        &self,
        record: &mut Option<Record>,
        submitted: &Submitted,
    ) -> anyhow::Result<()> {
        if let Some(record) = record {
            if let Some(array) = &mut record.array {
                array.submissions.push(submitted.clone());
            }
            self.workspace.record(record)?;
        }
        Ok(())
    }

    /// A job array with every letter done leaves nothing to collect: its
    /// folder (a copy of the polymer, the tasks' files) goes, and so does
    /// its record.
    fn forget_finished_array(
        &self,
        supervision: &Supervision,
        record: &mut Option<Record>,
    ) -> anyhow::Result<()> {
        let all_done = supervision
            .attempts
            .iter()
            .all(|a| a.outcome.is_ok() || a.attempt < last_attempt(supervision, a.letter));
        if let (true, None, Some(array)) =
            (all_done, supervision.interrupted, self.handover.array())
        {
            self.workspace.remove_array_folder(&array.folder);
            if let Some(record) = record {
                record.array = None;
                self.workspace.record(record)?;
            }
        }
        Ok(())
    }
}

/// With a results folder, what the results there will be of: the input's
/// digest (taken when it was read) and the child program's identity.
fn identify(
    workspace: &Workspace,
    process: &ProcessMode,
    read: Read,
) -> anyhow::Result<(Polymer, Option<Record>)> {
    if workspace.results_dir().is_none() {
        return Ok((read.polymer, None));
    }
    // Taken by `read_phase` whenever there is a results folder.
    let digest = read
        .digest
        .context("the input's digest was not taken while it was read")?;
    let record = Record {
        input_sha256: digest,
        input_length: read.input_length,
        full_length: 0,
        program: record::program_identity(&process.program)?,
        array: None,
    };
    Ok((read.polymer, Some(record)))
}

/// Writes the children's copy of the polymer where the placement wants
/// it: for a job array, into the array's folder inside the results folder
/// (it must outlive this run; a resumed array's folder is reused as it
/// is); for a child started here directly, into a sealed in-memory file
/// where the system has them (`shared`, when it was written while the
/// input was read, is only sealed); else into the private folder. A
/// polymer read as it is (`prereact` off) is reacted once written, for the
/// full length.
fn hand_over(
    process: &ProcessMode,
    workspace: &Workspace,
    recorded: Option<&Record>,
    (mut polymer, reacted, shared): (Polymer, bool, Option<std::fs::File>),
    phases: &mut Phases,
    signals: &Signals,
) -> anyhow::Result<Handover> {
    let snapshot = match &process.placement {
        Placement::Array { sbatch_args } => {
            let results = workspace.lasting();
            let (array, reused) = array_folder(results, recorded, sbatch_args);
            let folder = results.join(&array.folder);
            let written = folder.join(POLYMER_FILE);
            if let (Some(recorded), true) = (recorded, reused && written.is_file()) {
                return Ok(Handover {
                    snapshot: Snapshot::Array {
                        path: written,
                        array,
                        sbatch_args: sbatch_args.clone(),
                    },
                    full_length: recorded.full_length,
                });
            }
            let path = phases.time("write polymer file", || {
                workspace.write_polymer(Some(&folder), polymer.units(), signals)
            })?;
            Snapshot::Array {
                path,
                array,
                sbatch_args: sbatch_args.clone(),
            }
        }
        placement => phases.time("write polymer file", || {
            if placement.delivery() == Delivery::Stdin {
                let sealed = match shared {
                    Some(file) => Workspace::seal_shared(file, polymer.units()),
                    None => Workspace::share_polymer(polymer.units(), signals),
                };
                match sealed {
                    Ok((file, path)) => return Ok(Snapshot::Sealed { path, _file: file }),
                    Err(err) if err.is::<Interrupted>() => return Err(err),
                    // Not on this platform: a plain file does the same.
                    Err(_) => {}
                }
            }
            let path = workspace.write_polymer(None, polymer.units(), signals)?;
            let held = crate::sys::fs::hold_unchanged(&path).with_context(|| {
                format!(
                    "could not hold the children's polymer {}",
                    files::shown(&path)
                )
            })?;
            Ok(Snapshot::Private { path, _held: held })
        })?,
    };
    if !reacted {
        polymer = phases.time("react", || react_in_background(polymer, signals))?;
    }
    Ok(Handover {
        snapshot,
        full_length: polymer.len(),
    })
}

/// The array to run in: the recorded one while its folder is still in
/// `results` (and whether it is), else a new one.
fn array_folder(
    results: &Path,
    recorded: Option<&Record>,
    sbatch_args: &[std::ffi::OsString],
) -> (ArrayRecord, bool) {
    match recorded.and_then(|r| r.array.clone()) {
        Some(earlier) if results.join(&earlier.folder).is_dir() => (earlier, true),
        _ => {
            let folder = array::folder_name();
            let array = ArrayRecord {
                name: array::job_name(sbatch_args, &folder),
                folder,
                submissions: Vec::new(),
            };
            (array, false)
        }
    }
}

/// The length of the polymer in a children's copy (its size less the
/// newline): no valid result is larger.
fn polymer_len(snapshot: &Path) -> anyhow::Result<usize> {
    let size = std::fs::metadata(snapshot)
        .map_err(anyhow::Error::from)?
        .len();
    Ok(usize::try_from(size.saturating_sub(1)).unwrap_or(usize::MAX))
}

/// The number of the last attempt at `letter` in a supervision.
fn last_attempt(supervision: &Supervision, letter: UnitType) -> u32 {
    supervision
        .attempts
        .iter()
        .filter(|a| a.letter == letter)
        .map(|a| a.attempt)
        .max()
        .unwrap_or(0)
}

/// A letter whose result was kept from an earlier run.
fn kept_attempt(letter: UnitType, length: usize) -> Attempt {
    Attempt {
        letter,
        attempt: 0,
        spawned: Duration::ZERO,
        started: Duration::ZERO,
        duration: Duration::ZERO,
        host: None,
        outcome: Outcome::Kept(length),
        stderr_tail: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    // What only the job arrays' tests use: Slurm runs on Linux only.
    #![cfg_attr(not(unix), allow(dead_code, unused_imports))]
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::super::{Mode, ResultsFolder, run};
    use super::*;
    use crate::input::Source;
    use crate::orchestrator::record::FILE_NAME;
    use crate::protocol::ArrayTask;
    use crate::supervise::fake_queue::{FakeQueue, Plan, World, ok};
    use crate::supervise::{Outcome, Policy};

    /// A run of the worked example's letters `abc` as a job array on the
    /// fake cluster `world`, publishing into `results`.
    fn run_array(
        dir: &Path,
        results: &Path,
        world: &Rc<RefCell<World>>,
        resume: bool,
    ) -> Vec<Attempt> {
        let input = dir.join("input.txt");
        std::fs::write(&input, "dabAcCaCBAcCcaDA\n").unwrap();
        // Its identity is all that counts: the fake runs nothing.
        let program = dir.join("reduce");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        let process = ProcessMode {
            program,
            heeds_parent_pid: false,
            policy: Policy {
                queue_poll: Duration::ZERO,
                keep_going: true,
                ..Policy::default()
            },
            prereact: true,
            placement: Placement::Array {
                sbatch_args: Vec::new(),
            },
            results: Some(ResultsFolder {
                path: results.to_path_buf(),
                resume,
            }),
        };
        let config = Config {
            source: Source::from(input.as_os_str()),
            letters: UnitType::parse_set("abc").unwrap(),
            mode: Mode::Process(Box::new(process)),
        };
        let signals = Signals::detached().unwrap();
        let mut queue = FakeQueue(Rc::clone(world));
        run(&config, &mut queue, &signals, &|_| {})
            .unwrap()
            .attempts
    }

    fn outcomes(attempts: &[Attempt]) -> Vec<(char, u32, Outcome)> {
        let mut outcomes: Vec<_> = attempts
            .iter()
            .map(|a| (a.letter.letter(), a.attempt, a.outcome.clone()))
            .collect();
        outcomes.sort_by_key(|&(letter, attempt, _)| (letter, attempt));
        outcomes
    }

    fn task(letter: char, attempt: u32) -> ArrayTask {
        ArrayTask {
            letter: UnitType::from_ascii(letter as u8).unwrap(),
            attempt,
        }
    }

    /// A fake cluster on which `a` and `b` report 6 and 8, and `c`'s first
    /// task leaves the queue without a word (its node died) while its
    /// second reports 4.
    fn c_lost_once(dir: &Path) -> Rc<RefCell<World>> {
        let plan = |t: ArrayTask| match (t.letter.letter(), t.attempt) {
            ('a', _) => ok(6),
            ('b', _) => ok(8),
            ('c', 1) => Plan::Vanish { steps: 1 },
            _ => ok(4),
        };
        Rc::new(RefCell::new(World::new(dir.to_path_buf(), plan)))
    }

    /// Resumes the run on `world`: `a` and `b` are kept, `c` runs again as
    /// its second attempt.
    fn resume_keeping_a_and_b_and_running_c_again(
        dir: &Path,
        results: &Path,
        world: &Rc<RefCell<World>>,
    ) {
        let resumed = run_array(dir, results, world, true);
        assert_eq!(
            outcomes(&resumed),
            [
                ('a', 0, Outcome::Kept(6)),
                ('b', 0, Outcome::Kept(8)),
                ('c', 2, Outcome::Ok(4))
            ]
        );
    }

    // Job arrays are Slurm's, which runs on Linux only.
    #[cfg(unix)]
    #[test]
    fn a_job_array_records_each_submission_and_a_resumed_run_submits_only_what_was_lost() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results");
        let world = c_lost_once(dir.path());
        let first = run_array(dir.path(), &results, &world, false);
        assert_eq!(
            outcomes(&first),
            [
                ('a', 1, Outcome::Ok(6)),
                ('b', 1, Outcome::Ok(8)),
                ('c', 1, Outcome::Lost)
            ]
        );
        let record = Record::read(&results).unwrap().unwrap();
        let array = record.array.expect("an unfinished array stays recorded");
        assert_eq!(array.submissions.len(), 1);
        assert_eq!(
            array.submissions[0].tasks,
            [task('a', 1), task('b', 1), task('c', 1)]
        );
        assert!(results.join(&array.folder).is_dir());
        assert!(!results.join("c.txt").exists());

        resume_keeping_a_and_b_and_running_c_again(dir.path(), &results, &world);
        assert_eq!(
            world.borrow().submitted,
            [
                vec![task('a', 1), task('b', 1), task('c', 1)],
                vec![task('c', 2)]
            ],
            "only the lost letter was submitted again, as its next attempt"
        );
        let record = Record::read(&results).unwrap().unwrap();
        assert_eq!(record.array, None, "a finished array is forgotten");
        assert!(!results.join(&array.folder).exists());
        assert_eq!(
            std::fs::read_to_string(results.join("c.txt")).unwrap(),
            "4\n"
        );
        assert!(results.join(FILE_NAME).is_file());
    }

    // Job arrays are Slurm's, which runs on Linux only.
    #[cfg(unix)]
    #[test]
    fn a_record_of_the_first_version_still_resumes_its_array() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results");
        let world = c_lost_once(dir.path());
        run_array(dir.path(), &results, &world, false);
        // As the first version wrote it: no schema, no array name, a
        // submission's tasks as letters and one attempt.
        let now = Record::read(&results).unwrap().unwrap();
        let array = now.array.clone().unwrap();
        let old = serde_json::json!({
            "input_sha256": now.input_sha256,
            "input_length": now.input_length,
            "full_length": now.full_length,
            "program": now.program,
            "array": {
                "folder": array.folder,
                "jobs": [{ "job_id": array.submissions[0].job_id, "letters": "abc", "attempt": 1 }],
            },
        });
        std::fs::write(results.join(FILE_NAME), old.to_string()).unwrap();
        resume_keeping_a_and_b_and_running_c_again(dir.path(), &results, &world);
        let record = Record::read(&results).unwrap().unwrap();
        assert_eq!(record.array, None);
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(results.join(FILE_NAME)).unwrap())
                .unwrap();
        assert_eq!(written["schema"], crate::orchestrator::record::SCHEMA);
    }
}
