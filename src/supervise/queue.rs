//! A scheduler's queue as the job-array backend needs it: submit an array,
//! ask which of its tasks are still there, cancel them. [`Slurm`] does it
//! with `sbatch`, `squeue` and `scancel`; the array's tests use a fake.
//!
//! Job ids are not identity: a controller that lost its state hands the
//! same ids out again. A job is taken for one of an array's only if it also
//! has the array's name and runs a script in the array's folder (a folder
//! unique to the run that made it): a job that is not ours is never taken
//! for one of our tasks, never waited on, never cancelled.

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

/// What tells an array's jobs from any other job with the same id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The name of its jobs.
    pub name: String,
    /// The folder its task scripts are in.
    pub dir: std::path::PathBuf,
}

impl Identity {
    /// Whether a job named `name` that runs `command` is one of ours.
    fn owns(&self, name: &str, command: &str) -> bool {
        name == self.name
            && Path::new(command.split(' ').next().unwrap_or("")).parent() == Some(&self.dir)
    }
}

/// One array to submit.
#[derive(Clone, Debug)]
pub struct Submission<'a> {
    /// The task script (in the array's folder).
    pub script: &'a Path,
    /// The name of its jobs.
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

    /// The tasks of the jobs `jobs` that are `ours`, still queued or
    /// running; `None` when the queue does not answer (a busy or
    /// unreachable controller): then nothing may be concluded from it.
    fn queued(&mut self, ours: &Identity, jobs: &[String]) -> Option<Vec<Queued>>;

    /// Asks to cancel `targets` without waiting; with `kill`, SIGKILL at
    /// once. Whole jobs (`<job>`) only if they carry `ours`'s name; tasks
    /// (`<job>_<index>`) as they are: only tasks the queue has listed as
    /// ours are ever named.
    fn cancel(&mut self, ours: &Identity, targets: &[String], kill: bool);
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

    fn queued(&mut self, ours: &Identity, jobs: &[String]) -> Option<Vec<Queued>> {
        if jobs.is_empty() {
            return Some(Vec::new());
        }
        let output = Command::new("squeue")
            .args(["-h", "-r", "-o", "%i|%N|%j|%o", "-j", &jobs.join(",")])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            // Job ids the controller no longer knows: none of them is queued.
            let stderr = String::from_utf8_lossy(&output.stderr);
            return stderr.contains("Invalid job id").then(Vec::new);
        }
        Some(parse_squeue(&String::from_utf8_lossy(&output.stdout), ours))
    }

    fn cancel(&mut self, ours: &Identity, targets: &[String], kill: bool) {
        // scancel with a filter (--name) applies to whole jobs, whatever
        // task is named: a task must be named alone.
        let (tasks, jobs): (Vec<&String>, Vec<&String>) =
            targets.iter().partition(|t| t.contains('_'));
        for (targets, filter) in [(tasks, None), (jobs, Some(&ours.name))] {
            if targets.is_empty() {
                continue;
            }
            let mut command = Command::new("scancel");
            command.arg("--quiet");
            if let Some(name) = filter {
                command.arg(format!("--name={name}"));
            }
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
}

/// Our tasks in squeue's `%i|%N|%j|%o` lines (id, node, name, command: the
/// command last, as it may hold `|`).
fn parse_squeue(stdout: &str, ours: &Identity) -> Vec<Queued> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '|');
            let (id, node) = (fields.next()?.trim(), fields.next()?.trim());
            let (name, command) = (fields.next()?, fields.next()?);
            ours.owns(name, command).then(|| Queued {
                id: id.to_string(),
                node: (!node.is_empty()).then(|| node.to_string()),
            })
        })
        .collect()
}

/// The job name among `sbatch` options, as sbatch reads them (the last
/// one wins).
pub fn job_name(options: &[OsString]) -> Option<String> {
    let mut name = None;
    let mut words = options.iter().map(|w| w.to_string_lossy());
    while let Some(word) = words.next() {
        if let Some(value) = word.strip_prefix("--job-name=") {
            name = Some(value.to_string());
        } else if word == "--job-name" || word == "-J" {
            name = words.next().map(|v| v.into_owned());
        } else if let Some(value) = word.strip_prefix("-J") {
            name = Some(value.to_string());
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Identity {
        Identity {
            name: "mine".into(),
            dir: "/r/slurm-array-1-2".into(),
        }
    }

    #[test]
    fn only_tasks_with_the_arrays_name_and_folder_are_taken_as_its_own() {
        let stdout = "42_0|n1|mine|/r/slurm-array-1-2/submission-1.sh\n\
                      42_1||mine|/r/slurm-array-1-2/submission-1.sh\n\
                      43_0|n2|someone-else|/r/slurm-array-1-2/submission-1.sh\n\
                      43_1|n2|mine|/home/x/mine.sh\n\
                      43_2|n2|mine|/r/slurm-array-1-2/sub/x.sh\n\
                      44_0|n3|mine|/r/slurm-array-1-2/submission-2.sh a|b\n";
        assert_eq!(
            parse_squeue(stdout, &ours()),
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
        let other = Identity {
            name: "mine".into(),
            dir: "/r/slurm-array-9-9".into(),
        };
        assert_eq!(parse_squeue(stdout, &other), []);
        assert_eq!(parse_squeue("garbage\n", &ours()), []);
    }

    #[test]
    fn the_job_name_among_sbatch_options_is_the_last_one_given() {
        let words =
            |text: &str| -> Vec<OsString> { text.split_whitespace().map(OsString::from).collect() };
        assert_eq!(job_name(&words("--partition=short")), None);
        assert_eq!(job_name(&words("--job-name=a")).as_deref(), Some("a"));
        assert_eq!(job_name(&words("--job-name a -p x")).as_deref(), Some("a"));
        assert_eq!(job_name(&words("-J a")).as_deref(), Some("a"));
        assert_eq!(job_name(&words("-Ja --job-name=b")).as_deref(), Some("b"));
    }
}
