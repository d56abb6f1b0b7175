//! Every child program the project ships keeps the protocol: the cases of
//! `orchestrate --check-child` (written once, in `src/conformance.rs`) pass
//! for `reduce` and for the Python child, the two say the same error lines,
//! and orchestrate gets the same answer from either. A child that breaks
//! the protocol fails the check.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::orchestrate;
#[cfg(unix)]
use common::{example, input};
use predicates::prelude::*;

fn python_child() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/reduce.py")
}

/// Whether python3 is here; in CI it must be. Never on Windows, where a
/// `.py` file is not a program (and no Windows Python runs under Wine).
fn python() -> bool {
    if cfg!(windows) {
        return false;
    }
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found || !common::must_not_skip(), "python3 is missing");
    if !found {
        eprintln!("skipped: python3 is not installed");
    }
    found
}

/// Runs `orchestrate --check-child child` in `dir`, asserts that every case
/// passed, and returns what it printed.
#[track_caller]
fn passes_the_check(dir: &std::path::Path, child: &std::path::Path) -> String {
    let output = orchestrate(dir)
        .arg("--check-child")
        .arg(child)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}:\n{stdout}", child.display());
    stdout
}

#[test]
fn every_shipped_child_passes_the_protocol_check() {
    let mut children = vec![common::reduce_bin()];
    if python() {
        children.push(python_child());
    }
    let dir = tempfile::tempdir().unwrap();
    for child in children {
        let stdout = passes_the_check(dir.path(), &child);
        assert!(stdout.lines().count() >= 13);
        assert!(
            stdout.lines().all(|line| line.starts_with("ok ")),
            "{stdout}"
        );
    }
}

#[test]
fn a_child_that_breaks_the_protocol_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, problem) in [
        // In the words of a run's failure lines.
        (
            "nowrite",
            "exited successfully without writing its result file",
        ),
        ("partial", "expected digits and a newline"),
        ("exit", "exited with status 3, expected a result of 6"),
    ] {
        orchestrate(dir.path())
            .env("FAULT_ALL", mode)
            .env("REAL_REDUCE", common::reduce_bin())
            .arg("--check-child")
            .arg(common::faulty_reduce())
            .assert()
            .code(1)
            .stdout(predicate::str::contains(
                "FAIL  the worked example without a",
            ))
            .stdout(predicate::str::contains(problem));
    }
}

// A .py file is a program on Unix only (and no Windows Python runs under Wine here).
#[cfg(unix)]
#[test]
fn the_python_child_says_the_same_error_lines_as_reduce() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8]); 6] = [
        ("digit.txt", b"dab1"),
        ("tab.txt", b"ab\tc"),
        ("nul.txt", b"ab\0"),
        ("utf8.txt", "abé".as_bytes()),
        ("inner-space.txt", b"ab cd\n"),
        ("bom-quote.txt", b"\xEF\xBB\xBFab'"),
    ];
    for (name, content) in cases {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let names = cases
        .iter()
        .map(|(name, _)| *name)
        .chain(["missing.txt", "."]);
    for name in names {
        let run = |program: PathBuf| {
            Command::new(program)
                .args(["-l", "a", name])
                .current_dir(dir.path())
                .output()
                .unwrap()
        };
        let (rust, python) = (run(common::reduce_bin()), run(python_child()));
        assert_eq!(rust.status.code(), Some(1), "{name}");
        assert_eq!(python.status.code(), Some(1), "{name}");
        assert_eq!(
            String::from_utf8_lossy(&python.stderr),
            String::from_utf8_lossy(&rust.stderr),
            "{name}"
        );
    }
}

// A .py file is a program on Unix only (and no Windows Python runs under Wine here).
#[cfg(unix)]
#[test]
fn orchestrate_gets_the_same_answer_from_python_children() {
    if !python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = |child: PathBuf| -> serde_json::Value {
        let output = orchestrate(dir.path())
            .arg("--json")
            .arg("--reduce-bin")
            .arg(child)
            .arg(input("polymer-50k.txt"))
            .output()
            .unwrap();
        assert!(output.status.success());
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let (rust, python) = (json(common::reduce_bin()), json(python_child()));
    assert_eq!(python["results"], rust["results"]);
    assert_eq!(python["min_length"], 3190);
    orchestrate(dir.path())
        .arg("-q")
        .arg("--reduce-bin")
        .arg(python_child())
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
}

#[test]
fn the_check_leaves_nothing_a_child_started_running() {
    let dir = tempfile::tempdir().unwrap();
    // `daemon`: each case's child leaves a process that called setsid,
    // then does its work: the check passes, and the daemons must go.
    orchestrate(dir.path())
        .env("FAULT_ALL", "daemon")
        .env("PID_LOG", dir.path().join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--check-child")
        .arg(common::faulty_reduce())
        .assert()
        .success();
    let daemons = common::pids(&dir.path().join("pids"));
    assert_eq!(daemons.len(), 13, "one daemon per case");
    common::eventually(5, "every daemon to be gone", || {
        daemons.iter().all(|&pid| !common::alive(pid))
    });
}

#[test]
fn a_child_that_hangs_is_reported_after_one_deadline_for_all_cases() {
    let dir = tempfile::tempdir().unwrap();
    let mut check = orchestrate(dir.path());
    // The cases run at once: 20 s for all of them, not 20 s each (260 s).
    check.timeout(std::time::Duration::from_secs(60));
    check
        .env("FAULT_ALL", "hang")
        .env("PID_LOG", dir.path().join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--check-child")
        .arg(common::faulty_reduce())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("did not exit within 20 s").count(13));
    let hung = common::pids(&dir.path().join("pids"));
    assert_eq!(hung.len(), 26, "each case's child and its grandchild");
    common::eventually(5, "every hung process to be gone", || {
        hung.iter().all(|&pid| !common::alive(pid))
    });
}

#[cfg(unix)]
/// Regression: the cases' children once ran in orchestrate's folder, and
/// a refusal was judged by the last three lines of stderr only.
#[test]
fn each_case_runs_in_a_folder_of_its_own_and_is_judged_by_all_it_said() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let child = dir.path().join("chatty-reduce.sh");
    std::fs::write(
        &child,
        format!(
            "#!/bin/sh\ntouch stray\n{} \"$@\"\nstatus=$?\n\
             for i in 1 2 3 4 5; do echo \"usage: a long help line $i\" >&2; done\n\
             exit $status\n",
            common::reduce_bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&child, std::fs::Permissions::from_mode(0o755)).unwrap();
    passes_the_check(dir.path(), &child);
    assert!(
        !dir.path().join("stray").exists(),
        "a child wrote into the folder orchestrate was started in"
    );
}
