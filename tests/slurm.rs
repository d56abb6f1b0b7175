//! The fan-out through a real Slurm scheduler: every child a job step via
//! `srun`, results through the results folder, and stopping that cancels
//! the steps.
//!
//! Needs a running cluster: `sudo scripts/slurm-local.sh start`, then
//! `export SLURM_CONF=...` as it prints (or the script's default path is
//! used). Without one these tests are skipped with a printed reason, except
//! in CI (CI=true, or REQUIRE_SLURM=1), where a missing cluster is a failure.
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::slurm::cluster;
use common::{alive, eventually, example, fixture, input, pids, signal, wait_within};
use predicates::prelude::*;

/// orchestrate with every child run by `srun` as a job named `name`.
fn orchestrate_srun(dir: &Path, conf: &Path, name: &str) -> assert_cmd::Command {
    let mut cmd = common::orchestrate(dir);
    cmd.env("SLURM_CONF", conf)
        .arg("--launcher")
        .arg(format!("srun --ntasks=1 --quiet --job-name={name}"))
        .arg("--results-dir")
        .arg(dir.join("results"));
    cmd
}

/// The job ids `squeue` lists for a run whose srun job name is `name`
/// (each child's job is `<name>-<letter>-<attempt>`).
fn queued(conf: &Path, name: &str) -> Vec<String> {
    let names: Vec<String> = ('a'..='z')
        .flat_map(|letter| (1..=3).map(move |attempt| format!("{name}-{letter}-{attempt}")))
        .collect();
    let out = Command::new("squeue")
        .args(["-h", "-o", "%i", "-n", &names.join(",")])
        .env("SLURM_CONF", conf)
        .output()
        .expect("squeue runs");
    assert!(
        out.status.success(),
        "squeue: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn job_name(test: &str) -> String {
    format!("pf-{}-{test}", std::process::id())
}

/// Runs `orchestrate` as `command` makes it on the worked example and on
/// the 50k input: each time every letter, and the exact minimum.
#[track_caller]
fn finds_the_exact_minimum(command: impl Fn() -> assert_cmd::Command) {
    for (polymer, minimum, best) in [(example(), 4, "c"), (input("polymer-50k.txt"), 3190, "t")] {
        let output = command().arg("--json").arg(&polymer).output().unwrap();
        common::assert_success(&output);
        let json = common::json_of(&output.stdout);
        assert_eq!(json["min_length"], minimum);
        assert_eq!(json["best_letter"], best);
        assert_eq!(json["results"].as_object().unwrap().len(), 26);
    }
}

#[test]
fn srun_runs_every_letter_as_a_job_step_with_the_right_minimum() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("minimum");
    finds_the_exact_minimum(|| orchestrate_srun(dir.path(), &conf, &name));
    // srun returns when its step is done; the job it ran in may still be
    // completing for a moment.
    eventually(20, "every job to leave the queue", || {
        queued(&conf, &name).is_empty()
    });
}

#[test]
fn srun_reports_a_failing_child_with_its_letter_and_cancels_the_other_steps() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("failing");
    // Every other child would hang: the run ends only because the failure
    // of `c` stops them, through srun.
    orchestrate_srun(dir.path(), &conf, &name)
        .env("FAULT_ALL", "hang")
        .env("FAULT_c", "exit")
        .env("PID_LOG", dir.path().join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        // The node it ran on is named when it is not this machine.
        .stderr(
            predicate::str::is_match(
                "letter c: child (on [a-z0-9-]+ )?exited with status 3; its stderr ends: ",
            )
            .unwrap(),
        )
        // srun's own line and the task's stderr may come in either order.
        .stderr(predicate::str::contains("reduce: simulated failure for c"))
        .stderr(predicate::str::contains("1 of 26 letters failed"));
    eventually(20, "every job to leave the queue", || {
        queued(&conf, &name).is_empty()
    });
    let pids = pids(&dir.path().join("pids"));
    eventually(20, "the steps' processes to end", || {
        pids.iter().all(|&pid| !alive(pid))
    });
}

#[test]
fn a_timeout_through_srun_cancels_the_step() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("timeout");
    orchestrate_srun(dir.path(), &conf, &name)
        .env("FAULT_b", "hang")
        .env("PID_LOG", dir.path().join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .args(["--letters", "abc", "--timeout", "2", "--reduce-bin"])
        .arg(fixture("faulty-reduce.sh"))
        .arg(example())
        .assert()
        .code(1)
        .stderr(
            predicate::str::is_match("letter b: child (on [a-z0-9-]+ )?timed out and was stopped")
                .unwrap(),
        );
    eventually(20, "the step to leave the queue", || {
        queued(&conf, &name).is_empty()
    });
    let pids = pids(&dir.path().join("pids"));
    assert_eq!(pids.len(), 2);
    eventually(20, "the step's processes to end", || {
        pids.iter().all(|&pid| !alive(pid))
    });
}

#[test]
fn sigterm_through_srun_cancels_every_job_even_with_a_short_grace_period() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("sigterm");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child = Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .env("SLURM_CONF", &conf)
        .env("TMPDIR", &tmp)
        .env("FAULT_ALL", "hang")
        .env("PID_LOG", dir.path().join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--launcher")
        .arg(format!("srun --ntasks=1 --quiet --job-name={name}"))
        .arg("--results-dir")
        .arg(dir.path().join("results"))
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        // Too short for srun to cancel its own step: the jobs must be
        // cancelled explicitly.
        .args(["--grace", "0.2"])
        .arg(example())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Each step logs its own pid and its grandchild's.
    eventually(60, "all 26 steps to start", || {
        pids(&dir.path().join("pids")).len() == 52
    });
    assert_eq!(queued(&conf, &name).len(), 26);
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_within(&mut child, 30).code(), Some(143));
    eventually(20, "every step to leave the queue", || {
        queued(&conf, &name).is_empty()
    });
    let pids = pids(&dir.path().join("pids"));
    assert_eq!(pids.len(), 52);
    eventually(20, "every step's processes to end", || {
        pids.iter().all(|&pid| !alive(pid))
    });
    assert!(
        common::entries(&tmp).is_empty(),
        "temporary folder left behind"
    );
}

// ---- Job arrays (`--sbatch`) ----

/// orchestrate running the letters as one job array named `name`, through
/// the logging sbatch (every submission is a line of `dir/sbatch.log`).
fn orchestrate_array(dir: &Path, conf: &Path, name: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::from_std(array_command(dir, conf, name));
    cmd.timeout(Duration::from_secs(120));
    cmd
}

fn array_command(dir: &Path, conf: &Path, name: &str) -> Command {
    array_command_with(dir, conf, &format!("--job-name={name}"))
}

/// orchestrate submitting its array with these sbatch options.
fn array_command_with(dir: &Path, conf: &Path, sbatch: &str) -> Command {
    let mut cmd = Command::new(common::orchestrate_bin());
    cmd.current_dir(dir).env("TMPDIR", dir);
    let real = which_sbatch();
    let path = format!(
        "{}:{}",
        fixture("sbatch-logger").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("SLURM_CONF", conf)
        .env("PATH", path)
        .env("REAL_SBATCH", real)
        .env("SBATCH_LOG", dir.join("sbatch.log"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg(format!("--sbatch={sbatch}"))
        .arg("--results-dir")
        .arg(dir.join("results"));
    cmd
}

fn which_sbatch() -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", "command -v sbatch"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The job ids `squeue` lists under job name `name`.
fn queued_by_name(conf: &Path, name: &str) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-o", "%i", "-n", name])
        .env("SLURM_CONF", conf)
        .output()
        .expect("squeue runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn submissions(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("sbatch.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn a_job_array_finds_the_exact_minimum() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("array");
    finds_the_exact_minimum(|| orchestrate_array(dir.path(), &conf, &name));
    assert_eq!(submissions(dir.path()), 2, "one submission per run");
    assert!(queued_by_name(&conf, &name).is_empty());
}

#[test]
fn a_failing_array_task_is_named_with_its_stderr() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("array-failing");
    orchestrate_array(dir.path(), &conf, &name)
        .env("FAULT_c", "exit")
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .args(["--keep-going", "--letters", "abc"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::is_match(
            "letter c: child (on [a-z0-9-]+ )?exited with status 3; its stderr ends: reduce: simulated failure for c",
        ).unwrap())
        .stderr(predicate::str::contains("1 of 3 letters failed"));
    assert!(queued_by_name(&conf, &name).is_empty());
}

#[test]
fn sigterm_cancels_the_array_and_leaves_nothing_queued() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("array-sigterm");
    let events = dir.path().join("events.log");
    let mut child = array_command(dir.path(), &conf, &name)
        .env("FAULT_ALL", "hang")
        .env("PID_LOG", dir.path().join("pids"))
        .env("EVENT_LOG", &events)
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .args(["--letters", "abcd"])
        .arg(example())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually(60, "every task to start", || {
        pids(&dir.path().join("pids")).len() == 8
    });
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_within(&mut child, 60).code(), Some(143));
    assert!(
        queued_by_name(&conf, &name).is_empty(),
        "orchestrate returns only once squeue lists nothing"
    );
    let pids = pids(&dir.path().join("pids"));
    eventually(30, "every task's processes to end", || {
        pids.iter().all(|&pid| !alive(pid))
    });
}

#[test]
fn an_array_outlives_a_killed_orchestrate_and_resume_collects_it_without_submitting_again() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = job_name("array-resume");
    let events = dir.path().join("events.log");
    let mut first = array_command(dir.path(), &conf, &name)
        .env("EVENT_LOG", &events)
        .env("SLOW", "2")
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg(example())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually(60, "a task to start", || {
        std::fs::read_to_string(&events).is_ok_and(|log| log.contains("start"))
    });
    signal(&first, libc::SIGKILL);
    wait_within(&mut first, 20);
    assert!(
        !queued_by_name(&conf, &name).is_empty(),
        "the array runs on without orchestrate"
    );
    let output = orchestrate_array(dir.path(), &conf, &name)
        .arg("--resume")
        .arg("--json")
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg(example())
        .output()
        .unwrap();
    common::assert_success(&output);
    let json = common::json_of(&output.stdout);
    assert_eq!(json["min_length"], 4);
    assert_eq!(json["results"].as_object().unwrap().len(), 26);
    assert_eq!(submissions(dir.path()), 1, "no task was submitted twice");
    assert!(queued_by_name(&conf, &name).is_empty());
    // Resuming the finished run submits nothing and starts nothing.
    let before = std::fs::read_to_string(&events).unwrap();
    orchestrate_array(dir.path(), &conf, &name)
        .arg("--resume")
        .arg("-q")
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    assert_eq!(submissions(dir.path()), 1);
    assert_eq!(std::fs::read_to_string(&events).unwrap(), before);
    // And another input is refused.
    orchestrate_array(dir.path(), &conf, &name)
        .arg("--resume")
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg(input("polymer-50k.txt"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("holds results of another input"));
}

/// `orchestrate --status` of the array's results folder, as JSON.
fn array_status(dir: &Path, conf: &Path) -> serde_json::Value {
    let output = common::status(dir, &dir.join("results"), true)
        .env("SLURM_CONF", conf)
        .output()
        .unwrap();
    common::assert_success(&output);
    common::json_of(&output.stdout)
}

fn states(status: &serde_json::Value, letters: &str) -> Vec<String> {
    letters
        .chars()
        .map(|l| {
            status["letters"][l.to_string()]["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn status_follows_a_detached_array_from_queued_to_running_where_to_done_and_lost() {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let name = job_name("array-status");
    let (pid_log, host_log) = (dir.path().join("pids"), dir.path().join("hosts"));
    // Held in the queue until released; then b and c finish and a hangs.
    let mut first = array_command_with(dir.path(), &conf, &format!("--job-name={name} --hold"))
        .env("FAULT_a", "hang")
        .env("PID_LOG", &pid_log)
        .env("HOST_LOG", &host_log)
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .args(["--letters", "abc"])
        .arg(example())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::eventually_every(100, 60, "the array's submission to be recorded", || {
        results.join("orchestrate.json").exists()
            && array_status(dir.path(), &conf)["array_jobs"]
                .as_array()
                .is_some_and(|jobs| jobs.len() == 1)
    });
    signal(&first, libc::SIGKILL);
    wait_within(&mut first, 20);

    // Held: queued, with no orchestrate left; looking changes nothing.
    let before = common::snapshot(&results);
    let status = array_status(dir.path(), &conf);
    let job = status["array_jobs"][0].as_str().unwrap().to_string();
    assert_eq!(status["writer_pid"], serde_json::Value::Null);
    assert_eq!(status["queue_answered"], true);
    assert_eq!(
        states(&status, "abcd"),
        ["queued", "queued", "queued", "pending"]
    );
    assert_eq!(status["done"], 0);
    assert_eq!(status["min_length"], serde_json::Value::Null);
    let text = common::status(dir.path(), &results, false)
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("job array: {job} (squeue answered)")),
        "{text}"
    );
    assert!(text.contains("run: no orchestrate is writing it"), "{text}");
    assert_eq!(
        common::snapshot(&results),
        before,
        "reading the status changed nothing"
    );
    assert_eq!(
        queued_by_name(&conf, &name).len(),
        3,
        "and cancelled nothing"
    );

    // Released: b and c done, a running on the node it reported.
    let released = Command::new("scontrol")
        .args(["release", &job])
        .env("SLURM_CONF", &conf)
        .status()
        .unwrap();
    assert!(released.success());
    // a's host as it logged it when it started (squeue may name the node
    // a moment before that).
    let host_of_a = || {
        std::fs::read_to_string(&host_log)
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("a ").map(String::from))
    };
    let mut status = serde_json::Value::Null;
    common::eventually_every(100, 60, "b and c to be done and a running", || {
        status = array_status(dir.path(), &conf);
        states(&status, "abc") == ["running", "done", "done"] && host_of_a().is_some()
    });
    let host_of_a = host_of_a().unwrap();
    assert_eq!(status["letters"]["a"]["host"], host_of_a.as_str());
    assert_eq!(status["letters"]["b"]["length"], 8);
    assert_eq!(status["letters"]["c"]["length"], 4);
    assert_eq!(
        (status["min_length"].clone(), status["best_letter"].clone()),
        (4.into(), "c".into())
    );
    assert_eq!(status["done"], 2);

    // Cancelled behind the folder's back: a is lost, not running.
    let cancelled = Command::new("scancel")
        .args(["-n", &name])
        .env("SLURM_CONF", &conf)
        .status()
        .unwrap();
    assert!(cancelled.success());
    eventually(30, "the queue to forget the array", || {
        queued_by_name(&conf, &name).is_empty()
    });
    let status = array_status(dir.path(), &conf);
    assert_eq!(states(&status, "abc"), ["lost", "done", "done"]);
    let pids = pids(&pid_log);
    eventually(30, "a's processes to end", || {
        pids.iter().all(|&pid| !alive(pid))
    });
}
