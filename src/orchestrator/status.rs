//! What a results folder says of its run, read without touching it
//! (`orchestrate --status`): the record (`orchestrate.json`), the published
//! results, a job array's task files, and `squeue` where it answers.
//! Nothing is started, submitted, cancelled, locked, written or removed, so
//! it is safe while another orchestrate writes the folder, and while a job
//! array runs on after its orchestrate is gone.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::manifest::{self, ArrayRecord, Manifest};
use super::workspace::{holder_pid, result_path};
use crate::files::shown;
use crate::polymer::UnitType;
use crate::protocol::{self, ArrayTask, ResultFile, TaskFile};
use crate::supervise::queue::{Identity, Queue, Queued, Slurm};
use crate::sys::{self, fs::FileId};

/// Where a letter stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// A checked result: published, or reported by its array task.
    Done(usize),
    /// An array task that runs, on a node when squeue or its start mark
    /// says which.
    Running(Option<String>),
    /// An array task waiting in the queue.
    Queued,
    /// An array task gone from the queue without reporting.
    Lost,
    /// An array task whose child exited with this status.
    Failed(i32),
    /// Nothing of it yet: not started, or running as a child of a live
    /// orchestrate (whose private folder is not here).
    Pending,
    /// Something is under its result's name that is not a result (a
    /// device, a FIFO, a link, malformed content): reported, never opened
    /// for reading unless it is a regular file.
    Unusable(String),
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Done(_) => "done",
            State::Running(_) => "running",
            State::Queued => "queued",
            State::Lost => "lost",
            State::Failed(_) => "failed",
            State::Pending => "pending",
            State::Unusable(_) => "unusable",
        }
    }
}

/// The status of a results folder.
#[derive(Clone, Debug)]
pub struct Status {
    pub dir: PathBuf,
    /// The pid of the orchestrate writing the folder now, if one is.
    pub writer: Option<u32>,
    pub input_length: usize,
    /// The full reaction's length, once the run has recorded it.
    pub full_length: Option<usize>,
    /// The job ids of the run's array submissions, in order.
    pub array_jobs: Vec<String>,
    /// With an array: whether squeue answered (if not, queued and running
    /// come from the task files alone).
    pub queue_answered: Option<bool>,
    pub letters: Vec<(UnitType, State)>,
}

impl Status {
    /// The shortest length so far and its letter (alphabetically first on
    /// ties), and how many letters are done.
    pub fn minimum(&self) -> (Option<(UnitType, usize)>, usize) {
        let done: Vec<(UnitType, usize)> = self
            .letters
            .iter()
            .filter_map(|(letter, state)| match state {
                State::Done(length) => Some((*letter, *length)),
                _ => None,
            })
            .collect();
        let best = done.iter().copied().min_by_key(|&(l, n)| (n, l));
        (best, done.len())
    }
}

/// Reads the status of `dir`. An error, in one line naming the folder, when
/// it is not a results folder of orchestrate.
pub fn read(dir: &Path) -> anyhow::Result<Status> {
    let metadata =
        std::fs::metadata(dir).with_context(|| format!("could not read {}", shown(dir)))?;
    if !metadata.is_dir() {
        bail!("{} is not a folder", shown(dir));
    }
    let Some(manifest) = Manifest::read(dir)? else {
        bail!(
            "{} holds no run of orchestrate (no {})",
            shown(dir),
            manifest::FILE_NAME
        );
    };
    let mut letters: Vec<(UnitType, State)> = UnitType::all()
        .map(|letter| {
            let path = result_path(dir, letter);
            let state = match protocol::read_result(&path, manifest.input_length) {
                Ok(ResultFile::Length(length)) => State::Done(length),
                Ok(ResultFile::Missing) => State::Pending,
                Ok(ResultFile::Invalid(why)) => State::Unusable(why),
                Err(err) => State::Unusable(format!("unreadable: {err}")),
            };
            (letter, state)
        })
        .collect();
    let mut queue_answered = None;
    if let Some(array) = &manifest.array {
        let queued = array_queue(dir, array);
        queue_answered = Some(queued.is_some());
        // The array's folder, opened without following a link: one that
        // leads out of the results folder is not the array's, and its
        // files say nothing.
        let folder = Inside::open(dir, &array.folder);
        for (letter, state) in &mut letters {
            if *state == State::Pending
                && let Some(task) = last_task(array, *letter)
            {
                *state = task_state(
                    folder.as_ref().map(Inside::path),
                    task,
                    manifest.input_length,
                    queued.as_deref(),
                );
            }
        }
    }
    Ok(Status {
        dir: dir.to_path_buf(),
        writer: writer(dir),
        input_length: manifest.input_length,
        full_length: (manifest.full_length > 0 || manifest.input_length == 0)
            .then_some(manifest.full_length),
        array_jobs: manifest
            .array
            .iter()
            .flat_map(|a| a.jobs.iter().map(|j| j.job_id.clone()))
            .collect(),
        queue_answered,
        letters,
    })
}

/// The orchestrate that holds the folder now, on this machine. Its lock is
/// looked up in the kernel's table of locks (`/proc/locks`), which never
/// takes it: a holder file left by a run killed outright names a pid that
/// may since belong to another process, or to a zombie. (The table lists
/// only the locks of processes this one can see: a writer in another PID
/// namespace, or on another machine sharing the folder, is not found.)
/// Where the table cannot be read, the holder file's pid counts if that
/// process lives and is not a zombie.
fn writer(dir: &Path) -> Option<u32> {
    let file = FileId::of(&std::fs::metadata(dir).ok()?);
    match sys::lock::holder(file) {
        Ok(holder) => holder,
        Err(_) => holder_pid(dir).filter(|&pid| sys::process::lives(pid)),
    }
}

/// What squeue lists of the array, or `None` when it does not answer.
fn array_queue(dir: &Path, array: &ArrayRecord) -> Option<Vec<Queued>> {
    let ours = Identity {
        name: array.name.clone(),
        dir: dir.join(&array.folder),
    };
    Slurm.queued(&ours)
}

/// The last task submitted for `letter`, with its id in the queue.
fn last_task(array: &ArrayRecord, letter: UnitType) -> Option<(String, ArrayTask)> {
    array
        .jobs
        .iter()
        .flat_map(|job| {
            job.tasks
                .iter()
                .enumerate()
                .map(move |(index, task)| (format!("{}_{index}", job.job_id), *task))
        })
        .filter(|(_, task)| task.letter == letter)
        .max_by_key(|(_, task)| task.attempt)
}

/// A folder inside the results folder, held open: its files are read
/// through the handle (`/proc/self/fd/N/...`), so a folder swapped for a
/// link after it was opened is not followed either.
struct Inside {
    _handle: Option<std::fs::File>,
    path: PathBuf,
}

impl Inside {
    /// `name` in `dir`, if it is a folder there (not a link to one).
    fn open(dir: &Path, name: &str) -> Option<Inside> {
        let path = dir.join(name);
        let handle = sys::fs::open_folder_nofollow(&path).ok()?;
        let through = sys::fs::path_to_open_file(&handle);
        Some(if through.is_dir() {
            Inside {
                _handle: Some(handle),
                path: through,
            }
        } else {
            // No /proc: by its path, checked above not to be a link.
            Inside {
                _handle: None,
                path,
            }
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

/// Where an array task stands, from its files in `folder` (none when the
/// array's folder is missing or not a folder) and the queue.
fn task_state(
    folder: Option<&Path>,
    (id, task): (String, ArrayTask),
    input_length: usize,
    queued: Option<&[Queued]>,
) -> State {
    let Some(folder) = folder else {
        return queue_state(&id, queued, None);
    };
    match protocol::read_status(&task.file(folder, TaskFile::Status)) {
        Some(0) => {
            return match protocol::read_result(&task.file(folder, TaskFile::Result), input_length) {
                Ok(ResultFile::Length(length)) => State::Done(length),
                _ => State::Failed(0),
            };
        }
        Some(code) => return State::Failed(code),
        None => {}
    }
    let mark = protocol::read_start_mark(&task.file(folder, TaskFile::StartMark));
    queue_state(&id, queued, mark)
}

/// Where a task that has not ended stands, by the queue (or, when it does
/// not answer, by the task's start mark).
fn queue_state(id: &str, queued: Option<&[Queued]>, mark: Option<protocol::StartMark>) -> State {
    match queued {
        Some(queued) => match queued.iter().find(|q| q.id == id) {
            Some(Queued {
                node: Some(node), ..
            }) => State::Running(Some(node.clone())),
            Some(_) => State::Queued,
            None => State::Lost,
        },
        None => match mark {
            Some(mark) => State::Running(mark.host),
            None => State::Queued,
        },
    }
}

/// The status for people: the run, one line per letter, the minimum so far.
pub fn text(status: &Status) -> String {
    let mut lines = vec![format!("results folder: {}", shown(&status.dir))];
    lines.push(match status.writer {
        Some(pid) => format!("run: being written by orchestrate (pid {pid})"),
        None => "run: no orchestrate is writing it".to_string(),
    });
    lines.push(match status.full_length {
        Some(full) => format!("input: {} units, reacted to {full}", status.input_length),
        None => format!("input: {} units", status.input_length),
    });
    if !status.array_jobs.is_empty() {
        let queue = match status.queue_answered {
            Some(true) => "squeue answered",
            _ => "squeue did not answer: from the task files alone",
        };
        lines.push(format!(
            "job array: {} ({queue})",
            status.array_jobs.join(", ")
        ));
    }
    lines.push(format!(
        "{:<7}{:<9}{:>12}  host",
        "letter", "state", "length"
    ));
    for (letter, state) in &status.letters {
        let (length, host) = match state {
            State::Done(length) => (length.to_string(), String::new()),
            State::Running(host) => (String::new(), host.clone().unwrap_or_default()),
            State::Failed(code) => (format!("exit {code}"), String::new()),
            State::Unusable(why) => (String::new(), why.clone()),
            _ => (String::new(), String::new()),
        };
        let line = format!("{letter:<7}{:<9}{length:>12}  {host}", state.name());
        lines.push(line.trim_end().to_string());
    }
    let (best, done) = status.minimum();
    lines.push(match best {
        Some((letter, length)) => {
            format!("minimum so far: {length} units without {letter} ({done} of 26 letters done)")
        }
        None => "minimum so far: none (no letter done)".to_string(),
    });
    lines.join("\n")
}

/// The status for programs: one JSON object.
pub fn json(status: &Status) -> String {
    use serde_json::{Value, json};
    let letters: serde_json::Map<String, Value> = status
        .letters
        .iter()
        .map(|(letter, state)| {
            let mut entry = json!({ "state": state.name() });
            match state {
                State::Done(length) => entry["length"] = (*length).into(),
                State::Running(Some(host)) => entry["host"] = host.clone().into(),
                State::Failed(code) => entry["exit_status"] = (*code).into(),
                State::Unusable(why) => entry["problem"] = why.clone().into(),
                _ => {}
            }
            (letter.to_string(), entry)
        })
        .collect();
    let (best, done) = status.minimum();
    json!({
        "results_dir": status.dir.to_string_lossy(),
        "writer_pid": status.writer,
        "input_length": status.input_length,
        "full_length": status.full_length,
        "array_jobs": status.array_jobs,
        "queue_answered": status.queue_answered,
        "letters": letters,
        "done": done,
        "min_length": best.map(|(_, length)| length),
        "best_letter": best.map(|(letter, _)| letter.to_string()),
    })
    .to_string()
}
