//! Results as checkpoints: `--resume` reuses the results a results folder
//! holds for the same job, runs only the letters without a valid one, and
//! refuses results of another input.

mod common;

use common::json_of;

use std::fs;
use std::path::Path;

#[cfg(not(target_os = "macos"))]
use common::eventually;
use common::{entries, example, input, orchestrate, orchestrate_faulty};
use predicates::prelude::*;

fn starts(events: &Path) -> Vec<String> {
    let mut letters: Vec<String> = fs::read_to_string(events)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.strip_prefix("start ").map(String::from))
        .collect();
    letters.sort();
    letters
}

/// A resumed run of the worked example with the faulty stand-in (which logs
/// every child it runs); returns its JSON. The run resumed must have used
/// the same stand-in: a result counts for the child program that made it.
fn resume(dir: &Path, results: &Path, events: &Path) -> serde_json::Value {
    let output = orchestrate_faulty(dir)
        .env("EVENT_LOG", events)
        .args(["--json", "--resume", "--results-dir"])
        .arg(results)
        .arg(example())
        .output()
        .unwrap();
    common::assert_success(&output);
    json_of(&output.stdout)
}

#[test]
fn resuming_after_failures_runs_only_the_failed_letters() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    orchestrate_faulty(dir.path())
        .env("FAULT_c", "exit")
        .env("FAULT_q", "nowrite")
        .args(["--keep-going", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .code(1);
    assert_eq!(entries(&results).len(), 24 + 1, "24 results and the record");
    let events = dir.path().join("events.log");
    let json = resume(dir.path(), &results, &events);
    assert_eq!(starts(&events), ["c", "q"]);
    assert_eq!(json["min_length"], 4);
    assert_eq!(json["results"].as_object().unwrap().len(), 26);
    assert_eq!(json["kept"].as_array().unwrap().len(), 24);
    assert_eq!(json["attempts"], 2);
    // The summary for people says what was kept.
    orchestrate_faulty(dir.path())
        .args(["--resume", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "26 letters (26 kept from the results folder) in",
        ));
}

// Not on macOS, where children are contained by their process groups
// alone and a SIGKILL of orchestrate leaves them running.
#[cfg(not(target_os = "macos"))]
#[test]
fn resuming_after_an_interruption_runs_only_the_letters_without_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    // Five letters finish, the others hang until the run is stopped.
    // Its temporary folder in the test's folder (never in /tmp).
    let mut first = common::Run(
        common::spawn_faulty(dir.path())
            .env("FAULT_ALL", "hang")
            .envs(["a", "b", "c", "d", "e"].map(|l| (format!("FAULT_{l}"), "work")))
            .env("PID_LOG", dir.path().join("pids"))
            .arg("--results-dir")
            .arg(&results)
            .arg(example())
            .spawn()
            .unwrap(),
    );
    // Results are published as each letter settles.
    eventually(30, "five published results", || {
        ["a", "b", "c", "d", "e"]
            .iter()
            .all(|l| results.join(format!("{l}.txt")).exists())
    });
    // Every hanging child and its grandchild are there (21 letters, two
    // pids each) before orchestrate is killed outright (SIGKILL on Unix,
    // TerminateProcess on Windows): it cannot clean up, and everything it
    // started dies with it.
    let pid_log = dir.path().join("pids");
    eventually(30, "every hanging child and grandchild", || {
        common::pids(&pid_log).len() == 42
    });
    first.kill().unwrap();
    common::wait_within(&mut first, 20);
    eventually(10, "every child and grandchild to be gone", || {
        common::pids(&pid_log)
            .iter()
            .all(|&pid| !common::alive(pid))
    });
    // Its temporary folder goes with it on Unix (the janitor removes it);
    // on Windows the next run removes it, once it can tell its run is gone.
    #[cfg(unix)]
    eventually(1, "the killed run's temporary folder to be gone", || {
        entries(dir.path())
            .iter()
            .all(|name| !name.starts_with("orchestrate-"))
    });
    let events = dir.path().join("events.log");
    let json = resume(dir.path(), &results, &events);
    let expected: Vec<String> = ('f'..='z').map(String::from).collect();
    assert_eq!(starts(&events), expected);
    assert_eq!(json["min_length"], 4);
    assert_eq!(json["kept"], serde_json::json!(["a", "b", "c", "d", "e"]));
    assert!(
        entries(&results)
            .iter()
            .all(|name| !name.starts_with(".orchestrate-")),
        "the killed run's private folder was removed: {:?}",
        entries(&results)
    );
    assert!(
        entries(dir.path())
            .iter()
            .all(|name| !name.starts_with("orchestrate-")),
        "the killed run's temporary folder was removed by the next run: {:?}",
        entries(dir.path())
    );
}

#[test]
fn resuming_a_finished_run_does_no_work_and_prints_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let first = orchestrate_faulty(dir.path())
        .args(["--json", "--results-dir"])
        .arg(&results)
        .arg(example())
        .output()
        .unwrap();
    let first = json_of(&first.stdout);
    let events = dir.path().join("events.log");
    let log = dir.path().join("log.tsv");
    let output = orchestrate_faulty(dir.path())
        .env("EVENT_LOG", &events)
        .args(["--json", "--resume", "--joblog"])
        .arg(&log)
        .arg("--results-dir")
        .arg(&results)
        .arg(example())
        .output()
        .unwrap();
    assert!(output.status.success());
    let json = json_of(&output.stdout);
    assert!(!events.exists(), "no child started");
    for field in [
        "min_length",
        "best_letter",
        "full_length",
        "input_length",
        "results",
    ] {
        assert_eq!(json[field], first[field], "{field}");
    }
    assert_eq!(json["attempts"], 0);
    assert_eq!(json["cached"].as_array().unwrap().len(), 26);
    let log = fs::read_to_string(&log).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\tcached\t")).count(), 26);
}

#[test]
fn resume_refuses_results_of_another_input() {
    let dir = tempfile::tempdir().unwrap();
    let results = common::finished_run(dir.path());
    let before = fs::read_to_string(results.join("a.txt")).unwrap();
    orchestrate(dir.path())
        .args(["--resume", "--results-dir"])
        .arg(&results)
        .arg(input("polymer-50k.txt"))
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "orchestrate: error: results folder {} holds results of another input or child program; \
             run without --resume to replace them, or choose another --results-dir\n",
            results.display()
        ));
    assert_eq!(fs::read_to_string(results.join("a.txt")).unwrap(), before);
    // Results with no record of their input are refused too.
    fs::remove_file(results.join("orchestrate.json")).unwrap();
    orchestrate(dir.path())
        .args(["--resume", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no record of their input"));
    // Without --resume too: result names with no record are not this
    // program's to remove.
    orchestrate(dir.path())
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(input("polymer-50k.txt"))
        .assert()
        .code(1)
        .stderr(format!(
            "orchestrate: error: results folder {} holds a.txt, which no run of orchestrate \
             recorded; remove it or choose another --results-dir\n",
            results.display()
        ));
    assert!(results.join("a.txt").exists());
}

#[cfg(unix)]
#[test]
fn tampered_results_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    orchestrate_faulty(dir.path())
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success();
    fs::write(results.join("c.txt"), "junk").unwrap();
    fs::write(results.join("d.txt"), "17\n").unwrap(); // longer than the input
    let elsewhere = dir.path().join("elsewhere.txt");
    fs::write(&elsewhere, "1\n").unwrap();
    fs::remove_file(results.join("e.txt")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, results.join("e.txt")).unwrap();
    let events = dir.path().join("events.log");
    let json = resume(dir.path(), &results, &events);
    assert_eq!(starts(&events), ["c", "d", "e"]);
    assert_eq!(json["min_length"], 4);
    assert_eq!(json["results"]["e"], 10);
    assert_eq!(fs::read_to_string(results.join("c.txt")).unwrap(), "4\n");
    assert!(
        !results
            .join("e.txt")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(&elsewhere).unwrap(),
        "1\n",
        "not followed"
    );
}

#[test]
fn resume_needs_a_results_folder() {
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .arg("--resume")
        .arg(example())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--results-dir"));
}

#[test]
fn a_folder_written_with_the_input_as_it_is_resumes_with_it_reacted_first() {
    // --no-prereact digests the input once read whole; the default digests
    // it while reacting it: the same input is the same record either way.
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    orchestrate(dir.path())
        .args(["-q", "--no-prereact", "--results-dir"])
        .arg(&results)
        .arg(input("polymer-50k.txt"))
        .assert()
        .success()
        .stdout("3190\n");
    let output = orchestrate(dir.path())
        .args(["--json", "--resume", "--results-dir"])
        .arg(&results)
        .arg(input("polymer-50k.txt"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let json = json_of(&output.stdout);
    assert_eq!(json["cached"].as_array().unwrap().len(), 26);
    assert_eq!(json["attempts"], 0);
}
