//! What children start stays contained on every system that can contain it
//! (a PID namespace on Linux, a job object per attempt on Windows): nothing
//! outlives a run killed outright, however its children's children tried
//! to leave. Run with the stand-in for reduce that builds on every system,
//! whose grandchildren leave their process group (on Windows: ask to break
//! away from the job and leave the console), are orphaned, or stay.
//! (macOS contains by process groups alone, which a child can leave:
//! `docs/guarantees.md`.)
#![cfg(not(target_os = "macos"))]

mod common;

use common::{Run, alive, eventually, example, pids, spawn_faulty};

#[test]
fn nothing_outlives_a_run_killed_outright() {
    let dir = tempfile::tempdir().unwrap();
    let pid_log = dir.path().join("pids");
    let mut run = Run(spawn_faulty(dir.path())
        .env("FAULT_ALL", "escape")
        .env("PID_LOG", &pid_log)
        .arg(example())
        .spawn()
        .unwrap());
    // Each of the 26 children and its three grandchildren log themselves
    // once they are in place.
    eventually(60, "every child and grandchild to start", || {
        pids(&pid_log).len() == 26 * 4
    });
    let started = pids(&pid_log);
    assert!(started.iter().all(|&pid| alive(pid)));
    // SIGKILL on Unix, TerminateProcess on Windows: no handler runs.
    run.0.kill().unwrap();
    run.0.wait().unwrap();
    eventually(10, "every descendant of the run to be gone", || {
        started.iter().all(|&pid| !alive(pid))
    });
}
