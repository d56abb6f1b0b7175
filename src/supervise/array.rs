//! Attempts as the tasks of a Slurm job array (`--sbatch`): the [`Backend`]
//! that submits all the letters waiting in one pass as one array: one
//! submission, one scheduling decision, tasks that keep running if
//! orchestrate goes away.
//!
//! A task reports through files only, in the array's folder (on a
//! filesystem every node shares): see [`protocol::TaskFile`]. The rule of
//! local children holds: a result counts only once its writer exited with
//! status 0, which the task's status file says. A task has ended when its
//! status file is there, or when the queue no longer holds it; one that
//! left without a status file is [`Outcome::Lost`] (its node failed, or it
//! was cancelled from outside). Arrays are submitted with `--no-requeue`:
//! a task whose node fails ends instead of waiting minutes to run the same
//! attempt again, and the loop retries it (with `--retries`) on the nodes
//! left, as a new attempt with files of its own. Should a task be requeued
//! all the same (`scontrol requeue`), it is still the same attempt: it is
//! waited for while the queue holds it, and its letter counts once.
//!
//! Stopping a task is cancelling it; it counts as ended once the queue no
//! longer holds it, so a retry never runs beside the attempt it replaces.
//! While the queue does not answer nothing is concluded from it; a task
//! killed (SIGKILL through `scancel`) is given up half a minute later even
//! then, so a dead controller cannot hang a stop.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::attempt::Outcome;
use super::backend::{Backend, Concluded, Mark, Signal, Start, StartError, Started};
use super::child::{outcome_of_result, started_at, tail_lines};
use super::clock::Clock;
use super::queue::{Identity, Queue, Queued, Submission};
use crate::files;
use crate::polymer::UnitType;
use crate::protocol::{self, ArrayTask, TaskFile};
use crate::signals::Signals;

/// How long a task killed through the queue may still be listed before it
/// is given up on.
const KILLED_GIVE_UP: Duration = Duration::from_secs(30);

/// How long the end of a run waits for its tasks to leave the queue (a task
/// that reported is still completing for a moment).
const DEPARTURE: Duration = Duration::from_secs(30);

/// A job array's settings and folder.
#[derive(Clone, Debug)]
pub struct ArraySpec {
    /// The array's folder: the polymer, the task scripts, every task's files.
    pub dir: PathBuf,
    pub program: PathBuf,
    /// Extra `sbatch` options, e.g. `--partition=short`.
    pub sbatch_args: Vec<OsString>,
    /// The name of every job of the array (the user's `--job-name`, else
    /// the folder's name).
    pub name: String,
    /// The polymer's length: no valid result is larger.
    pub polymer_len: usize,
    /// How often the queue is asked.
    pub queue_poll: Duration,
}

/// A submitted array: its job id, and its tasks in index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub job_id: String,
    pub tasks: Vec<ArrayTask>,
}

/// What the queue said last, and when it was asked.
struct View {
    asked: Instant,
    tasks: HashMap<String, Option<String>>,
}

/// The backend's handle on one task in flight.
pub struct TaskHandle {
    task: ArrayTask,
    /// `<job id>_<index>`, as squeue and scancel name it.
    id: String,
    submitted: Instant,
    /// From when a view of the queue says something about it: the moment
    /// it was in the queue for sure.
    queued_by: Instant,
    /// Whether it is known to be ours: submitted by this run, or listed as
    /// ours by the queue. Only such a task is ever cancelled by its id.
    confirmed: bool,
    /// The last signal the loop asked for, sent once the task is confirmed.
    signal: Option<Signal>,
    marked: bool,
    killed: Option<Instant>,
    node: Option<String>,
}

/// The job-array backend over the queue `Q`.
pub struct Array<'a, Q: Queue> {
    spec: &'a ArraySpec,
    queue: Q,
    clock: &'a dyn Clock,
    /// What tells the array's jobs from others with the same ids.
    ours: Identity,
    /// Heard of every submission, so the run can record it at once.
    on_submit: &'a mut dyn FnMut(&Submitted),
    /// The ids of the tasks in flight: any other task of ours the queue
    /// shows (one submitted although sbatch did not say so) is cancelled.
    flying: HashSet<String>,
    submissions: usize,
    /// When the queue was last asked, answer or not.
    asked: Option<Instant>,
    /// Its last answer.
    view: Option<View>,
    /// Cancellations asked for since the last pass, sent together.
    to_stop: Vec<String>,
    to_kill: Vec<String>,
    /// Tasks of ours not in flight, cancelled once each.
    strays: HashSet<String>,
}

impl<'a, Q: Queue> Array<'a, Q> {
    /// `submissions`: how many were made into this folder before (their
    /// scripts keep their names).
    pub fn new(
        spec: &'a ArraySpec,
        queue: Q,
        clock: &'a dyn Clock,
        submissions: usize,
        on_submit: &'a mut dyn FnMut(&Submitted),
    ) -> Array<'a, Q> {
        Array {
            spec,
            ours: Identity {
                name: spec.name.clone(),
                dir: spec.dir.clone(),
            },
            queue,
            clock,
            on_submit,
            flying: HashSet::new(),
            submissions,
            asked: None,
            view: None,
            to_stop: Vec::new(),
            to_kill: Vec::new(),
            strays: HashSet::new(),
        }
    }

    fn file(&self, task: ArrayTask, what: TaskFile) -> PathBuf {
        task.file(&self.spec.dir, what)
    }

    /// Takes over the tasks of arrays submitted earlier (`--resume`) for
    /// the letters in `wanted`: a letter's last task is adopted if it
    /// reported or the queue still holds it as ours. Returns the adopted
    /// tasks, and the letters to run with the number of their next attempt.
    #[allow(clippy::type_complexity)]
    pub fn adopt(
        &mut self,
        earlier: &[Submitted],
        wanted: &[UnitType],
    ) -> (Vec<(ArrayTask, Started<TaskHandle>)>, Vec<(UnitType, u32)>) {
        // If the queue does not answer, every task not yet reported is
        // taken as still queued: submitting it again could run it twice,
        // and the polling finds out soon enough which ones are really gone.
        let still = self.queue.queued(&self.ours);
        let now = self.clock.now();
        let mut adopted = Vec::new();
        let mut todo = Vec::new();
        for &letter in wanted {
            let Some((id, task)) = last_task(earlier, letter) else {
                todo.push((letter, 1));
                continue;
            };
            let reported = self.file(task, TaskFile::Status).exists();
            let listed = still.as_ref().map(|still| still.iter().any(|q| q.id == id));
            if !(reported || listed != Some(false)) {
                todo.push((letter, task.attempt + 1));
                continue;
            }
            let mut started = self.started(task, id, now);
            started.handle.confirmed = listed == Some(true);
            self.flying.insert(started.handle.id.clone());
            adopted.push((task, started));
        }
        (adopted, todo)
    }

    fn started(&self, task: ArrayTask, id: String, now: Instant) -> Started<TaskHandle> {
        Started {
            handle: TaskHandle {
                task,
                id,
                submitted: now,
                queued_by: now,
                confirmed: true,
                signal: None,
                marked: false,
                killed: None,
                node: None,
            },
            spawned: now,
            started: None,
            start: Start::Mark,
            host: None,
        }
    }

    /// Submits `tasks` as one array, after removing what an earlier task of
    /// the same attempt may have left.
    fn submit(&mut self, tasks: &[ArrayTask]) -> anyhow::Result<Submitted> {
        for &task in tasks {
            for what in [
                TaskFile::StartMark,
                TaskFile::Result,
                TaskFile::Stderr,
                TaskFile::Status,
            ] {
                let _ = std::fs::remove_file(self.file(task, what));
            }
        }
        self.submissions += 1;
        let script = protocol::submission_script(&self.spec.dir, self.submissions);
        let text = protocol::array_script(&self.spec.dir, &self.spec.program, tasks)?;
        files::write_atomically(&script, text.as_bytes())?;
        let job_id = self.queue.submit(&Submission {
            script: &script,
            name: &self.spec.name,
            tasks,
            options: &self.spec.sbatch_args,
        })?;
        let submitted = Submitted {
            job_id,
            tasks: tasks.to_vec(),
        };
        (self.on_submit)(&submitted);
        self.flying
            .extend((0..tasks.len()).map(|index| task_id(&submitted.job_id, index)));
        Ok(submitted)
    }

    /// Queues the cancellation `signal` asks for, sent with the others at
    /// the next pass.
    fn send(&mut self, task: &TaskHandle, signal: Signal) {
        match signal {
            Signal::Stop => self.to_stop.push(task.id.clone()),
            Signal::Kill => self.to_kill.push(task.id.clone()),
        }
    }

    /// Sends the cancellations asked for since the last pass.
    fn send_cancellations(&mut self) {
        for (targets, kill) in [(&mut self.to_stop, false), (&mut self.to_kill, true)] {
            if !targets.is_empty() {
                self.queue.cancel(&self.ours, targets, kill);
                targets.clear();
            }
        }
    }
}

impl<Q: Queue> Backend for Array<'_, Q> {
    type Handle = TaskHandle;

    /// Every letter waiting: one submission for all of them.
    fn batch_size(&self) -> usize {
        usize::MAX
    }

    fn start(
        &mut self,
        wanted: &[(UnitType, u32)],
    ) -> Vec<Result<Started<TaskHandle>, StartError>> {
        let tasks: Vec<ArrayTask> = wanted
            .iter()
            .map(|&(letter, attempt)| ArrayTask { letter, attempt })
            .collect();
        let submitted_at = self.clock.now();
        match self.submit(&tasks) {
            Ok(submitted) => {
                let now = self.clock.now();
                tasks
                    .iter()
                    .enumerate()
                    .map(|(index, &task)| {
                        let id = task_id(&submitted.job_id, index);
                        let mut started = self.started(task, id, now);
                        started.spawned = submitted_at;
                        started.handle.submitted = submitted_at;
                        Ok(started)
                    })
                    .collect()
            }
            Err(err) => tasks
                .iter()
                .map(|_| Err(StartError::lasting(format!("{err:#}"))))
                .collect(),
        }
    }

    fn refresh(&mut self, now: Instant) {
        self.send_cancellations();
        if self
            .asked
            .is_some_and(|asked| now < asked + self.spec.queue_poll)
        {
            return;
        }
        let asked = self.clock.now();
        self.asked = Some(asked);
        let Some(queued) = self.queue.queued(&self.ours) else {
            return;
        };
        // Ours, but not in flight: a submission sbatch did not report (or
        // a task that reported, still completing: cancelling it changes
        // nothing).
        let strays: Vec<String> = queued
            .iter()
            .filter(|q| !self.flying.contains(&q.id) && self.strays.insert(q.id.clone()))
            .map(|q| q.id.clone())
            .collect();
        if !strays.is_empty() {
            self.queue.cancel(&self.ours, &strays, false);
        }
        self.view = Some(View {
            asked,
            tasks: queued.into_iter().map(|q| (q.id, q.node)).collect(),
        });
    }

    fn look(&mut self, task: &mut TaskHandle) -> Option<Mark> {
        if task.marked {
            return None;
        }
        let mark = started_at(
            &self.file(task.task, TaskFile::StartMark),
            task.submitted,
            self.clock.now_and_wall(),
        )?;
        task.marked = true;
        Some(mark)
    }

    fn has_ended(&mut self, task: &mut TaskHandle) -> bool {
        // Asked before the status file: a task that reported and left the
        // queue before the view was taken has its status file by now. Only
        // a view taken after the task was queued can tell it gone (at the
        // same instant, it may have been taken just before).
        let view = self.view.as_ref().filter(|v| v.asked > task.queued_by);
        let listed = view.and_then(|view| view.tasks.get(&task.id));
        let left = view.is_some() && listed.is_none();
        let newly_confirmed = listed.is_some() && !task.confirmed;
        if let Some(Some(node)) = listed {
            task.node = Some(node.clone());
        }
        if newly_confirmed {
            task.confirmed = true;
            if let Some(signal) = task.signal {
                self.send(task, signal);
            }
        }
        let reported = self.file(task.task, TaskFile::Status).exists();
        // A task killed through the queue is given up on only while the
        // queue says nothing: one it still lists is still there.
        let given_up = task.killed.is_some_and(|killed| {
            self.clock.now().saturating_duration_since(killed) >= KILLED_GIVE_UP
                && self.view.as_ref().is_none_or(|v| v.asked < killed)
        });
        reported || left || given_up
    }

    fn signal(&mut self, task: &mut TaskHandle, signal: Signal) {
        if signal == Signal::Kill {
            task.killed = Some(self.clock.now());
        }
        task.signal = Some(signal);
        if task.confirmed {
            self.send(task, signal);
        }
    }

    fn conclude(&mut self, task: TaskHandle, _stopped: bool) -> Concluded {
        self.flying.remove(&task.id);
        let outcome = match protocol::read_status(&self.file(task.task, TaskFile::Status)) {
            Some(0) => outcome_of_result(
                &self.file(task.task, TaskFile::Result),
                self.spec.polymer_len,
            ),
            Some(code) => Outcome::Exit(code),
            None => Outcome::Lost,
        };
        let stderr_tail = match files::open_regular(&self.file(task.task, TaskFile::Stderr)) {
            Ok(files::Opened::Regular(file)) if !outcome.is_ok() => tail_lines(&file, 3),
            _ => Vec::new(),
        };
        Concluded {
            outcome,
            host: task.node,
            stderr_tail,
        }
    }

    /// Cancels whatever of the run the queue still holds, and waits
    /// (bounded, and briefly after a stop signal) until it holds nothing:
    /// a run that returns leaves nothing behind. A task that reported is
    /// still completing for a moment; cancelling it then changes nothing.
    fn finish(&mut self, signals: &Signals, interrupted: bool) {
        self.send_cancellations();
        let patience = if interrupted {
            Duration::from_secs(5)
        } else {
            DEPARTURE
        };
        let deadline = self.clock.now() + patience;
        let requests = signals.stop_requests();
        let mut cancelled = HashSet::new();
        while self.clock.now() < deadline && signals.stop_requests() == requests {
            match self.queue.queued(&self.ours) {
                Some(left) if left.is_empty() => return,
                Some(left) => {
                    let new: Vec<String> = left
                        .into_iter()
                        .map(|q| q.id)
                        .filter(|id| cancelled.insert(id.clone()))
                        .collect();
                    if !new.is_empty() {
                        self.queue.cancel(&self.ours, &new, false);
                    }
                }
                None => {}
            }
            let pause =
                (self.spec.queue_poll).clamp(Duration::from_millis(1), Duration::from_millis(100));
            self.clock.wait(signals, pause);
        }
    }
}

/// A task's id in the queue: `<job id>_<index>`, as squeue and scancel
/// name it.
pub fn task_id(job_id: &str, index: usize) -> String {
    format!("{job_id}_{index}")
}

/// What tells the jobs of the array named `name`, with its folder `dir`,
/// from any other job with the same ids.
pub fn identity(name: &str, dir: &Path) -> Identity {
    Identity {
        name: name.to_string(),
        dir: dir.to_path_buf(),
    }
}

/// Cancels every task the queue lists as `ours` (only those: an array's
/// record is a file anyone could have written, so its ids are never named
/// to the queue). A queue that does not answer gets no cancel at all.
pub fn cancel_all(queue: &mut dyn Queue, ours: &Identity) {
    if let Some(tasks) = queue.queued(ours) {
        let tasks: Vec<String> = tasks.into_iter().map(|t| t.id).collect();
        queue.cancel(ours, &tasks, false);
    }
}

/// The last task submitted for `letter` among `submissions` (in the order
/// they were made), with its id: the one attempt of the letter that can
/// still count.
pub fn last_task(submissions: &[Submitted], letter: UnitType) -> Option<(String, ArrayTask)> {
    submissions.iter().rev().find_map(|submitted| {
        let index = submitted.tasks.iter().position(|t| t.letter == letter)?;
        Some((task_id(&submitted.job_id, index), submitted.tasks[index]))
    })
}

/// Where an array task stands, as its files and the queue tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// It exited with status 0, leaving a valid result of this length.
    Done(usize),
    /// It exited with this status (0: without a valid result).
    Failed(i32),
    /// It runs: on the node the queue (or its start mark) names.
    Running(Option<String>),
    /// It waits in the queue (or, when the queue does not answer, has not
    /// marked its start).
    Queued,
    /// The queue no longer holds it and it did not report: its node
    /// failed, or it was cancelled from outside.
    Lost,
}

/// Where `task` (queue id `id`) stands, from its files in the array's
/// `folder` (none when the folder is missing) and what the queue listed
/// (`None`: it did not answer, and the start mark says whether it runs).
/// `limit`: no valid result is longer.
pub fn task_state(
    folder: Option<&Path>,
    (id, task): (&str, ArrayTask),
    limit: usize,
    queued: Option<&[Queued]>,
) -> TaskState {
    let mut mark = None;
    if let Some(folder) = folder {
        match protocol::read_status(&task.file(folder, TaskFile::Status)) {
            Some(0) => {
                let result = task.file(folder, TaskFile::Result);
                return match outcome_of_result(&result, limit) {
                    Outcome::Ok(length) => TaskState::Done(length),
                    _ => TaskState::Failed(0),
                };
            }
            Some(code) => return TaskState::Failed(code),
            None => mark = protocol::read_start_mark(&task.file(folder, TaskFile::StartMark)),
        }
    }
    match queued {
        Some(queued) => match queued.iter().find(|q| q.id == id) {
            Some(Queued {
                node: Some(node), ..
            }) => TaskState::Running(Some(node.clone())),
            Some(_) => TaskState::Queued,
            None => TaskState::Lost,
        },
        None => match mark {
            Some(mark) => TaskState::Running(mark.host),
            None => TaskState::Queued,
        },
    }
}
/// Whether `name` is one [`folder_name`] makes: `slurm-array-<pid>-<ns>`.
pub fn is_folder_name(name: &str) -> bool {
    name.strip_prefix("slurm-array-")
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(pid, nanos)| {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits(pid) && digits(nanos)
        })
}

/// The name of an array's jobs: the `--job-name` among the user's
/// `sbatch` options, else the array's folder name.
pub fn job_name(sbatch_args: &[OsString], folder: &str) -> String {
    super::queue::job_name(sbatch_args).unwrap_or_else(|| folder.to_string())
}

/// The name an array in `folder` had before names were recorded: its jobs
/// were named `orchestrate-<pid>` after the run that submitted them.
pub fn name_before_names(folder: &str) -> String {
    let pid = folder.split('-').nth(2).unwrap_or_default();
    format!("orchestrate-{pid}")
}

/// A folder name for a new array inside the results folder, unique to the
/// run: also the name of the array's jobs in the queue.
pub fn folder_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("slurm-array-{}-{nanos}", std::process::id())
}

// Job arrays are Slurm's, which runs on Linux only.
#[cfg(all(test, unix))]
mod tests;
