//! The status view of a results folder (`orchestrate --status`): where
//! each letter stands, and its renderings for people and for programs.
//! What the folder says is read by the orchestrator
//! (`orchestrator::status`); this only shows it.

use std::path::PathBuf;

use crate::files::shown;
use crate::polymer::UnitType;

/// The version of the status object's layout (`"schema"`): fields are
/// only ever added.
pub const SCHEMA: u32 = 1;

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
        "schema": SCHEMA,
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
