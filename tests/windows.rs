//! What only Windows does: a file that another program (a virus scanner,
//! an indexer, a backup) holds open without sharing its removal keeps it
//! from being removed or replaced for as long as it is held. orchestrate
//! tries again for a moment, then says so in one line. And what Unix's
//! signal tests check, the Windows way: a run killed outright
//! (`TerminateProcess`) leaves its folder, which the next run removes,
//! never a live run's.
#![cfg(windows)]

mod common;

use std::os::windows::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use common::{eventually, example, orchestrate};
use predicates::prelude::*;

/// Opens `path` as a scanner would: reading, sharing reading only.
fn hold(path: &Path) -> std::fs::File {
    const FILE_SHARE_READ: u32 = 1;
    std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ)
        .open(path)
        .unwrap()
}

/// A results folder holding the result of an earlier run for `c`.
fn earlier_results(dir: &Path) -> std::path::PathBuf {
    let results = dir.join("results");
    orchestrate(dir)
        .args(["-q", "--letters", "c", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success();
    results
}

#[test]
fn an_old_result_held_for_a_moment_is_removed_once_it_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let results = earlier_results(dir.path());
    let held = hold(&results.join("c.txt"));
    // Let go a moment after the run has locked the folder, which it does
    // just before it removes the old results.
    let lock = results.join(".orchestrate.lock");
    let letting_go = std::thread::spawn(move || {
        eventually(30, "the run to lock its folder", || lock.exists());
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
    });
    orchestrate(dir.path())
        .args(["-q", "--letters", "c", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    letting_go.join().unwrap();
}

#[test]
fn an_old_result_held_for_good_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let results = earlier_results(dir.path());
    let _held = hold(&results.join("c.txt"));
    orchestrate(dir.path())
        .args(["-q", "--letters", "c", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "orchestrate: error: could not remove the old result ",
        ))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

/// A run of the stand-in whose 26 children hang (each with a grandchild),
/// its temporary folder in `tmp`, once they all have started; `log` gets
/// their pids.
fn hanging_run(dir: &Path, tmp: &Path, log: &str) -> common::Run {
    let pid_log = dir.join(log);
    let mut run = common::Run(
        common::spawn_faulty(dir)
            .env("FAULT_ALL", "hang")
            .env("PID_LOG", &pid_log)
            .env("TMP", tmp)
            .env("TEMP", tmp)
            .arg(example())
            .spawn()
            .unwrap(),
    );
    eventually(60, "the children to start", || {
        assert!(run.try_wait().unwrap().is_none(), "the run ended");
        common::pids(&pid_log).len() >= 26 * 2
    });
    run
}

/// The runs' folders in `tmp` (beside them, a live run's children's
/// captured stderr files, which Windows removes when they are closed).
fn run_folders(tmp: &Path) -> Vec<String> {
    let mut folders = common::entries(tmp);
    folders.retain(|name| name.starts_with("orchestrate-"));
    folders
}

#[test]
fn the_next_run_removes_the_folder_of_a_run_killed_outright_never_a_live_runs() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // Killed outright (TerminateProcess): no handler runs, so its folder
    // stays; its children die with it (their jobs close).
    let mut killed = hanging_run(dir.path(), &tmp, "killed");
    killed.kill().unwrap();
    common::wait_within(&mut killed, 20);
    let abandoned = run_folders(&tmp);
    assert_eq!(abandoned.len(), 1, "{abandoned:?}");
    eventually(10, "the killed run's children to be gone", || {
        common::pids(&dir.path().join("killed"))
            .iter()
            .all(|&pid| !common::alive(pid))
    });
    // A run that lives on while the next one starts removed the killed
    // run's folder as it started.
    let live = hanging_run(dir.path(), &tmp, "live");
    let live_folder = run_folders(&tmp);
    assert_eq!(live_folder.len(), 1, "{live_folder:?}");
    assert_ne!(live_folder, abandoned);
    // Another run leaves the live run's folder alone.
    orchestrate(dir.path())
        .env("TMP", &tmp)
        .env("TEMP", &tmp)
        .arg("-q")
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    assert_eq!(run_folders(&tmp), live_folder);
    drop(live);
}
