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
        // Ids that are options or tasks, beside a plain one.
        r#"{"job_id": "--partition=gpu_a1", "tasks": ["a.1"]},
           {"job_id": "777_3", "tasks": ["b.1"]}, {"job_id": "778", "tasks": ["c.1"]}"#,
        // Plain numbers: still not named while the queue does not say they
        // are the array's.
        r#"{"job_id": "777", "tasks": ["a.1"]}, {"job_id": "778", "tasks": ["c.1"]}"#,
    ];
    for jobs in forged {
        let dir = tempfile::tempdir().unwrap();
        let bin = silent_slurm(dir.path());
        let results = dir.path().join("rd");
        fs::create_dir(&results).unwrap();
        fs::write(results.join("orchestrate.json"), record_with_jobs(jobs)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        orchestrate(dir.path())
            .env("PATH", path)
            .args(["-q", "--results-dir", "rd"])
            .arg(example())
            .assert()
            .success()
            .stdout("4\n");
        assert!(
            !dir.path().join("scancel.log").exists(),
            "scancel ran for {jobs}: {:?}",
            fs::read_to_string(dir.path().join("scancel.log"))
        );
        assert_eq!(entries(&results).len(), 27, "26 results and the record");
    }
}
