//! The promise under attack: a result counts only when it is the attempt's
//! own; children read a private snapshot, never the user's path; nothing
//! the user owns is deleted or replaced; outputs are checked before work
//! starts and devices are written in place; a closed or full stdout never
//! panics; nothing a child started outlives the run.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[cfg(unix)]
use common::mkfifo;
use common::{alive, entries, eventually, example, input, orchestrate, orchestrate_faulty, pids};
use predicates::prelude::*;

/// Runs the faulty stand-in with `FAULT_<letter>=<mode>` and expects the run
/// to fail naming that letter and `reason`, leaving nothing behind.
#[track_caller]
fn fails(letter: &str, mode: &str, reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    orchestrate_faulty(dir.path())
        .env(format!("FAULT_{letter}"), mode)
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "orchestrate: error: letter {letter}: child {reason}"
        )));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn the_result_read_is_the_one_left_when_the_child_exited() {
    // Regression: a result that was valid for a moment (`1`) was taken.
    fails(
        "c",
        "rewrite",
        "wrote a malformed result file (expected digits and a newline, found \"junk\")",
    );
}

#[test]
fn a_result_longer_than_the_polymer_handed_is_refused() {
    // Regression: u64::MAX was reported as the minimum of a 16-unit input.
    fails(
        "a",
        "huge",
        "wrote a malformed result file (18446744073709551615 units, more than the 10 it was handed)",
    );
}

// Windows has no FIFO a path names.
#[cfg(unix)]
#[test]
fn a_result_path_turned_into_a_symlink_to_a_fifo_cannot_hang_the_run() {
    // Regression: orchestrate blocked forever in open().
    fails(
        "q",
        "fifo",
        "wrote a malformed result file (a symlink, not a regular file)",
    );
}

#[test]
fn a_child_cannot_write_a_sibling_letters_result() {
    // Regression: the child for `a` wrote `b.txt` and `b` reported 1. Now
    // `a` plants a result at `b.1.txt` too (the path b's first attempt
    // would have if paths were only letter and attempt) and `b` exits 0
    // without writing its own: b must fail, not report the planted 1.
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    orchestrate_faulty(dir.path())
        .env("FAULT_a", "sibling")
        .env("FAULT_b", "planted")
        .args(["--keep-going", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "letter b: child exited successfully without writing its result file",
        ))
        .stderr(predicate::str::contains("1 of 26 letters failed"));
    assert!(
        !results.join("b.txt").exists(),
        "nothing was published for b"
    );
}

#[cfg(unix)]
#[test]
fn children_read_a_private_snapshot_never_the_users_path() {
    let dir = tempfile::tempdir().unwrap();
    let polymer = fs::read(input("polymer-50k.txt")).unwrap();
    // Regression: children re-opened /dev/stdin (empty for them) and
    // reported a minimum of 0.
    orchestrate(dir.path())
        .args(["--no-prereact", "-q", "/dev/stdin"])
        .write_stdin(polymer.clone())
        .assert()
        .success()
        .stdout("3190\n");
    // A FIFO (like `<(cat file)`) can be read once only.
    let fifo = dir.path().join("input.fifo");
    mkfifo(&fifo);
    let writer = {
        let (fifo, polymer) = (fifo.clone(), polymer.clone());
        std::thread::spawn(move || fs::write(fifo, polymer))
    };
    orchestrate(dir.path())
        .args(["--no-prereact", "-q"])
        .arg(&fifo)
        .assert()
        .success()
        .stdout("3190\n");
    writer.join().unwrap().unwrap();
}

#[test]
fn an_input_replaced_during_the_run_does_not_change_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.txt");
    fs::copy(example(), &path).unwrap();
    // Every child replaces the input before it runs; each still sees the
    // polymer orchestrate validated. (Regression: `full reaction: 10 of
    // 16` and a minimum of 0.)
    let output = orchestrate_faulty(dir.path())
        .env("REPLACE_INPUT", &path)
        .args(["--no-prereact", "--jobs", "1", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let json = common::json_of(&output.stdout);
    assert_eq!(json["min_length"], 4);
    assert_eq!(json["full_length"], 10);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "aAbB\n",
        "the input was replaced"
    );
}

#[test]
fn a_child_cannot_change_the_polymer_its_siblings_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.log");
    // Every child tries to change the polymer before its turn; one at a
    // time, so a change would reach every later child.
    orchestrate_faulty(dir.path())
        .env("FAULT_ALL", "tamper")
        .env("EVENT_LOG", &log)
        .args(["--jobs", "1", "-q"])
        .arg(input("polymer-50k.txt"))
        .assert()
        .success()
        .stdout("3190\n");
    let events = fs::read_to_string(&log).unwrap();
    let tampering: Vec<&str> = events.lines().filter(|l| l.starts_with("tamper")).collect();
    assert_eq!(tampering.len(), 26, "{events}");
    assert!(tampering.iter().all(|l| l.ends_with(" kept")), "{events}");
}

#[test]
fn two_runs_on_one_results_folder_never_mix_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let pid_log = dir.path().join("pids");
    // The first run's children hang until it is stopped (or the test
    // fails).
    let mut first = common::Run(
        common::spawn_faulty(dir.path())
            .env("FAULT_ALL", "hang")
            .env("PID_LOG", &pid_log)
            .arg("--results-dir")
            .arg(&results)
            .arg(example())
            .spawn()
            .unwrap(),
    );
    eventually(30, "the first run's children", || {
        pids(&pid_log).len() == 52
    });
    orchestrate(dir.path())
        .timeout(std::time::Duration::from_secs(120))
        .arg("--results-dir")
        .arg(&results)
        .arg(input("polymer-50k.txt"))
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "orchestrate: error: results folder {} is in use by another run of orchestrate (pid {}); \
             wait for it to end or choose another --results-dir\n",
            results.display(),
            first.id()
        ));
    #[cfg(unix)]
    {
        common::signal(&first, libc::SIGTERM);
        assert_eq!(common::wait_within(&mut first, 20).code(), Some(143));
    }
    // Windows has no SIGTERM: the first run ends outright.
    #[cfg(windows)]
    {
        first.kill().unwrap();
        first.wait().unwrap();
    }
    // Once it is over, the folder is free, and holds this run's results only.
    orchestrate(dir.path())
        .args(["-q", "--letters", "ct", "--results-dir"])
        .arg(&results)
        .arg(input("polymer-50k.txt"))
        .assert()
        .success()
        .stdout("3190\n");
    assert_eq!(entries(&results), ["c.txt", "orchestrate.json", "t.txt"]);
}

#[test]
fn a_results_folder_holds_only_the_last_runs_results() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    for letters in ["abcdef", "xy"] {
        orchestrate(dir.path())
            .args(["-q", "--letters", letters, "--results-dir"])
            .arg(&results)
            .arg(example())
            .assert()
            .success();
    }
    assert_eq!(entries(&results), ["orchestrate.json", "x.txt", "y.txt"]);
}

#[test]
fn the_input_is_never_overwritten_by_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("D");
    fs::create_dir(&results).unwrap();
    let polymer = results.join("t.txt");
    fs::copy(input("polymer-50k.txt"), &polymer).unwrap();
    let original = fs::read(&polymer).unwrap();
    // Regression: the input was deleted and `3190` left in its place.
    for extra in [&[][..], &["--no-prereact"]] {
        orchestrate(dir.path())
            .args(extra)
            .arg("--results-dir")
            .arg(&results)
            .arg(&polymer)
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "orchestrate: error: the input {} is where the result for letter t goes; \
                 move the input or choose another --results-dir\n",
                polymer.display()
            ));
    }
    // Nor through another name for the same file.
    let link = dir.path().join("link.txt");
    fs::hard_link(&polymer, &link).unwrap();
    orchestrate(dir.path())
        .arg("--results-dir")
        .arg(&results)
        .arg(&link)
        .assert()
        .code(1);
    // Nor as standard input redirected from it.
    let status = Command::new(common::orchestrate_bin())
        .env("TMPDIR", dir.path())
        .arg("--results-dir")
        .arg(&results)
        .arg("-")
        .stdin(fs::File::open(&polymer).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(fs::read(&polymer).unwrap(), original);
    assert_eq!(entries(&results), ["t.txt"], "nothing else was left there");
}

#[cfg(unix)]
#[test]
fn outputs_that_are_devices_are_written_in_place_and_their_errors_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Regression: /dev/full "succeeded", and was replaced by a regular file.
    orchestrate(dir.path())
        .args(["-q", "--joblog", "/dev/full"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("4\n")
        .stderr(predicate::str::starts_with(
            "orchestrate: error: could not write /dev/full: No space left on device",
        ));
    orchestrate(dir.path())
        .args(["-q", "--timeline", "/dev/null", "--joblog", "/dev/null"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n")
        .stderr("");
    for device in ["/dev/full", "/dev/null"] {
        let kind = fs::metadata(device).unwrap().file_type();
        assert!(
            std::os::unix::fs::FileTypeExt::is_char_device(&kind),
            "{device} is still a device"
        );
    }
    // A job log on stdout goes there, in place.
    orchestrate(dir.path())
        .args(["-q", "--joblog", "/dev/stdout"])
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::starts_with("letter\tattempts\t"))
        .stdout(predicate::str::ends_with("4\n"));
}

#[cfg(unix)]
#[test]
fn unusable_outputs_are_refused_before_any_child_starts() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.log");
    let fifo = dir.path().join("nobody-reads.fifo");
    mkfifo(&fifo);
    fs::create_dir(dir.path().join("folder")).unwrap();
    for (option, target, message) in [
        (
            "--joblog",
            "missing/log.tsv",
            "could not write missing/log.tsv",
        ),
        (
            "--timeline",
            "folder",
            "could not write folder: it is a folder",
        ),
        (
            "--joblog",
            "nobody-reads.fifo",
            "could not open nobody-reads.fifo for writing",
        ),
    ] {
        orchestrate_faulty(dir.path())
            .env("EVENT_LOG", &events)
            .args([option, target])
            .arg(example())
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::starts_with(format!(
                "orchestrate: error: {message}"
            )))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    assert!(!events.exists(), "no child was started");
}

#[test]
fn a_closed_stdout_ends_quietly_with_status_141() {
    for (program, args) in [
        (common::orchestrate_bin(), "-q"),
        (common::reduce_bin(), "-o-"),
    ] {
        let mut child = Command::new(&program)
            .arg(args)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written.
        drop(child.stdout.take());
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, b"dabAcCaCBAcCcaDA\n").unwrap();
        drop(stdin);
        let status = common::wait_within(&mut child, 30);
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(141), "{}: {stderr}", program.display());
        assert_eq!(stderr, "", "{}", program.display());
    }
}

// Windows has no /dev/full.
#[cfg(unix)]
#[test]
fn a_full_stdout_is_one_line_and_status_1() {
    for (program, option) in [
        (common::orchestrate_bin(), "-q"),
        (common::reduce_bin(), "-o-"),
    ] {
        let output = Command::new(&program)
            .arg(option)
            .arg(example())
            .stdout(
                fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}", program.display());
        assert!(
            stderr.ends_with(
                ": error: could not write to stdout: No space left on device (os error 28)\n"
            ),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn nothing_a_successful_child_started_outlives_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pid_log = dir.path().join("pids");
    // Regression: a child's setsid, double-forked daemon outlived the run.
    orchestrate_faulty(dir.path())
        .env("FAULT_m", "daemon")
        .env("PID_LOG", &pid_log)
        .arg("-q")
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    let daemons = pids(&pid_log);
    assert_eq!(daemons.len(), 1);
    eventually(10, "the daemon to be gone", || !alive(daemons[0]));
}

#[test]
fn nothing_a_timed_out_child_started_outlives_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pid_log = dir.path().join("pids");
    orchestrate_faulty(dir.path())
        .env("FAULT_b", "escape")
        .env("PID_LOG", &pid_log)
        .args(["--timeout", "3", "--letters", "abc"])
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("letter b: child timed out"));
    let pids = pids(&pid_log);
    assert_eq!(pids.len(), 4, "the child and its three grandchildren");
    eventually(10, "every descendant to be gone", || {
        pids.iter().all(|&pid| !alive(pid))
    });
}

#[cfg(unix)]
/// orchestrate on the worked example from stdin, under `limit` set to
/// `value` (and, for the process limit, as the unprivileged user `nobody`,
/// since root is exempt from it).
fn limited(limit: common::Resource, value: u64, args: &[&str]) -> (Option<i32>, String) {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // A temporary folder `nobody` may write in, checked empty afterwards.
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let mut command = Command::new(common::orchestrate_bin());
    command
        .args(args)
        .arg("-")
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if limit == libc::RLIMIT_NPROC {
        command.uid(65534).gid(65534);
    }
    // SAFETY: setrlimit is async-signal-safe and the closure allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            if libc::setrlimit(limit, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = std::io::Write::write_all(&mut stdin, b"dabAcCaCBAcCcaDA\n");
    drop(stdin);
    let status = common::wait_within(&mut child, 30);
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    // Regression: out of descriptors, the private folder was left behind.
    assert!(
        entries(tmp.path()).is_empty(),
        "left in TMPDIR: {:?} ({stderr})",
        entries(tmp.path())
    );
    (status.code(), stderr)
}

#[cfg(unix)]
#[test]
fn exhausted_resources_are_one_clear_line_and_status_1_never_a_panic() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            !common::must_not_skip(),
            "this test needs root, to run orchestrate as nobody with a process limit"
        );
        eprintln!("skipped: needs root");
        return;
    }
    // No thread can be started (the process limit counts threads).
    let (status, stderr) = limited(libc::RLIMIT_NPROC, 1, &["--mode", "thread"]);
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(
            "orchestrate: error: could not start a thread: Resource temporarily unavailable"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Too few file descriptors, at every point where they run out. Near
    // the edge (16, 20) a run may also succeed, when children end before
    // the next ones need theirs; it must then be a clean success.
    for files in [5, 10, 12, 16, 20] {
        let (status, stderr) = limited(libc::RLIMIT_NOFILE, files, &[]);
        if files > 12 && status == Some(0) {
            assert_eq!(stderr, "", "{files} files");
            continue;
        }
        assert_eq!(status, Some(1), "{files} files: {stderr}");
        assert!(
            stderr.contains("Too many open files"),
            "{files} files: {stderr}"
        );
        assert!(
            stderr
                .lines()
                .all(|line| line.starts_with("orchestrate: error: ")),
            "{files} files: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn only_folders_orchestrate_made_are_removed_and_never_with_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    // Names close to the ones orchestrate makes, but not its own.
    for name in [
        "slurm-array-old",
        ".orchestrate-mine",
        ".orchestrate-1-toolongname",
    ] {
        fs::create_dir_all(results.join(name)).unwrap();
        fs::write(results.join(name).join("keep.txt"), "mine").unwrap();
    }
    orchestrate(dir.path())
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    for name in [
        "slurm-array-old",
        ".orchestrate-mine",
        ".orchestrate-1-toolongname",
    ] {
        assert!(
            results.join(name).join("keep.txt").exists(),
            "{name} was removed"
        );
    }
    // A folder with orchestrate's name but no marker is not its own, even
    // when it holds the input.
    let named = results.join("slurm-array-123-456");
    fs::create_dir(&named).unwrap();
    fs::copy(example(), named.join("in.txt")).unwrap();
    orchestrate(dir.path())
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(named.join("in.txt"))
        .assert()
        .success()
        .stdout("4\n");
    assert!(named.join("in.txt").exists());
    // A folder an earlier run made and abandoned, holding the input deep
    // inside: refused, not removed (regression: the input's folder was
    // deleted).
    for own in [".orchestrate-1-abcdef", "slurm-array-1-2"] {
        let own = results.join(own);
        common::plant_abandoned_folder(&own);
        let deep = own.join("x/y");
        fs::create_dir_all(&deep).unwrap();
        fs::copy(example(), deep.join("in.txt")).unwrap();
        orchestrate(dir.path())
            .arg("--results-dir")
            .arg(&results)
            .arg(deep.join("in.txt"))
            .assert()
            .code(1)
            .stderr(predicate::str::contains("the input is inside"));
        assert!(deep.join("in.txt").exists());
        // Without the input in it, it goes.
        orchestrate(dir.path())
            .args(["-q", "--results-dir"])
            .arg(&results)
            .arg(example())
            .assert()
            .success();
        assert!(!own.exists(), "{} was left", own.display());
    }
}

#[cfg(unix)]
#[test]
fn a_record_that_is_a_fifo_cannot_hang_a_resumed_run() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    fs::create_dir(&results).unwrap();
    mkfifo(&results.join("orchestrate.json"));
    orchestrate(dir.path())
        .args(["--resume", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "is not a record this version of orchestrate can read",
        ));
}

/// A copy of the worked example in `dir`, with a symlink and a hard link
/// to it.
#[cfg(unix)]
fn input_with_links(dir: &Path) -> PathBuf {
    let input = dir.join("in.txt");
    fs::copy(example(), &input).unwrap();
    std::os::unix::fs::symlink("in.txt", dir.join("link.txt")).unwrap();
    fs::hard_link(&input, dir.join("hard.txt")).unwrap();
    input
}

/// A copy of the worked example in `dir`, with a hard link to it. (No
/// symlink: Windows lets only some users make one, and Wine says it made
/// one but makes nothing.)
#[cfg(windows)]
fn input_with_links(dir: &Path) -> PathBuf {
    let input = dir.join("in.txt");
    fs::copy(example(), &input).unwrap();
    fs::hard_link(&input, dir.join("hard.txt")).unwrap();
    input
}

/// The names [`input_with_links`] gives the input.
const INPUT_NAMES: &[&str] = if cfg!(windows) {
    &["in.txt", "hard.txt"]
} else {
    &["in.txt", "link.txt", "hard.txt"]
};

#[track_caller]
fn refused_untouched(dir: &Path, output: std::process::Output, says: &str) {
    let mut before: Vec<String> = INPUT_NAMES.iter().map(|name| name.to_string()).collect();
    before.sort();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(
        fs::read(dir.join("in.txt")).unwrap(),
        fs::read(example()).unwrap()
    );
    assert_eq!(common::entries(dir), before, "nothing was written");
}

#[test]
fn no_output_of_orchestrate_ever_lands_on_its_input() {
    for output in ["--joblog", "--timeline"] {
        for name in INPUT_NAMES {
            let dir = tempfile::tempdir().unwrap();
            let input = input_with_links(dir.path());
            let run = Command::new(common::orchestrate_bin())
                .current_dir(dir.path())
                .env("TMPDIR", dir.path())
                .arg(output)
                .arg(name)
                .arg(&input)
                .output()
                .unwrap();
            refused_untouched(dir.path(), run, &format!("{output} {name} is the input"));
        }
    }
    // Nor from standard input.
    let dir = tempfile::tempdir().unwrap();
    let input = input_with_links(dir.path());
    let run = Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .args(["--joblog", "hard.txt", "-"])
        .stdin(fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    refused_untouched(dir.path(), run, "--joblog hard.txt is the input");
}

#[test]
fn two_outputs_of_orchestrate_on_one_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = input_with_links(dir.path());
    let run = Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .args(["--joblog", "out.tsv", "--timeline", "./out.tsv"])
        .arg(&input)
        .output()
        .unwrap();
    refused_untouched(dir.path(), run, "are the same file");
    // A job log where a result is to be published.
    let run = Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .args(["--joblog", "./a.txt", "--results-dir", "."])
        .arg(&input)
        .output()
        .unwrap();
    refused_untouched(
        dir.path(),
        run,
        &format!(
            "--joblog ./a.txt and the result for letter a {} are the same file",
            Path::new(".").join("a.txt").display()
        ),
    );
}

#[test]
fn reduce_never_writes_its_result_on_its_input() {
    for name in INPUT_NAMES {
        let dir = tempfile::tempdir().unwrap();
        input_with_links(dir.path());
        let run = Command::new(common::reduce_bin())
            .current_dir(dir.path())
            .args(["--letter", "a", "--output", name, "in.txt"])
            .output()
            .unwrap();
        refused_untouched(dir.path(), run, &format!("--output {name} is the input"));
        let run = Command::new(common::reduce_bin())
            .current_dir(dir.path())
            .args(["--letter", "a", "--output", name, "-"])
            .stdin(fs::File::open(dir.path().join("in.txt")).unwrap())
            .output()
            .unwrap();
        refused_untouched(dir.path(), run, "is the input");
    }
}

#[cfg(unix)]
#[test]
fn a_results_folder_swapped_during_a_run_is_never_touched_through_its_old_name() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    for name in ["a.txt", "c.txt", "t.txt", "z.txt"] {
        fs::write(other.join(name), "a user's file\n").unwrap();
    }
    let events = dir.path().join("events");
    let gate = dir.path().join("gate");
    let child = Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .env("EVENT_LOG", &events)
        .env("GATE", &gate)
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--reduce-bin")
        .arg(common::fixture("faulty-reduce.sh"))
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(example())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually(30, "every child to start", || {
        fs::read_to_string(&events).is_ok_and(|log| log.lines().count() == 26)
    });
    // The folder is renamed, and its name made a symlink to another.
    let moved = dir.path().join("moved");
    fs::rename(&results, &moved).unwrap();
    std::os::unix::fs::symlink(&other, &results).unwrap();
    fs::write(&gate, "").unwrap();
    let (status, stdout) = common::stdout_within(child, 30);
    assert!(status.success());
    assert_eq!(stdout, "4\n");
    assert_eq!(
        entries(&other),
        ["a.txt", "c.txt", "t.txt", "z.txt"],
        "nothing was added to the other folder"
    );
    for name in ["a.txt", "c.txt", "t.txt", "z.txt"] {
        assert_eq!(
            fs::read_to_string(other.join(name)).unwrap(),
            "a user's file\n"
        );
    }
    let published = entries(&moved);
    assert_eq!(
        published.len(),
        27,
        "26 results and the record: {published:?}"
    );
    assert_eq!(fs::read_to_string(moved.join("c.txt")).unwrap(), "4\n");
}
