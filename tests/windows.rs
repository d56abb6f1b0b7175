//! What only Windows does: a file that another program (a virus scanner,
//! an indexer, a backup) holds open without sharing its removal keeps it
//! from being removed or replaced for as long as it is held. orchestrate
//! tries again for a moment, then says so in one line.
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
