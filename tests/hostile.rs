//! The promises against a hostile user and a hostile neighbour: nothing is
//! deleted that the run did not make, nothing planted can block or redirect
//! a run, a record is never trusted with what reaches Slurm, and `--status`
//! reads nothing outside its folder.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{entries, example, orchestrate};

/// A folder of stand-in Slurm commands: `squeue` that does not answer and
/// `scancel` that logs each call to `scancel.log` beside it.
fn silent_slurm(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    fs::create_dir(&bin).unwrap();
    let log = dir.join("scancel.log");
    for (name, body) in [
        ("squeue", "exit 1".to_string()),
        ("scancel", format!("echo \"$*\" >> '{}'", log.display())),
    ] {
        let path = bin.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// A record of an earlier run with a job array whose jobs are `jobs`.
fn record_with_jobs(jobs: &str) -> String {
    format!(
        r#"{{"array": {{"folder": "slurm-array-1-2", "name": "orchestrate-1", "jobs": [{jobs}]}},
            "full_length": 10, "input_length": 16, "input_sha256": "00",
            "program": "sha256:00"}}"#
    )
}

#[test]
fn a_forged_record_never_puts_its_job_ids_on_scancels_command_line() {
    let forged = [
        // Ids that are options or tasks, beside a plain one: not a record
        // orchestrate wrote, so the run refuses to replace it.
        (
            r#"{"job_id": "--partition=gpu_a1", "tasks": ["a.1"]},
               {"job_id": "777_3", "tasks": ["b.1"]}, {"job_id": "778", "tasks": ["c.1"]}"#,
            false,
        ),
        // Plain numbers: still not named while the queue does not say they
        // are the array's.
        (
            r#"{"job_id": "777", "tasks": ["a.1"]}, {"job_id": "778", "tasks": ["c.1"]}"#,
            true,
        ),
    ];
    for (jobs, readable) in forged {
        let dir = tempfile::tempdir().unwrap();
        let bin = silent_slurm(dir.path());
        let results = dir.path().join("rd");
        fs::create_dir(&results).unwrap();
        fs::write(results.join("orchestrate.json"), record_with_jobs(jobs)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let run = orchestrate(dir.path())
            .env("PATH", path)
            .args(["-q", "--results-dir", "rd"])
            .arg(example())
            .assert();
        assert!(
            !dir.path().join("scancel.log").exists(),
            "scancel ran for {jobs}: {:?}",
            fs::read_to_string(dir.path().join("scancel.log"))
        );
        if readable {
            run.success().stdout("4\n");
            assert_eq!(entries(&results).len(), 27, "26 results and the record");
        } else {
            run.code(1).stdout("").stderr(format!(
                "orchestrate: error: {}/orchestrate.json is not a manifest orchestrate wrote, \
                 so it is not this run's to replace; remove it or choose another \
                 --results-dir\n",
                results.display()
            ));
            assert_eq!(entries(&results), ["orchestrate.json"]);
        }
    }
}

#[test]
fn a_run_removes_no_file_that_only_looks_like_one_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let rd = dir.path().join("rd");
    fs::create_dir(&rd).unwrap();
    fs::write(rd.join(".partial-notes.txt"), "notes\n").unwrap();
    fs::copy(example(), rd.join(".partial-in.txt")).unwrap();
    for input in [example(), rd.join(".partial-in.txt")] {
        orchestrate(dir.path())
            .args(["-q", "--results-dir", "rd"])
            .arg(&input)
            .assert()
            .success()
            .stdout("4\n");
        assert_eq!(
            fs::read_to_string(rd.join(".partial-notes.txt")).unwrap(),
            "notes\n"
        );
        assert!(rd.join(".partial-in.txt").exists(), "the input was removed");
    }
    let mut left = entries(&rd);
    left.retain(|name| !name.ends_with(".txt") || name.starts_with('.'));
    assert_eq!(
        left,
        [".partial-in.txt", ".partial-notes.txt", "orchestrate.json"],
        "nothing of the run's own is left but its results"
    );
}

#[test]
fn a_job_log_inside_the_results_folder_is_written() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rd")).unwrap();
    orchestrate(dir.path())
        .args(["-q", "--results-dir", "rd", "--joblog", "rd/log.tsv"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    let log = fs::read_to_string(dir.path().join("rd/log.tsv")).unwrap();
    assert_eq!(log.lines().count(), 27, "a header and 26 letters:\n{log}");
}

#[test]
fn a_fifo_planted_as_a_dead_runs_marker_cannot_block_a_run() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "orchestrate-x",
        "orchestrate-abcdef",
        ".orchestrate-new-abcdef",
    ] {
        let planted = dir.path().join(name);
        fs::create_dir(&planted).unwrap();
        common::mkfifo(&planted.join(".orchestrate-marker"));
        common::mkfifo(&planted.join(".orchestrate-lock"));
    }
    orchestrate(dir.path())
        .timeout(std::time::Duration::from_secs(30))
        .arg("-q")
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    for name in [
        "orchestrate-x",
        "orchestrate-abcdef",
        ".orchestrate-new-abcdef",
    ] {
        assert!(
            dir.path().join(name).exists(),
            "{name} is not the run's own"
        );
    }
}

#[test]
fn a_killed_runs_folder_goes_and_a_live_ones_stays() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("orchestrate-dead01");
    common::plant_abandoned_folder(&dead);
    fs::write(dead.join("polymer.txt"), "aA\n").unwrap();
    let live = dir.path().join("orchestrate-live01");
    common::plant_abandoned_folder(&live);
    // Its run lives: it holds the marker's lock, until told to stop.
    let mut holder = std::process::Command::new("flock")
        .arg(live.join(".orchestrate-marker"))
        .args(["sh", "-c", "echo locked; read line"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut said,
    )
    .unwrap();
    assert_eq!(said, "locked\n");
    orchestrate(dir.path())
        .arg("-q")
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    assert!(!dead.exists(), "the killed run's folder was left");
    assert!(live.exists(), "the live run's folder was removed");
    drop(holder.stdin.take());
    holder.wait().unwrap();
}
