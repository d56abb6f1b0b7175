//! `orchestrate --status --results-dir DIR`: what a results folder says of
//! its run, read without changing anything.

mod common;

use std::fs;
use std::path::Path;

use common::{eventually, example, input, json_of, orchestrate, snapshot};

fn status(dir: &Path, results: &Path, json: bool) -> std::process::Output {
    common::status(dir, results, json).output().unwrap()
}

#[test]
fn a_finished_folder_shows_every_letter_done_and_the_minimum_and_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    orchestrate(dir.path())
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(input("polymer-50k.txt"))
        .assert()
        .success()
        .stdout("3190\n");
    let before = snapshot(&results);
    let text = status(dir.path(), &results, false);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("run: no orchestrate is writing it"), "{text}");
    assert!(
        text.contains("input: 50000 units, reacted to 9848"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["t", "done", "3190"])),
        "{text}"
    );
    assert!(
        text.ends_with("minimum so far: 3190 units without t (26 of 26 letters done)\n"),
        "{text}"
    );
    let json = json_of(&status(dir.path(), &results, true).stdout);
    assert_eq!(json["min_length"], 3190);
    assert_eq!(json["best_letter"], "t");
    assert_eq!(json["done"], 26);
    assert_eq!(json["writer_pid"], serde_json::Value::Null);
    assert_eq!(json["letters"]["a"]["state"], "done");
    assert_eq!(json["letters"]["a"]["length"], 9490);
    assert_eq!(
        snapshot(&results),
        before,
        "reading the status changed nothing"
    );
}

#[test]
fn a_holder_file_left_by_a_killed_run_names_no_writer_even_if_its_pid_lives_again() {
    let dir = tempfile::tempdir().unwrap();
    let results = common::finished_run(dir.path());
    // A run killed outright leaves its holder file; its pid may since name
    // another live process (here: this test).
    fs::write(
        results.join(".orchestrate.pid"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let text = String::from_utf8(status(dir.path(), &results, false).stdout).unwrap();
    assert!(text.contains("run: no orchestrate is writing it"), "{text}");
    let json = json_of(&status(dir.path(), &results, true).stdout);
    assert_eq!(json["writer_pid"], serde_json::Value::Null);
}

#[test]
fn a_folder_being_written_shows_its_writer_and_what_is_done_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let events = dir.path().join("events");
    // Every letter but t finishes; t hangs until the run is stopped.
    let mut run = common::spawn_faulty(dir.path())
        .env("EVENT_LOG", &events)
        .env("FAULT_t", "hang")
        .args(["-q", "--keep-going", "--results-dir"])
        .arg(&results)
        .arg(example())
        .spawn()
        .unwrap();
    eventually(30, "the 25 other letters to be published", || {
        ('a'..='z')
            .filter(|&l| l != 't')
            .all(|l| results.join(format!("{l}.txt")).exists())
    });
    let json = json_of(&status(dir.path(), &results, true).stdout);
    assert_eq!(json["writer_pid"], run.id());
    assert_eq!(json["done"], 25);
    assert_eq!(json["letters"]["t"]["state"], "pending");
    assert_eq!(json["min_length"], 4);
    assert_eq!(json["best_letter"], "c");
    // The run goes on as if nothing happened, and stops when asked.
    #[cfg(unix)]
    {
        common::signal(&run, libc::SIGTERM);
        let code = common::wait_within(&mut run, 30);
        assert_eq!(code.code(), Some(128 + libc::SIGTERM));
    }
    // Windows has no SIGTERM: the run ends outright.
    #[cfg(windows)]
    {
        run.kill().unwrap();
        run.wait().unwrap();
    }
    let json = json_of(&status(dir.path(), &results, true).stdout);
    assert_eq!(
        json["writer_pid"],
        serde_json::Value::Null,
        "its writer is gone"
    );
}

#[test]
fn an_empty_or_foreign_folder_is_one_clear_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let foreign = dir.path().join("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("a.txt"), "12\n").unwrap();
    let garbled = dir.path().join("garbled");
    fs::create_dir(&garbled).unwrap();
    fs::write(garbled.join("orchestrate.json"), "{ not json").unwrap();
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    for (folder, says) in [
        (&empty, "holds no run of orchestrate (no orchestrate.json)"),
        (
            &foreign,
            "holds no run of orchestrate (no orchestrate.json)",
        ),
        (
            &garbled,
            "orchestrate.json is not a record this version of orchestrate can read",
        ),
        (&file, "is not a folder"),
        (&dir.path().join("missing"), "could not read"),
    ] {
        let before = snapshot(dir.path());
        let output = status(dir.path(), folder, false);
        assert_eq!(output.status.code(), Some(1), "{folder:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("orchestrate: error: "), "{stderr}");
        assert!(stderr.contains(&folder.display().to_string()), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(snapshot(dir.path()), before);
    }
}
