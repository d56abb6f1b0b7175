//! The `orchestrate` binary with real child processes: answers in every
//! output format, input rules, and every way a child can fail.

mod common;

use common::json_of;

use std::fs;

#[cfg(unix)]
use common::fixture;
use common::{entries, example, input, orchestrate, orchestrate_faulty};
use predicates::prelude::*;

#[test]
fn orchestrate_reports_the_worked_example_minimum_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "minimum: 4 units, after removing c/C\n",
        ))
        .stderr("");
    orchestrate(dir.path())
        .arg("-q")
        .arg(example())
        .assert()
        .success()
        .stdout("4\n")
        .stderr("");
    let output = orchestrate(dir.path())
        .arg("--json")
        .arg(example())
        .output()
        .unwrap();
    assert!(output.status.success());
    let json = json_of(&output.stdout);
    assert_eq!(json["min_length"], 4);
    assert_eq!(json["best_letter"], "c");
    assert_eq!(json["full_length"], 10);
    let results = json["results"].as_object().unwrap();
    assert_eq!(results.len(), 26);
    for (letter, expected) in [("a", 6), ("b", 8), ("c", 4), ("d", 6), ("e", 10), ("z", 10)] {
        assert_eq!(results[letter], expected, "letter {letter}");
    }
    assert!(json["elapsed_ms"].as_f64().unwrap() > 0.0);
    assert!(
        entries(dir.path()).is_empty(),
        "no temporary files are left behind"
    );
}

#[test]
fn orchestrate_finds_the_shipped_50k_minimum_with_and_without_prereaction() {
    let dir = tempfile::tempdir().unwrap();
    let polymer = input("polymer-50k.txt");
    for extra in [&[][..], &["--no-prereact"], &["--jobs", "2"]] {
        let output = orchestrate(dir.path())
            .args(extra)
            .arg("--json")
            .arg(&polymer)
            .output()
            .unwrap();
        assert!(output.status.success(), "{extra:?}");
        let json = json_of(&output.stdout);
        assert_eq!(
            (json["min_length"].as_u64(), json["best_letter"].as_str()),
            (Some(3190), Some("t"))
        );
        assert_eq!(json["full_length"], 9848);
        assert_eq!(json["results"]["a"], 9490);
    }
    orchestrate(dir.path())
        .arg("-q")
        .arg(&polymer)
        .assert()
        .success()
        .stdout("3190\n");
    orchestrate(dir.path())
        .arg(&polymer)
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "minimum: 3190 units, after removing t/T\n(full reaction: 9848 of 50000 units",
        ));
    assert!(entries(dir.path()).is_empty());
}

/// The children's copy of the polymer is written while the input is read,
/// chunk by chunk: here the middle of the input cancels back across more
/// than a MiB of what was already written (and the copy is cut), and every
/// child still gets the reacted polymer (a debug build also compares the
/// copy with it).
#[test]
fn orchestrate_hands_children_the_reacted_polymer_when_chunks_cancel_back() {
    use polymer_fanout::polymer::{generate, solve};
    let dir = tempfile::tempdir().unwrap();
    let n = 600_000;
    let mut raw = generate::polymer(300_000, 7);
    raw.extend(b"aB".repeat(n).iter().chain(&b"bA".repeat(n)));
    raw.extend(generate::polymer(300_000, 8));
    let expected = solve(raw.clone()).unwrap();
    let path = dir.path().join("polymer.txt");
    fs::write(&path, &raw).unwrap();
    for source in [&["-"][..], &[path.to_str().unwrap()]] {
        let output = orchestrate(dir.path())
            .args(["--json", "--letters", "abct"])
            .args(source)
            .write_stdin(raw.clone())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json = json_of(&output.stdout);
        assert_eq!(json["full_length"], expected.full_length);
        for (letter, k) in [("a", 0), ("b", 1), ("c", 2), ("t", 19)] {
            assert_eq!(json["results"][letter], expected.lengths[k], "{letter}");
        }
    }
    fs::remove_file(&path).unwrap();
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn orchestrate_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--no-prereact"]] {
        orchestrate(dir.path())
            .args(extra)
            .args(["-q", "-"])
            .write_stdin("\u{feff}dabAcCaCBAcCcaDA\r\n")
            .assert()
            .success()
            .stdout("4\n");
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn orchestrate_tries_only_the_letters_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let output = orchestrate(dir.path())
        .args(["--json", "--letters", "DaDb"])
        .arg(example())
        .output()
        .unwrap();
    let json = json_of(&output.stdout);
    assert_eq!(json["results"], serde_json::json!({"a": 6, "b": 8, "d": 6}));
    assert_eq!(
        json["best_letter"], "a",
        "ties go to the alphabetically first letter"
    );
}

#[test]
fn orchestrate_rejects_bad_input_before_spawning_any_child() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("input.txt"), "dab1").unwrap();
    let events = dir.path().join("events.log");
    orchestrate_faulty(dir.path())
        .env("EVENT_LOG", &events)
        .arg("input.txt")
        .assert()
        .code(1)
        .stdout("")
        .stderr("orchestrate: error: input.txt: byte offset 3: '1' is not a polymer unit (expected A-Z or a-z)\n");
    orchestrate_faulty(dir.path())
        .env("EVENT_LOG", &events)
        .arg("missing.txt")
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "orchestrate: error: could not read missing.txt: ",
        ));
    assert!(!events.exists(), "no child may be spawned");
    assert_eq!(entries(dir.path()), ["input.txt"]);
}

#[test]
fn orchestrate_rejects_usage_errors_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--jobs", "0"][..],
        &["--letters", "a1"],
        &["--letters", ""],
        &["--timeout", "-1"],
        &["--timeout", "soon"],
        &["--quiet", "--json"],
        &["--retries", "-1"],
    ]
    .into_iter()
    // Unbalanced quotes are an error in a POSIX shell's words only
    // (Windows' rules quote to the end of the line).
    .chain(cfg!(unix).then_some(&["--launcher", "nice 'unbalanced"][..]))
    {
        orchestrate(dir.path())
            .args(args)
            .arg(example())
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("error:"));
    }
}

#[test]
fn orchestrate_reports_a_missing_child_program_before_spawning() {
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .args(["--reduce-bin", "./no-such-reduce"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr("orchestrate: error: --reduce-bin ./no-such-reduce: no such program\n");
    // Without --reduce-bin, orchestrate looks beside itself, then on PATH.
    let lonely = dir.path().join("lonely");
    fs::create_dir(&lonely).unwrap();
    fs::copy(common::orchestrate_bin(), lonely.join("orchestrate")).unwrap();
    assert_cmd::Command::new(lonely.join("orchestrate"))
        .env("PATH", &lonely)
        .arg(example())
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "could not find the `reduce` program",
        ))
        .stderr(predicate::str::contains("--reduce-bin"));
}

// macOS starts a program that is open for writing (no ETXTBSY there).
#[cfg(any(target_os = "linux", windows))]
#[test]
fn orchestrate_tries_a_start_the_system_refuses_for_the_moment_again_then_says_how_often() {
    // A program being written cannot be started (Linux: "Text file busy";
    // Windows: a sharing violation), a refusal that passes once the writer
    // is done; held open for the whole run, every try is refused.
    let dir = tempfile::tempdir().unwrap();
    let program = dir
        .path()
        .join(format!("busy-reduce{}", std::env::consts::EXE_SUFFIX));
    fs::copy(common::reduce_bin(), &program).unwrap();
    let mut writing = fs::OpenOptions::new();
    writing.write(true);
    #[cfg(windows)]
    std::os::windows::fs::OpenOptionsExt::share_mode(&mut writing, 0);
    let _writer = writing.open(&program).unwrap();
    let busy = common::os_error(26, 32);
    orchestrate(dir.path())
        .arg("--reduce-bin")
        .arg(&program)
        .args(["--letters", "a"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "letter a: child could not be started: {busy} (tried 5 times)"
        )));
}

/// Runs the faulty stand-in with `FAULT_<letter>=<mode>` and expects the run
/// to fail naming that letter and `reason`.
#[track_caller]
fn fails(letter: &str, mode: &str, extra: &[&str], reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    orchestrate_faulty(dir.path())
        .env(format!("FAULT_{letter}"), mode)
        .args(extra)
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "orchestrate: error: letter {letter}: child {reason}"
        )))
        .stderr(predicate::str::ends_with("no minimum reported\n"));
    assert!(
        entries(dir.path()).is_empty(),
        "temporary files are removed after a failure"
    );
}

#[test]
fn orchestrate_reports_a_child_that_exits_non_zero_with_its_stderr() {
    fails(
        "c",
        "exit",
        &[],
        "exited with status 3; its stderr ends: reduce: simulated failure for c",
    );
}

// Windows has no signals.
#[cfg(unix)]
#[test]
fn orchestrate_reports_a_child_killed_by_a_signal() {
    fails("q", "signal", &[], "killed by signal 11 (SIGSEGV)");
}

#[test]
fn orchestrate_reports_a_child_that_dies_without_a_result() {
    fails(
        "a",
        "nowrite",
        &[],
        "exited successfully without writing its result file",
    );
}

#[test]
fn orchestrate_reports_a_garbage_result_file() {
    fails(
        "z",
        "garbage",
        &[],
        "wrote a malformed result file (expected digits and a newline, found \"not a number\\n\")",
    );
}

#[test]
fn orchestrate_reports_a_result_file_without_its_newline() {
    fails(
        "m",
        "partial",
        &[],
        "wrote a malformed result file (expected digits and a newline, found \"12\")",
    );
}

#[test]
fn orchestrate_stops_a_child_past_its_timeout() {
    fails(
        "b",
        "hang",
        // Long enough for the other children to end: on Windows, where
        // starting a process is slow (each of them starts two), only one
        // other, and more time.
        match cfg!(windows) {
            true => &["--timeout", "10", "--letters", "ab"],
            false => &["--timeout", "0.3"],
        },
        "timed out and was stopped",
    );
}

#[test]
fn orchestrate_reports_a_child_that_cannot_be_started() {
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .args(["--launcher", "/no/such/launcher"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::is_match("letter [a-z]: child could not be started: ").unwrap())
        .stderr(predicate::str::contains(common::os_error(2, 3)));
}

#[test]
fn orchestrate_stops_the_other_children_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    // Every other child would hang forever: the run only ends because the
    // failure of `k` stops them.
    orchestrate_faulty(dir.path())
        .env("FAULT_ALL", "hang")
        .env("PID_LOG", dir.path().join("pids"))
        .env("FAULT_k", "exit")
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "letter k: child exited with status 3",
        ))
        .stderr(predicate::str::contains(
            "1 of 26 letters failed (25 more cancelled or never started",
        ))
        .stderr(predicate::str::contains("timed out").not());
    let pids = common::pids(&dir.path().join("pids"));
    common::eventually(10, "every hanging child to be gone", || {
        pids.iter().all(|&pid| !common::alive(pid))
    });
}

#[test]
fn orchestrate_keep_going_runs_every_letter_and_reports_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.log");
    orchestrate_faulty(dir.path())
        .env("FAULT_b", "exit")
        .env("FAULT_y", "nowrite")
        .env("EVENT_LOG", &events)
        .args(["--keep-going", "--jobs", "3"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "letter b: child exited with status 3",
        ))
        .stderr(predicate::str::contains(
            "letter y: child exited successfully without writing",
        ))
        .stderr(predicate::str::contains(
            "orchestrate: error: 2 of 26 letters failed; no minimum reported",
        ));
    let starts = fs::read_to_string(&events)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("start"))
        .count();
    assert_eq!(starts, 26);
}

#[test]
fn orchestrate_retries_a_failed_letter() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    orchestrate_faulty(dir.path())
        .env("FAULT_c", "flaky")
        .env("STATE_DIR", state.path())
        .args(["--retries", "1", "-q"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n")
        .stderr("orchestrate: warning: letter c: child exited with status 1 (attempt 1; retried); its stderr ends: reduce: transient failure for c\n");
    // The same flakiness without a retry fails the run.
    let state = tempfile::tempdir().unwrap();
    orchestrate_faulty(dir.path())
        .env("FAULT_c", "flaky")
        .env("STATE_DIR", state.path())
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "letter c: child exited with status 1",
        ));
}

#[test]
fn orchestrate_never_counts_a_stale_result_file() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    // An earlier run's results, tampered with.
    orchestrate(dir.path())
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success();
    for letter in 'a'..='z' {
        fs::write(results.join(format!("{letter}.txt")), "0\n").unwrap();
    }
    fs::write(results.join("unrelated.txt"), "keep me\n").unwrap();
    // The child for `c` writes nothing: the stale `0` must not stand in.
    orchestrate_faulty(dir.path())
        .env("FAULT_c", "nowrite")
        .arg("--results-dir")
        .arg(&results)
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "letter c: child exited successfully without writing",
        ));
    assert!(!results.join("c.txt").exists());
    // A good run leaves this run's results there, and touches nothing else.
    orchestrate(dir.path())
        .args(["-q", "--letters", "abc", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    assert_eq!(fs::read_to_string(results.join("c.txt")).unwrap(), "4\n");
    assert_eq!(fs::read_to_string(results.join("a.txt")).unwrap(), "6\n");
    assert_eq!(
        fs::read_to_string(results.join("unrelated.txt")).unwrap(),
        "keep me\n"
    );
    assert_eq!(
        entries(&results),
        [
            "a.txt",
            "b.txt",
            "c.txt",
            "orchestrate.json",
            "unrelated.txt"
        ],
        "the run's private folder, with the children's polymer, is removed"
    );
}

#[test]
fn orchestrate_jobs_limits_how_many_children_are_alive_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.log");
    orchestrate_faulty(dir.path())
        .env("EVENT_LOG", &events)
        .env("SLOW", "0.02")
        .args(["--jobs", "2", "-q"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    let log = fs::read_to_string(&events).unwrap();
    let (mut alive, mut most) = (0i32, 0i32);
    for line in log.lines() {
        alive += if line.starts_with("start") { 1 } else { -1 };
        most = most.max(alive);
    }
    assert_eq!(log.lines().count(), 52);
    assert_eq!(most, 2, "event log:\n{log}");
}

// The launchers here are shell scripts.
#[cfg(unix)]
#[test]
fn orchestrate_runs_children_through_the_launcher_with_the_protocol_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let launches = dir.path().join("launches.log");
    let results = dir.path().join("results");
    orchestrate(dir.path())
        .env("LAUNCH_LOG", &launches)
        .arg("--launcher")
        .arg(format!("{} ", fixture("logging-launcher.sh").display()))
        .arg("--results-dir")
        .arg(&results)
        .args(["-q"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    let log = fs::read_to_string(&launches).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 26);
    let reduce = common::reduce_bin();
    // Each attempt writes into the run's private folder, beside the
    // children's snapshot of the polymer: in the temporary folder, since a
    // launcher that is not srun runs children on this machine (the
    // results folder is written by orchestrate alone).
    for (line, letter) in lines.iter().zip('a'..='z') {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), 7, "{line}");
        assert_eq!(words[0], reduce.to_str().unwrap());
        assert_eq!(&words[1..4], ["--letter", &letter.to_string(), "--output"]);
        let private = std::path::Path::new(words[4]).parent().unwrap();
        assert_eq!(private.parent(), Some(dir.path()), "{line}");
        assert!(
            private
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("orchestrate-"),
            "{line}"
        );
        let name = std::path::Path::new(words[4])
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            name.starts_with(&format!("{letter}.1.")) && name.ends_with(".txt"),
            "a result path of the attempt's own: {line}"
        );
        assert_eq!(words[5], "--quiet");
        assert_eq!(words[6], private.join("polymer.txt").to_str().unwrap());
    }
    assert_eq!(
        fs::read_to_string(results.join("c.txt")).unwrap(),
        "4\n",
        "orchestrate publishes the checked results"
    );
    orchestrate(dir.path())
        .args(["--launcher", "nice -n 5", "-q"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
}

#[test]
fn two_runs_at_once_in_the_same_directory_do_not_disturb_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = |path: std::path::PathBuf| {
        std::process::Command::new(common::orchestrate_bin())
            .current_dir(dir.path())
            .env("TMPDIR", dir.path())
            .arg("-q")
            .arg(path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn(example());
    let second = spawn(input("polymer-50k.txt"));
    let (first_status, first) = common::stdout_within(first, 60);
    let (second_status, second) = common::stdout_within(second, 60);
    assert!(first_status.success() && second_status.success());
    assert_eq!(first, "4\n");
    assert_eq!(second, "3190\n");
}

// The launchers here are shell scripts.
#[cfg(unix)]
#[test]
fn under_srun_the_timeout_counts_from_the_start_of_the_work() {
    // Regression: a child held 3 s in srun's queue was timed out after 2 s,
    // before it had started. (A stand-in srun that only queues.)
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .env("QUEUE_DELAY", "3")
        .arg("--launcher")
        .arg(fixture("fake-slurm/srun"))
        .args(["-q", "--timeout", "2", "--letters", "abc"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
}

// The launchers here are shell scripts.
#[cfg(unix)]
#[test]
fn under_another_launcher_the_timeout_counts_from_the_spawn() {
    // A launcher that is not a scheduler gets no grace: a child that never
    // starts its work is still stopped in time.
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .env("QUEUE_DELAY", "1000")
        .arg("--launcher")
        .arg(fixture("queueing-launcher.sh"))
        .args(["--timeout", "0.5", "--letters", "a"])
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("letter a: child timed out"));
}
