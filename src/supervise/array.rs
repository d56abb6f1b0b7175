//! Letters run as one Slurm job array (`--sbatch`): one submission, one
//! scheduling decision, one job id to cancel, and tasks that keep running
//! if orchestrate goes away.
//!
//! A task reports through files only, in the array's folder (on a
//! filesystem every node shares): its start mark when it starts, its result
//! file, its stderr, and, written by the task's own wrapper after the child
//! exits, its exit status (`<letter>.<attempt>.status`, renamed into
//! place). The rule of the process mode holds: a result counts only once
//! its writer finished with status 0. Completion is seen by polling those
//! files; a task that left the queue without a status file failed.
//!
//! Timeouts count from a task's start mark, not its submission (queueing is
//! not the task's fault); retries are new submissions of one task. On a
//! stop signal, a timeout or fail-fast, the jobs are cancelled with
//! `scancel`, and `squeue` is asked until none of them is left.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::Supervision;
use super::attempt::{Attempt, Outcome};
use super::child::{started_at, tail_lines};
use super::policy::{Next, Policy};
use crate::files;
use crate::polymer::UnitType;
use crate::protocol::{self, ResultFile};
use crate::signals::Signals;

/// How often `squeue` is asked whether tasks are still there.
const QUEUE_POLL: Duration = Duration::from_millis(500);

/// A job array's settings and folder.
#[derive(Clone, Debug)]
pub struct ArraySpec {
    /// The array's folder: the polymer, the task script, every task's files.
    pub dir: PathBuf,
    pub program: PathBuf,
    /// Extra `sbatch` options, e.g. `--partition=short`.
    pub sbatch_args: Vec<OsString>,
    pub job_name: String,
    /// The polymer's length: no valid result is larger.
    pub polymer_len: usize,
}

/// A submitted array: its job id, its letters in task order, and the
/// attempt its tasks are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub job_id: String,
    pub letters: Vec<UnitType>,
    pub attempt: u32,
}

impl ArraySpec {
    fn path(&self, letter: UnitType, attempt: u32, what: &str) -> PathBuf {
        self.dir.join(format!("{letter}.{attempt}.{what}"))
    }

    /// Writes the task script: run the child for the task's letter, then
    /// record its exit status, each file renamed into place.
    pub fn write_script(&self) -> anyhow::Result<()> {
        let quote = |path: &Path| -> anyhow::Result<String> {
            let text = path.to_str().context("a path that is not UTF-8")?;
            Ok(shlex::try_quote(text)
                .context("a path with a NUL byte")?
                .into_owned())
        };
        let script = format!(
            r#"#!/bin/sh
# One task of a job array submitted by orchestrate: $1 is the attempt,
# $2 the letters in task order. Reports through files only.
dir={dir}
attempt="$1"
letter=$(printf '%s' "$2" | cut -c "$((SLURM_ARRAY_TASK_ID + 1))")
base="$dir/$letter.$attempt"
date +%s%N > "$base.started.tmp" && mv "$base.started.tmp" "$base.started"
{program} --letter "$letter" --output "$base.txt" --quiet "$dir/polymer.txt" 2> "$base.err"
status=$?
echo "$status" > "$base.status.tmp" && mv "$base.status.tmp" "$base.status"
exit "$status"
"#,
            dir = quote(&self.dir)?,
            program = quote(&self.program)?,
        );
        files::write_atomically(&self.dir.join("task.sh"), script.as_bytes())
    }

    /// Submits `letters` as one array, attempt `attempt`; the job id.
    pub fn submit(&self, letters: &[UnitType], attempt: u32) -> anyhow::Result<Submitted> {
        let spelled: String = letters.iter().map(|l| l.letter()).collect();
        let output = Command::new("sbatch")
            .arg("--parsable")
            .arg(format!("--array=0-{}", letters.len().saturating_sub(1)))
            .arg(format!("--job-name={}", self.job_name))
            .arg("--output=/dev/null")
            .args(&self.sbatch_args)
            .arg(self.dir.join("task.sh"))
            .arg(attempt.to_string())
            .arg(&spelled)
            .stdin(Stdio::null())
            .output()
            .context("could not run sbatch")?;
        if !output.status.success() {
            bail!(
                "sbatch failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let job_id = stdout.trim().split(';').next().unwrap_or("").to_string();
        if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
            bail!("sbatch printed no job id: {}", stdout.trim());
        }
        Ok(Submitted {
            job_id,
            letters: letters.to_vec(),
            attempt,
        })
    }
}

/// One letter's task in flight.
struct Task {
    letter: UnitType,
    attempt: u32,
    /// `<job id>_<index>`, as squeue and scancel name it.
    id: String,
    submitted: Instant,
    started: Option<Instant>,
}

impl Task {
    /// The task's attempt as it ends now with `outcome`, timed from the
    /// run's `epoch`.
    fn attempt_with(&self, outcome: Outcome, epoch: Instant) -> Attempt {
        let started = self.started.unwrap_or(self.submitted);
        Attempt {
            letter: self.letter,
            number: self.attempt,
            spawned: self.submitted.saturating_duration_since(epoch),
            started: started.saturating_duration_since(epoch),
            duration: started.elapsed(),
            outcome,
            stderr_tail: Vec::new(),
        }
    }
}

/// Asks `squeue` which of `jobs`' tasks are still queued or running;
/// `None` when it does not answer (a busy or unreachable controller): then
/// nothing may be concluded from it.
fn queued(jobs: &HashSet<String>) -> Option<HashSet<String>> {
    if jobs.is_empty() {
        return Some(HashSet::new());
    }
    let list: Vec<&str> = jobs.iter().map(String::as_str).collect();
    let output = Command::new("squeue")
        .args(["-h", "-r", "-o", "%i", "-j", &list.join(",")])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        // Job ids the controller no longer knows: none of them is queued.
        let stderr = String::from_utf8_lossy(&output.stderr);
        return stderr.contains("Invalid job id").then(HashSet::new);
    }
    Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| line.trim().to_string())
            .collect(),
    )
}

/// Asks Slurm to cancel `targets` (job ids, or `<job>_<index>` tasks),
/// without waiting.
pub fn scancel(targets: &[String]) {
    if targets.is_empty() {
        return;
    }
    let _ = Command::new("scancel")
        .arg("--quiet")
        .args(targets)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Cancels `targets` and waits, up to half a minute, until `squeue` says
/// none of them is left; whether it said so.
pub fn cancel(targets: &[String], jobs: &HashSet<String>) -> bool {
    scancel(targets);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let gone = queued(jobs).is_some_and(|left| {
            targets.iter().all(|t| {
                !left
                    .iter()
                    .any(|q| q == t || q.starts_with(&format!("{t}_")))
            })
        });
        if gone {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The supervision of letters running as Slurm array tasks.
pub struct ArraySupervisor<'a> {
    spec: &'a ArraySpec,
    policy: &'a Policy,
    signals: &'a Signals,
    epoch: Instant,
    progress: &'a dyn Fn(&Attempt),
    /// Heard of every submission, so the run can record it.
    on_submit: &'a dyn Fn(&Submitted),
    tasks: Vec<Task>,
    jobs: HashSet<String>,
    attempts: Vec<Attempt>,
    halted: bool,
    last_queue_poll: Option<Instant>,
}

impl<'a> ArraySupervisor<'a> {
    pub fn new(
        spec: &'a ArraySpec,
        policy: &'a Policy,
        signals: &'a Signals,
        epoch: Instant,
        progress: &'a dyn Fn(&Attempt),
        on_submit: &'a dyn Fn(&Submitted),
    ) -> ArraySupervisor<'a> {
        ArraySupervisor {
            spec,
            policy,
            signals,
            epoch,
            progress,
            on_submit,
            tasks: Vec::new(),
            jobs: HashSet::new(),
            attempts: Vec::new(),
            halted: false,
            last_queue_poll: None,
        }
    }

    /// Takes over the tasks of arrays submitted earlier (`--resume`; later
    /// submissions, retries, take precedence) for the letters in `wanted`;
    /// returns the letters whose last task is neither finished nor still
    /// queued, which must be submitted again.
    pub fn adopt(&mut self, earlier: &[Submitted], wanted: &[UnitType]) -> Vec<UnitType> {
        let jobs: HashSet<String> = earlier.iter().map(|s| s.job_id.clone()).collect();
        // If squeue does not answer, every task not yet reported is taken
        // as still queued: submitting it again could run it twice, and the
        // polling finds out soon enough which ones are really gone.
        let still = queued(&jobs);
        let mut seen: Vec<UnitType> = Vec::new();
        let mut orphaned = Vec::new();
        for submitted in earlier.iter().rev() {
            for (index, &letter) in submitted.letters.iter().enumerate() {
                if !wanted.contains(&letter) || seen.contains(&letter) {
                    continue;
                }
                seen.push(letter);
                let id = format!("{}_{index}", submitted.job_id);
                let reported = self.spec.path(letter, submitted.attempt, "status").exists();
                if reported || still.as_ref().is_none_or(|still| still.contains(&id)) {
                    self.jobs.insert(submitted.job_id.clone());
                    self.tasks.push(Task {
                        letter,
                        attempt: submitted.attempt,
                        id,
                        submitted: self.epoch,
                        started: None,
                    });
                } else {
                    orphaned.push(letter);
                }
            }
        }
        orphaned.extend(wanted.iter().filter(|l| !seen.contains(l)).copied());
        orphaned.sort();
        orphaned
    }

    /// Submits `letters` as a new array (attempt `attempt`), after removing
    /// what an earlier task of that attempt may have left.
    pub fn submit(&mut self, letters: &[UnitType], attempt: u32) -> anyhow::Result<()> {
        if letters.is_empty() {
            return Ok(());
        }
        for &letter in letters {
            for what in ["started", "txt", "err", "status"] {
                let _ = std::fs::remove_file(self.spec.path(letter, attempt, what));
            }
        }
        let submitted = self.spec.submit(letters, attempt)?;
        (self.on_submit)(&submitted);
        let now = Instant::now();
        self.jobs.insert(submitted.job_id.clone());
        for (index, &letter) in submitted.letters.iter().enumerate() {
            self.tasks.push(Task {
                letter,
                attempt,
                id: format!("{}_{index}", submitted.job_id),
                submitted: now,
                started: None,
            });
        }
        Ok(())
    }

    /// Polls until every task has reported, failed or been cancelled.
    pub fn run(mut self) -> Supervision {
        let mut interrupted = None;
        let mut pause = self.policy.first_poll.max(Duration::from_millis(20));
        while !self.tasks.is_empty() {
            if let Some(signal) = self.signals.stop_signal() {
                interrupted = Some(signal);
                self.cancel_all(Outcome::Killed);
                break;
            }
            let changed = self.collect_reports() | self.enforce_timeouts() | self.find_lost();
            pause = if changed {
                Duration::from_millis(20)
            } else {
                (pause * 2).min(Duration::from_millis(100))
            };
            self.signals.wait(pause);
        }
        if interrupted.is_none() {
            self.await_departure();
        }
        Supervision {
            attempts: self.attempts,
            interrupted,
        }
    }

    /// Waits (up to half a minute, or until a stop signal) for the run's
    /// jobs to leave the queue: a task that reported is still completing
    /// for a moment, and a run that returns leaves nothing behind.
    fn await_departure(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && self.signals.stop_signal().is_none() {
            if queued(&self.jobs).is_some_and(|left| left.is_empty()) {
                return;
            }
            self.signals.wait(Duration::from_millis(100));
        }
    }

    /// Concludes every task whose status file has appeared.
    fn collect_reports(&mut self) -> bool {
        let mut changed = false;
        let mut index = 0;
        while index < self.tasks.len() {
            let task = &mut self.tasks[index];
            if task.started.is_none() {
                task.started = started_at(
                    &self.spec.path(task.letter, task.attempt, "started"),
                    task.submitted,
                );
            }
            let status_path = self.spec.path(task.letter, task.attempt, "status");
            let Some(status) = read_status(&status_path) else {
                index += 1;
                continue;
            };
            let task = self.tasks.swap_remove(index);
            let outcome = match status {
                0 => match protocol::read_result(
                    &self.spec.path(task.letter, task.attempt, "txt"),
                    self.spec.polymer_len,
                ) {
                    Ok(ResultFile::Length(length)) => Outcome::Ok(length),
                    Ok(ResultFile::Missing) => Outcome::NoResult,
                    Ok(ResultFile::Invalid(why)) => Outcome::BadResult(why),
                    Err(err) => Outcome::BadResult(format!("unreadable: {err}")),
                },
                code => Outcome::Exit(code),
            };
            self.settle(task, outcome);
            changed = true;
        }
        changed
    }

    /// Cancels tasks that have run past `--timeout` since their start.
    fn enforce_timeouts(&mut self) -> bool {
        let Some(timeout) = self.policy.timeout else {
            return false;
        };
        let now = Instant::now();
        let late: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].started.is_some_and(|s| now >= s + timeout))
            .collect();
        for &i in late.iter().rev() {
            let task = self.tasks.swap_remove(i);
            // Not waited for here: the run's end waits for the queue.
            scancel(std::slice::from_ref(&task.id));
            self.settle(task, Outcome::Timeout);
        }
        !late.is_empty()
    }

    /// Fails the tasks that left the queue without a status file.
    fn find_lost(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last_queue_poll
            .is_some_and(|last| now < last + QUEUE_POLL)
        {
            return false;
        }
        self.last_queue_poll = Some(now);
        let Some(still) = queued(&self.jobs) else {
            return false;
        };
        let mut lost = Vec::new();
        for (i, task) in self.tasks.iter().enumerate() {
            let reported = self.spec.path(task.letter, task.attempt, "status");
            // Asked after squeue: a task that reported and left in between
            // has its status file by now.
            if !still.contains(&task.id) && !reported.exists() {
                lost.push(i);
            }
        }
        for &i in lost.iter().rev() {
            let task = self.tasks.swap_remove(i);
            self.settle(task, Outcome::Lost);
        }
        !lost.is_empty()
    }

    /// Records an ended task: a retry is a new submission; a final failure
    /// without `--keep-going` cancels the rest.
    fn settle(&mut self, task: Task, outcome: Outcome) {
        let err = self.spec.path(task.letter, task.attempt, "err");
        let stderr_tail = match (&outcome, files::open_regular(&err)) {
            (outcome, Ok(files::Opened::Regular(file))) if !outcome.is_ok() => tail_lines(&file, 3),
            _ => Vec::new(),
        };
        let attempt = Attempt {
            stderr_tail,
            ..task.attempt_with(outcome, self.epoch)
        };
        match self.policy.after(&attempt) {
            Next::Retry if !self.halted => {
                if let Err(err) = self.submit(&[task.letter], task.attempt + 1) {
                    let failed = Attempt {
                        number: task.attempt + 1,
                        outcome: Outcome::SpawnError(format!("{err:#}")),
                        stderr_tail: Vec::new(),
                        ..attempt.clone()
                    };
                    (self.progress)(&failed);
                    self.attempts.push(attempt);
                    self.attempts.push(failed);
                    self.halt_if(!self.policy.keep_going);
                    return;
                }
            }
            Next::Retry => (self.progress)(&attempt),
            Next::Settled { halt } => {
                (self.progress)(&attempt);
                self.halt_if(halt);
            }
        }
        self.attempts.push(attempt);
    }

    fn halt_if(&mut self, halt: bool) {
        if halt && !self.halted {
            self.halted = true;
            self.cancel_all(Outcome::Killed);
        }
    }

    /// Cancels every job of the run, waits until none is queued, and counts
    /// the tasks in flight as `counts_as`.
    fn cancel_all(&mut self, counts_as: Outcome) {
        self.halted = true;
        let targets: Vec<String> = self.jobs.iter().cloned().collect();
        let _ = cancel(&targets, &self.jobs);
        for task in std::mem::take(&mut self.tasks) {
            let attempt = task.attempt_with(counts_as.clone(), self.epoch);
            (self.progress)(&attempt);
            self.attempts.push(attempt);
        }
    }
}

/// A task's exit status, once its status file is there and whole.
fn read_status(path: &Path) -> Option<i32> {
    let text = String::from_utf8(files::read_small(path, 16)?).ok()?;
    text.strip_suffix('\n')?.parse().ok()
}

/// The default job name of a run: `orchestrate-<pid>`.
pub fn default_job_name() -> String {
    format!("orchestrate-{}", std::process::id())
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

/// A folder name for a new array inside the results folder.
pub fn folder_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("slurm-array-{}-{nanos}", std::process::id())
}
