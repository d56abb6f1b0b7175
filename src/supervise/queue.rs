//! A scheduler's queue as the job-array backend needs it: submit an array,
//! ask which of its tasks are still there, cancel them. [`Slurm`] does it
//! with `sbatch`, `squeue` and `scancel`; the array's tests use a fake.
//!
//! Job ids are not identity: a controller that lost its state hands the
//! same ids out again. Every array orchestrate submits carries a name of
//! its own (its folder's, unique to the run), and every question and
//! cancellation names it too, so a job that is not ours is never taken for
//! one of our tasks, never waited on, never cancelled.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// One task the queue still holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// `<job id>_<index>`, as squeue and scancel name it.
    pub id: String,
    /// The node it runs on, once it runs.
    pub node: Option<String>,
}

/// One array to submit.
#[derive(Clone, Debug)]
pub struct Submission<'a> {
    /// The task script, and its arguments.
    pub script: &'a Path,
    /// The array's name: its identity in the queue.
    pub name: &'a str,
    /// The tasks, in index order.
    pub tasks: &'a [crate::protocol::ArrayTask],
    /// The user's extra options, e.g. `--partition=short`.
    pub options: &'a [OsString],
}

/// The scheduler's queue.
pub trait Queue {
    /// Submits an array; its job id.
    fn submit(&mut self, submission: &Submission) -> anyhow::Result<String>;

    /// The tasks of the jobs `jobs` named `name` still queued or running;
    /// `None` when the queue does not answer (a busy or unreachable
    /// controller): then nothing may be concluded from it.
    fn queued(&mut self, name: &str, jobs: &[String]) -> Option<Vec<Queued>>;

    /// Asks to cancel `targets` (job ids, or `<job>_<index>` tasks) if they
    /// are named `name`, without waiting; with `kill`, SIGKILL at once.
    fn cancel(&mut self, name: &str, targets: &[String], kill: bool);
}

/// The queue of a real Slurm controller, through its command-line tools.
#[derive(Clone, Debug, Default)]
pub struct Slurm;

impl Queue for Slurm {
    fn submit(&mut self, submission: &Submission) -> anyhow::Result<String> {
        // Ours after the user's options: the later one wins, and these are
        // what the run relies on. No requeue: a task whose node fails ends,
        // and the run retries it at once (with --retries) instead of Slurm
        // holding it back for minutes and running the same attempt again.
        let output = Command::new("sbatch")
            .arg("--parsable")
            .args(submission.options)
            .arg(format!(
                "--array=0-{}",
                submission.tasks.len().saturating_sub(1)
            ))
            .arg(format!("--job-name={}", submission.name))
            .arg("--output=/dev/null")
            .arg("--no-requeue")
            .arg(submission.script)
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
        Ok(job_id)
    }

    fn queued(&mut self, name: &str, jobs: &[String]) -> Option<Vec<Queued>> {
        if jobs.is_empty() {
            return Some(Vec::new());
        }
        let output = Command::new("squeue")
            .args(["-h", "-r", "-o", "%i|%j|%N", "-j", &jobs.join(",")])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            // Job ids the controller no longer knows: none of them is queued.
            let stderr = String::from_utf8_lossy(&output.stderr);
            return stderr.contains("Invalid job id").then(Vec::new);
        }
        Some(parse_squeue(&String::from_utf8_lossy(&output.stdout), name))
    }

    fn cancel(&mut self, name: &str, targets: &[String], kill: bool) {
        if targets.is_empty() {
            return;
        }
        let mut command = Command::new("scancel");
        command.arg("--quiet").arg(format!("--name={name}"));
        if kill {
            command.args(["--signal=KILL", "--full"]);
        }
        let _ = command
            .args(targets)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The tasks named `name` in squeue's `%i|%j|%N` lines.
fn parse_squeue(stdout: &str, name: &str) -> Vec<Queued> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(3, '|');
            let (id, job_name) = (fields.next()?, fields.next()?);
            let node = fields.next().map(str::trim).filter(|n| !n.is_empty());
            (job_name == name).then(|| Queued {
                id: id.to_string(),
                node: node.map(String::from),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tasks_with_the_arrays_name_are_taken_as_its_own() {
        let stdout = "42_0|slurm-array-1-2|n1\n42_1|slurm-array-1-2|\n\
                      43_0|someone-else|n2\n44_0|slurm-array-1-2|n3\n";
        assert_eq!(
            parse_squeue(stdout, "slurm-array-1-2"),
            [
                Queued {
                    id: "42_0".into(),
                    node: Some("n1".into())
                },
                Queued {
                    id: "42_1".into(),
                    node: None
                },
                Queued {
                    id: "44_0".into(),
                    node: Some("n3".into())
                },
            ]
        );
        assert_eq!(parse_squeue(stdout, "slurm-array-9-9"), []);
        assert_eq!(parse_squeue("garbage\n", "garbage"), []);
    }
}
