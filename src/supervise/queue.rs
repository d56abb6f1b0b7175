//! A scheduler's queue as the job-array backend needs it: submit an array,
//! ask which of its tasks are still there, cancel them. [`Slurm`] does it
//! with `sbatch`, `squeue` and `scancel`; the array's tests use a fake.
//!
//! Job ids are not identity: a controller that lost its state hands the
//! same ids out again. A job is taken for one of an array's only if it
//! has the array's name and runs a script in the array's folder (a folder
//! unique to the run that made it): a job that is not ours is never taken
//! for one of our tasks, never waited on, never cancelled. The queue is
//! asked by that name, not by job id, so it also shows a job of ours that
//! was submitted although `sbatch` did not say so (it timed out).
//!
//! Every command has a deadline: a controller that does not answer must
//! not freeze the supervision loop (no stop signal would be heard).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// How long `squeue` and `scancel` may take: about Slurm's own message
/// timeout (10 s by default) would stall the loop for as long.
const ASK_DEADLINE: Duration = Duration::from_secs(5);

/// How long `sbatch` may take.
const SUBMIT_DEADLINE: Duration = Duration::from_secs(30);

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
    pub dir: PathBuf,
}

impl Identity {
    /// Whether a job that runs `command` (squeue's `%o`: the script, then
    /// any arguments) runs a script of ours: one directly in our folder,
    /// whose own name has no space (a folder path may have some).
    pub(crate) fn runs_ours(&self, command: &str) -> bool {
        let Some(dir) = self.dir.to_str() else {
            return false;
        };
        command
            .strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(|rest| rest.split(' ').next())
            .is_some_and(|file| !file.is_empty() && !file.contains('/'))
    }
}

/// Whether `id` is a job id as Slurm gives them: a number.
pub fn is_job_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `id` is an array task's id, `<job id>_<index>`: two numbers.
pub fn is_task_id(id: &str) -> bool {
    id.split_once('_')
        .is_some_and(|(job, index)| is_job_id(job) && is_job_id(index))
}

/// Whether `name` can name an array's jobs: not empty, and nothing that
/// squeue's output or a shell would split.
pub fn is_job_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'|' | b',' | b'\'' | b'"' | b'\\'))
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

    /// Every task that is `ours` still queued or running; `None` when the
    /// queue does not answer (a busy or unreachable controller): then
    /// nothing may be concluded from it.
    fn queued(&mut self, ours: &Identity) -> Option<Vec<Queued>>;

    /// Asks to cancel `targets` without waiting; with `kill`, SIGKILL at
    /// once. Whole jobs (`<job>`) only if they carry `ours`'s name; tasks
    /// (`<job>_<index>`) as they are: only tasks the queue has listed as
    /// ours, or that were submitted as ours, are ever named.
    fn cancel(&mut self, ours: &Identity, targets: &[String], kill: bool);
}

impl<Q: Queue + ?Sized> Queue for &mut Q {
    fn submit(&mut self, submission: &Submission) -> anyhow::Result<String> {
        (**self).submit(submission)
    }

    fn queued(&mut self, ours: &Identity) -> Option<Vec<Queued>> {
        (**self).queued(ours)
    }

    fn cancel(&mut self, ours: &Identity, targets: &[String], kill: bool) {
        (**self).cancel(ours, targets, kill);
    }
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
        let mut sbatch = Command::new("sbatch");
        sbatch
            .arg("--parsable")
            .args(submission.options)
            .arg(format!(
                "--array=0-{}",
                submission.tasks.len().saturating_sub(1)
            ))
            .arg(format!("--job-name={}", submission.name))
            .arg("--output=/dev/null")
            .arg("--no-requeue")
            .arg(submission.script);
        let output = output_within(sbatch, SUBMIT_DEADLINE)
            .context("could not run sbatch")?
            .context("sbatch did not answer within 30 s")?;
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

    fn queued(&mut self, ours: &Identity) -> Option<Vec<Queued>> {
        let mut squeue = Command::new("squeue");
        squeue
            .args(["-h", "-r", "-o", "%i|%N|%o"])
            .arg(format!("--name={}", ours.name));
        let output = output_within(squeue, ASK_DEADLINE).ok()??;
        output
            .status
            .success()
            .then(|| parse_squeue(&String::from_utf8_lossy(&output.stdout), ours))
    }

    fn cancel(&mut self, ours: &Identity, targets: &[String], kill: bool) {
        // scancel with a filter (--name) applies to whole jobs, whatever
        // task is named: a task must be named alone.
        // Only what is spelled as an id: nothing else may reach scancel's
        // command line, where it could read as an option.
        let (tasks, jobs): (Vec<&String>, Vec<&String>) = targets
            .iter()
            .filter(|t| is_task_id(t) || is_job_id(t))
            .partition(|t| is_task_id(t));
        for (targets, filter) in [(tasks, None), (jobs, Some(&ours.name))] {
            if targets.is_empty() {
                continue;
            }
            let mut scancel = scancel();
            if let Some(name) = filter {
                scancel.arg(format!("--name={name}"));
            }
            if kill {
                scancel.args(["--signal=KILL", "--full"]);
            }
            scancel.args(targets);
            let _ = output_within(scancel, ASK_DEADLINE);
        }
    }
}

/// Runs `command` (standard input `/dev/null`) and collects what it
/// printed; `Ok(None)` when it did not end within `limit` (it is killed).
fn output_within(mut command: Command, limit: Duration) -> std::io::Result<Option<Output>> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id() as crate::sys::Pid;
    let (sender, receiver) = std::sync::mpsc::channel();
    // The output is read on a thread of its own, so that a full pipe
    // cannot keep the command from ending.
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(limit) {
        Ok(output) => output.map(Some),
        Err(_) => {
            // The child is not reaped until wait_with_output returns, so
            // the pid is still its own.
            let _ = crate::sys::process::kill(pid, crate::sys::signals::Signal::Kill);
            let _ = receiver.recv();
            Ok(None)
        }
    }
}

/// Our tasks in squeue's `%i|%N|%o` lines (id, node, command: the command
/// last, as it may hold `|`), asked of the jobs with our name.
fn parse_squeue(stdout: &str, ours: &Identity) -> Vec<Queued> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, '|');
            let (id, node) = (fields.next()?.trim(), fields.next()?.trim());
            let command = fields.next()?;
            (is_task_id(id) && ours.runs_ours(command)).then(|| Queued {
                id: id.to_string(),
                node: (!node.is_empty()).then(|| node.to_string()),
            })
        })
        .collect()
}

/// The job name among `sbatch` or `srun` options, as they read them (the
/// last one wins).
pub fn job_name(options: &[OsString]) -> Option<String> {
    split_job_name(options).0
}

/// The job name among `sbatch` or `srun` options (the last one wins), and
/// the options without it.
pub fn split_job_name(options: &[OsString]) -> (Option<String>, Vec<OsString>) {
    let mut name = None;
    let mut rest = Vec::new();
    let mut words = options.iter();
    while let Some(word) = words.next() {
        let text = word.to_string_lossy();
        if let Some(value) = text.strip_prefix("--job-name=") {
            name = Some(value.to_string());
        } else if text == "--job-name" || text == "-J" {
            name = words.next().map(|v| v.to_string_lossy().into_owned());
        } else if let Some(value) = text.strip_prefix("-J") {
            name = Some(value.to_string());
        } else {
            rest.push(word.clone());
        }
    }
    (name, rest)
}

/// `scancel --quiet`, the start of every cancellation.
pub fn scancel() -> Command {
    let mut scancel = Command::new("scancel");
    scancel.arg("--quiet");
    scancel
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Identity {
        Identity {
            name: "mine".into(),
            dir: "/r/my results/slurm-array-1-2".into(),
        }
    }

    #[test]
    fn only_tasks_that_run_a_script_in_the_arrays_folder_are_taken_as_its_own() {
        let stdout = "42_0|n1|/r/my results/slurm-array-1-2/submission-1.sh\n\
                      42_1||/r/my results/slurm-array-1-2/submission-1.sh\n\
                      43_1|n2|/home/x/mine.sh\n\
                      43_2|n2|/r/my results/slurm-array-1-2/sub/x.sh\n\
                      43_3|n2|/r/my results/slurm-array-1-23/submission-1.sh\n\
                      43_4|n2|/r/my results/slurm-array-1-2/\n\
                      44_0|n3|/r/my results/slurm-array-1-2/task.sh 1 ab|c\n";
        let ids: Vec<(String, Option<String>)> = parse_squeue(stdout, &ours())
            .into_iter()
            .map(|q| (q.id, q.node))
            .collect();
        let expected = [("42_0", Some("n1")), ("42_1", None), ("44_0", Some("n3"))]
            .map(|(id, node)| (id.to_string(), node.map(String::from)));
        assert_eq!(ids, expected);
        let other = Identity {
            name: "mine".into(),
            dir: "/r/slurm-array-9-9".into(),
        };
        assert_eq!(parse_squeue(stdout, &other), []);
        assert_eq!(parse_squeue("garbage\n", &ours()), []);
    }

    #[test]
    fn only_numbers_are_job_and_task_ids() {
        #[track_caller]
        fn case(id: &str, job: bool, task: bool) {
            assert_eq!((is_job_id(id), is_task_id(id)), (job, task), "{id}");
        }
        case("777", true, false);
        case("777_3", false, true);
        case("--partition=gpu_a1", false, false);
        case("777_3 778", false, false);
        case("777_", false, false);
        case("_3", false, false);
        case("777_[1-5]", false, false);
        case("", false, false);
        case("-1", false, false);
    }

    #[test]
    fn a_job_name_must_survive_squeue_and_the_shell() {
        assert!(is_job_name("orchestrate-12"));
        assert!(is_job_name("run.2_a"));
        for bad in ["", "a|b", "a b", "a,b", "a'b", "x\ny"] {
            assert!(!is_job_name(bad), "{bad:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_command_that_does_not_end_in_time_is_killed() {
        let mut sleep = Command::new("sleep");
        sleep.arg("10");
        let start = std::time::Instant::now();
        assert!(
            output_within(sleep, Duration::from_millis(50))
                .unwrap()
                .is_none()
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        let mut echo = Command::new("echo");
        echo.arg("hi");
        let output = output_within(echo, Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(output.stdout, b"hi\n");
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
