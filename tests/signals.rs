//! Stopping `orchestrate` from outside: SIGTERM, SIGINT (once and twice) and
//! SIGKILL must leave no child process and no temporary folder behind.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{alive, entries, eventually, example, fixture, pids, signal, wait_within};

/// Starts orchestrate with every child in `mode`, TMPDIR inside `dir`, and
/// waits until all 26 children have recorded their pids.
fn start_hanging(dir: &Path, mode: &str, extra: &[&str]) -> Child {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let child = Command::new(common::orchestrate_bin())
        .current_dir(dir)
        .env("TMPDIR", &tmp)
        .env("FAULT_ALL", mode)
        .env("PID_LOG", dir.join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .args(extra)
        .arg(example())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually(30, "every child to start", || {
        std::fs::read_to_string(dir.join("pids"))
            .unwrap_or_default()
            .lines()
            .count()
            == 26
    });
    child
}

#[track_caller]
fn assert_all_gone(dir: &Path) {
    let pids = pids(&dir.join("pids"));
    assert!(pids.len() >= 26);
    eventually(10, "every child process to be gone", || {
        pids.iter().all(|&pid| !alive(pid))
    });
}

#[test]
fn sigterm_stops_every_child_and_grandchild_and_removes_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_hanging(dir.path(), "hang", &[]);
    signal(&child, libc::SIGTERM);
    let status = wait_within(&mut child, 20);
    assert_eq!(status.code(), Some(143));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(
        stderr,
        "orchestrate: error: interrupted by SIGTERM; every child was stopped\n"
    );
    // Each "hang" child left a grandchild `sleep`: both pids are in the log.
    assert_eq!(pids(&dir.path().join("pids")).len(), 52);
    assert_all_gone(dir.path());
    assert!(
        entries(&dir.path().join("tmp")).is_empty(),
        "temporary folder left behind"
    );
}

#[test]
fn sigint_stops_every_child_with_status_130() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_hanging(dir.path(), "hang", &[]);
    signal(&child, libc::SIGINT);
    assert_eq!(wait_within(&mut child, 20).code(), Some(130));
    assert_all_gone(dir.path());
    assert!(entries(&dir.path().join("tmp")).is_empty());
}

#[test]
fn a_second_sigint_skips_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    // The children ignore SIGTERM, and the grace period is far longer than
    // this test's deadline: only the second SIGINT can end the run in time.
    let mut child = start_hanging(dir.path(), "stubborn", &["--grace", "600"]);
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first SIGINT waits for the grace period"
    );
    signal(&child, libc::SIGINT);
    assert_eq!(wait_within(&mut child, 20).code(), Some(130));
    assert_all_gone(dir.path());
    assert!(entries(&dir.path().join("tmp")).is_empty());
}

#[test]
fn children_die_when_orchestrate_is_killed_outright() {
    let dir = tempfile::tempdir().unwrap();
    // `exec-hang` children are `sleep` itself, spawned directly by orchestrate.
    let mut child = start_hanging(dir.path(), "exec-hang", &[]);
    signal(&child, libc::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&wait_within(&mut child, 20)),
        Some(libc::SIGKILL)
    );
    assert_all_gone(dir.path());
}
