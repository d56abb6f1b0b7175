//! The promises against a hostile user and a hostile neighbour: nothing is
//! deleted that the run did not make, nothing planted can block or redirect
//! a run, a record is never trusted with what reaches Slurm, and `--status`
//! reads nothing outside its folder.
#![cfg(unix)]

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
        // Ids that are options or tasks, beside a plain one: not a record
        // orchestrate wrote, so the run refuses to replace it.
        (
            r#"{"job_id": "--partition=gpu_a1", "tasks": ["a.1"]},
               {"job_id": "777_3", "tasks": ["b.1"]}, {"job_id": "778", "tasks": ["c.1"]}"#,
            false,
        ),
        // Plain numbers: still not named while the queue does not say they
        // are the array's.
        (
            r#"{"job_id": "777", "tasks": ["a.1"]}, {"job_id": "778", "tasks": ["c.1"]}"#,
            true,
        ),
    ];
    for (jobs, readable) in forged {
        let dir = tempfile::tempdir().unwrap();
        let bin = silent_slurm(dir.path());
        let results = dir.path().join("rd");
        fs::create_dir(&results).unwrap();
        fs::write(results.join("orchestrate.json"), record_with_jobs(jobs)).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let run = orchestrate(dir.path())
            .env("PATH", path)
            .args(["-q", "--results-dir", "rd"])
            .arg(example())
            .assert();
        assert!(
            !dir.path().join("scancel.log").exists(),
            "scancel ran for {jobs}: {:?}",
            fs::read_to_string(dir.path().join("scancel.log"))
        );
        if readable {
            run.success().stdout("4\n");
            assert_eq!(entries(&results).len(), 27, "26 results and the record");
        } else {
            run.code(1).stdout("").stderr(format!(
                "orchestrate: error: {}/orchestrate.json is not a record this version of orchestrate can read, \
                 so it is not this run's to replace; remove it or choose another \
                 --results-dir\n",
                results.display()
            ));
            assert_eq!(entries(&results), ["orchestrate.json"]);
        }
    }
}

#[test]
fn a_run_removes_no_file_that_only_looks_like_one_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let rd = dir.path().join("rd");
    fs::create_dir(&rd).unwrap();
    fs::write(rd.join(".partial-notes.txt"), "notes\n").unwrap();
    fs::copy(example(), rd.join(".partial-in.txt")).unwrap();
    for input in [example(), rd.join(".partial-in.txt")] {
        orchestrate(dir.path())
            .args(["-q", "--results-dir", "rd"])
            .arg(&input)
            .assert()
            .success()
            .stdout("4\n");
        assert_eq!(
            fs::read_to_string(rd.join(".partial-notes.txt")).unwrap(),
            "notes\n"
        );
        assert!(rd.join(".partial-in.txt").exists(), "the input was removed");
    }
    let mut left = entries(&rd);
    left.retain(|name| !name.ends_with(".txt") || name.starts_with('.'));
    assert_eq!(
        left,
        [".partial-in.txt", ".partial-notes.txt", "orchestrate.json"],
        "nothing of the run's own is left but its results"
    );
}

#[test]
fn a_job_log_inside_the_results_folder_is_written() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rd")).unwrap();
    orchestrate(dir.path())
        .args(["-q", "--results-dir", "rd", "--joblog", "rd/log.tsv"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    let log = fs::read_to_string(dir.path().join("rd/log.tsv")).unwrap();
    assert_eq!(log.lines().count(), 27, "a header and 26 letters:\n{log}");
}

#[test]
fn a_fifo_planted_as_a_dead_runs_marker_cannot_block_a_run() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "orchestrate-x",
        "orchestrate-abcdef",
        ".orchestrate-new-abcdef",
    ] {
        let planted = dir.path().join(name);
        fs::create_dir(&planted).unwrap();
        common::mkfifo(&planted.join(".orchestrate-marker"));
        common::mkfifo(&planted.join(".orchestrate-lock"));
    }
    orchestrate(dir.path())
        .timeout(std::time::Duration::from_secs(30))
        .arg("-q")
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    for name in [
        "orchestrate-x",
        "orchestrate-abcdef",
        ".orchestrate-new-abcdef",
    ] {
        assert!(
            dir.path().join(name).exists(),
            "{name} is not the run's own"
        );
    }
}

#[test]
fn a_killed_runs_folder_goes_and_a_live_ones_stays() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("orchestrate-dead01");
    common::plant_abandoned_folder(&dead);
    fs::write(dead.join("polymer.txt"), "aA\n").unwrap();
    let live = dir.path().join("orchestrate-live01");
    common::plant_abandoned_folder(&live);
    // Its run lives: it holds the marker's lock, until told to stop.
    let mut holder = std::process::Command::new("flock")
        .arg(live.join(".orchestrate-marker"))
        .args(["sh", "-c", "echo locked; read line"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut said,
    )
    .unwrap();
    assert_eq!(said, "locked\n");
    orchestrate(dir.path())
        .arg("-q")
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    assert!(!dead.exists(), "the killed run's folder was left");
    assert!(live.exists(), "the live run's folder was removed");
    drop(holder.stdin.take());
    holder.wait().unwrap();
}

/// Runs `program` with `args` in `dir` (TMPDIR there too) under the
/// resource limit `resource` = `value`; its exit code and stderr.
fn under_limit(
    program: &Path,
    dir: &Path,
    resource: common::Resource,
    value: u64,
    args: &[&std::ffi::OsStr],
) -> (Option<i32>, String, String) {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(program);
    command.current_dir(dir).env("TMPDIR", dir).args(args);
    // SAFETY: only setrlimit, which is async-signal-safe, between fork and
    // exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            match libc::setrlimit(resource, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let output = command.stdin(std::process::Stdio::null()).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Everything in `dir` but `keep`.
fn left_in(dir: &Path, keep: &[&str]) -> Vec<String> {
    let mut left = entries(dir);
    left.retain(|name| !keep.contains(&name.as_str()));
    left
}

#[test]
fn a_file_size_limit_is_one_line_and_status_1_with_nothing_left() {
    let dir = tempfile::tempdir().unwrap();
    let example = example();
    let (code, stdout, stderr) = under_limit(
        &common::reduce_bin(),
        dir.path(),
        libc::RLIMIT_FSIZE,
        0,
        &[
            "-q".as_ref(),
            "-l".as_ref(),
            "a".as_ref(),
            "-o".as_ref(),
            "out.txt".as_ref(),
            example.as_os_str(),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "reduce: error: could not write out.txt: File too large (os error 27)\n"
    );
    assert_eq!(left_in(dir.path(), &[]), Vec::<String>::new());
    for extra in [&["--results-dir", "rd"][..], &["--launcher", "env"], &[]] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["-q".as_ref()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        args.push(example.as_os_str());
        let (code, stdout, stderr) = under_limit(
            &common::orchestrate_bin(),
            dir.path(),
            libc::RLIMIT_FSIZE,
            0,
            &args,
        );
        assert_eq!(code, Some(1), "{extra:?}: {stderr}");
        assert_eq!(stdout, "");
        assert_eq!(stderr.lines().count(), 1, "{extra:?}: {stderr}");
        assert!(
            stderr.starts_with("orchestrate: error: ") && stderr.contains("File too large"),
            "{extra:?}: {stderr}"
        );
        let mut left = left_in(dir.path(), &["rd"]);
        left.extend(entries(&dir.path().join("rd")));
        assert_eq!(left, Vec::<String>::new(), "{extra:?}");
    }
}

#[test]
fn an_address_space_limit_gives_the_answer_or_one_line_and_status_1_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    // 4 MB of letters that barely react: every mode needs a few copies.
    let input = dir.path().join("in.txt");
    fs::write(&input, letters(4 << 20, 0x2545_f491_4f6c_dd1d)).unwrap();
    let expected = orchestrate(dir.path())
        .args(["-q", "--mode", "sweep"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(expected.status.success());
    let expected = String::from_utf8(expected.stdout).unwrap();
    let work = dir.path().join("work");
    fs::create_dir(&work).unwrap();
    let mut outcomes = Vec::new();
    for mode in ["thread", "sweep", "serial", "process"] {
        for megabytes in [12u64, 16, 20, 24, 32, 256] {
            let (code, stdout, stderr) = under_limit(
                &common::orchestrate_bin(),
                &work,
                libc::RLIMIT_AS,
                megabytes << 20,
                &[
                    "-q".as_ref(),
                    "--mode".as_ref(),
                    mode.as_ref(),
                    input.as_os_str(),
                ],
            );
            let what = format!("--mode {mode} under {megabytes} MB");
            match code {
                Some(0) => assert_eq!(stdout, expected, "{what}"),
                Some(1) => {
                    assert_eq!(stdout, "", "{what}");
                    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
                    assert!(
                        stderr.starts_with("orchestrate: error: "),
                        "{what}: {stderr}"
                    );
                    assert!(
                        stderr.contains("out of memory")
                            || stderr.contains("Cannot allocate memory")
                            || stderr.contains("could not start a thread"),
                        "{what}: {stderr}"
                    );
                }
                other => panic!("{what}: exit {other:?}: {stderr}"),
            }
            assert_eq!(left_in(&work, &[]), Vec::<String>::new(), "{what}");
            outcomes.push((mode, megabytes, code));
        }
    }
    // The range spans both sides of the working set.
    for mode in ["thread", "sweep", "serial", "process"] {
        let codes: Vec<_> = outcomes
            .iter()
            .filter(|o| o.0 == mode)
            .map(|o| o.2)
            .collect();
        assert!(
            codes.contains(&Some(1)) && codes.contains(&Some(0)),
            "{mode}: {outcomes:?}"
        );
    }
}

/// The pids `dir`'s PID_LOG holds once every `regroup` child of `count`
/// has left its process group (each child and its helper log theirs).
fn await_regrouped(dir: &Path, count: usize) -> Vec<i32> {
    let log = dir.join("pids");
    common::eventually(30, "every child to have left its process group", || {
        fs::read_to_string(dir.join("pids.regrouped"))
            .is_ok_and(|left| left.lines().count() == count)
    });
    let pids = common::pids(&log);
    assert_eq!(pids.len(), 2 * count);
    pids
}

#[track_caller]
fn assert_all_dead(pids: &[i32]) {
    common::eventually(10, "every process the attempts started to be gone", || {
        pids.iter().all(|&pid| !common::alive(pid))
    });
}

/// `orchestrate` whose children leave their process groups.
fn regrouping(dir: &Path) -> std::process::Command {
    let mut command = common::spawn_faulty_script(dir);
    command
        .env("FAULT_ALL", "regroup")
        .env("PID_LOG", dir.join("pids"))
        .stderr(std::process::Stdio::piped());
    command
}

#[test]
fn a_child_that_left_its_process_group_is_stopped_by_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = regrouping(dir.path())
        .args(["--timeout", "2", "--letters", "ab"])
        .arg(example())
        .spawn()
        .unwrap();
    let pids = await_regrouped(dir.path(), 2);
    let status = common::wait_within(&mut run, 30);
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("letter a: child timed out"), "{stderr}");
    assert_all_dead(&pids);
}

#[test]
fn a_child_that_left_its_process_group_is_stopped_by_a_stop_signal() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = regrouping(dir.path()).arg(example()).spawn().unwrap();
    let pids = await_regrouped(dir.path(), 26);
    common::signal(&run, libc::SIGINT);
    let status = common::wait_within(&mut run, 30);
    assert_eq!(status.code(), Some(128 + libc::SIGINT));
    assert_all_dead(&pids);
    assert_eq!(
        entries(dir.path())
            .iter()
            .filter(|n| n.starts_with("orchestrate-"))
            .count(),
        0
    );
}

#[test]
fn a_checked_child_that_left_its_process_group_is_stopped_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = std::process::Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .env("REAL_REDUCE", common::reduce_bin())
        .env("FAULT_ALL", "regroup")
        .env("PID_LOG", dir.path().join("pids"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .arg("--check-child")
        .arg(common::fixture("faulty-reduce.sh"))
        .spawn()
        .unwrap();
    let pids = await_regrouped(dir.path(), 13);
    // One deadline for all cases (20 s), then each case is stopped.
    let status = common::wait_within(&mut run, 60);
    assert_eq!(status.code(), Some(1));
    assert_all_dead(&pids);
}

/// `orchestrate --status` of `rd` in `dir`, with Slurm's commands those
/// of `bin`; its JSON.
fn status_json(dir: &Path, bin: &Path) -> serde_json::Value {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = orchestrate(dir)
        .env("PATH", path)
        .args(["--status", "--json", "--results-dir", "rd"])
        .output()
        .unwrap();
    common::assert_success(&output);
    common::json_of(&output.stdout)
}

#[test]
fn status_reads_nothing_through_a_link_out_of_the_results_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bin = silent_slurm(dir.path());
    let rd = dir.path().join("rd");
    fs::create_dir(&rd).unwrap();
    fs::write(
        rd.join("orchestrate.json"),
        record_with_jobs(r#"{"job_id": "777", "tasks": ["a.1", "b.1"]}"#),
    )
    .unwrap();
    // The array's folder is a link to forged task files elsewhere.
    let forged = dir.path().join("forged");
    fs::create_dir(&forged).unwrap();
    for letter in ["a", "b"] {
        fs::write(forged.join(format!("{letter}.1.status")), "0\n").unwrap();
        fs::write(forged.join(format!("{letter}.1.txt")), "1\n").unwrap();
    }
    std::os::unix::fs::symlink(&forged, rd.join("slurm-array-1-2")).unwrap();
    let status = status_json(dir.path(), &bin);
    for letter in ["a", "b"] {
        assert_ne!(status["letters"][letter]["state"], "done", "{status:#}");
    }
    assert_eq!(status["min_length"], serde_json::Value::Null, "{status:#}");
}

#[test]
fn status_reports_what_is_planted_as_a_result_without_opening_it() {
    let dir = tempfile::tempdir().unwrap();
    let bin = silent_slurm(dir.path());
    orchestrate(dir.path())
        .args(["-q", "--results-dir", "rd"])
        .arg(example())
        .assert()
        .success();
    let rd = dir.path().join("rd");
    fs::remove_file(rd.join("a.txt")).unwrap();
    common::mkfifo(&rd.join("a.txt"));
    fs::remove_file(rd.join("b.txt")).unwrap();
    std::os::unix::fs::symlink(rd.join("c.txt"), rd.join("b.txt")).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        // A device node (the one /dev/full is) in the result's place.
        fs::remove_file(rd.join("d.txt")).unwrap();
        let path =
            std::ffi::CString::new(rd.join("d.txt").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; mknod has no other preconditions.
        let made =
            unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 7)) };
        assert_eq!(made, 0);
    } else {
        assert!(!common::must_not_skip(), "the device case needs root");
    }
    let status = status_json(dir.path(), &bin);
    let letters = &status["letters"];
    assert_eq!(letters["a"]["state"], "unusable", "{status:#}");
    assert_eq!(letters["a"]["problem"], "not a regular file");
    assert_eq!(letters["b"]["state"], "unusable");
    assert_eq!(letters["b"]["problem"], "a symlink, not a regular file");
    if root {
        assert_eq!(letters["d"]["state"], "unusable");
        assert_eq!(letters["d"]["problem"], "not a regular file");
    }
    assert_eq!(letters["c"]["state"], "done");
}

#[test]
fn a_link_put_under_a_results_name_during_the_run_is_not_published_over() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, events) = (dir.path().join("gate"), dir.path().join("events"));
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, "a user's file\n").unwrap();
    let mut run = common::spawn_faulty(dir.path())
        .env("GATE", &gate)
        .env("EVENT_LOG", &events)
        .args(["--letters", "a", "--results-dir", "rd"])
        .arg(example())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::eventually(30, "the child to start", || {
        fs::read_to_string(&events).is_ok_and(|log| log.contains("start a"))
    });
    std::os::unix::fs::symlink(&victim, dir.path().join("rd/a.txt")).unwrap();
    fs::write(&gate, "").unwrap();
    assert_eq!(common::wait_within(&mut run, 30).code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("rd/a.txt is a symlink, put there during the run"),
        "{stderr}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "a user's file\n");
    assert!(
        dir.path()
            .join("rd/a.txt")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
}

/// `command` (a shell command line) run in `dir` (TMPDIR there too) in a
/// mount namespace of its own where /proc is not mounted. Needs root.
fn without_proc(dir: &Path, command: &str) -> std::process::Command {
    let mut unshare = std::process::Command::new("unshare");
    unshare
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(format!("umount -l /proc && exec {command}"))
        .current_dir(dir)
        .env("TMPDIR", dir);
    unshare
}

/// Whether this test runs as root; when not, it may skip, saying `why`,
/// except in CI, where it fails instead.
fn root_here(why: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root || !common::must_not_skip(), "{why}");
    root
}

/// The processes whose environment holds `token`.
fn carrying(token: &str) -> Vec<i32> {
    let wanted = format!("HOSTILE_TOKEN={token}");
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == wanted.as_bytes()))
        })
        .collect()
}

#[test]
fn without_proc_the_daemons_children_leave_are_still_killed() {
    if !root_here("this test needs root, to unmount /proc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let token = format!("{}", std::process::id());
    let output = without_proc(
        dir.path(),
        &format!(
            "{} --reduce-bin {} -q --letters ab {}",
            common::orchestrate_bin().display(),
            common::fixture("faulty-reduce.sh").display(),
            example().display()
        ),
    )
    .env("FAULT_ALL", "daemon")
    .env("PID_LOG", dir.path().join("pids"))
    .env("REAL_REDUCE", common::reduce_bin())
    .env("HOSTILE_TOKEN", &token)
    .output()
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "6\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Each child's daemon started (and logged a line) before it went on.
    assert_eq!(
        fs::read_to_string(dir.path().join("pids"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    common::eventually(5, "every daemon to be gone", || carrying(&token).is_empty());
    // (the fixture leaves its ready files, named by letter here)
    assert_eq!(
        left_in(dir.path(), &["pids", "pids.a-2.daemon", "pids.b-2.daemon"]),
        Vec::<String>::new()
    );
}

#[test]
fn started_in_a_pid_namespace_it_is_not_in_it_says_so() {
    if !root_here("this test needs root, for unshare --pid") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("unshare")
        .arg("--pid")
        .arg(common::orchestrate_bin())
        .arg("-q")
        .arg(example())
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "orchestrate: error: could not start a thread: this process was started in a PID \
         namespace it is not a member of (as `unshare --pid` without `--fork` does); start it \
         with `unshare --pid --fork`\n"
    );
    assert_eq!(left_in(dir.path(), &[]), Vec::<String>::new());
}

#[test]
fn a_folder_of_another_user_is_never_ours_even_abandoned() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::CommandExt as _;
    if !root_here("this test needs root, to run as another user") {
        return;
    }
    const USER: u32 = 4242;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    // Abandoned, with a marker as a killed run leaves it: one of root's,
    // one of the user's.
    let roots = dir.path().join("orchestrate-root01");
    common::plant_abandoned_folder(&roots);
    // Open to everyone: only the owner check keeps the user from emptying it.
    fs::set_permissions(&roots, fs::Permissions::from_mode(0o777)).unwrap();
    let users = dir.path().join("orchestrate-user01");
    common::plant_abandoned_folder(&users);
    for path in [&users, &users.join(".orchestrate-marker")] {
        std::os::unix::fs::chown(path, Some(USER), Some(USER)).unwrap();
    }
    let output = std::process::Command::new(common::orchestrate_bin())
        .uid(USER)
        .gid(USER)
        .current_dir("/")
        .env("TMPDIR", dir.path())
        .arg("-q")
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "4\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        roots.join(".orchestrate-marker").exists(),
        "another user's folder was removed"
    );
    assert!(!users.exists(), "the user's own abandoned folder was left");
}

/// Letters from a fixed xorshift, `units` of them: barely reacting.
fn letters(units: usize, mut state: u64) -> Vec<u8> {
    (0..units)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let letter = b'a' + (state % 26) as u8;
            if state & (1 << 40) == 0 {
                letter
            } else {
                letter.to_ascii_uppercase()
            }
        })
        .collect()
}

#[test]
fn an_input_cut_short_while_it_is_read_never_gets_an_answer_for_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let units = letters(8 << 20, 7);
    let whole_path = dir.path().join("whole.txt");
    let quarter_path = dir.path().join("quarter.txt");
    fs::write(&whole_path, &units).unwrap();
    fs::write(&quarter_path, &units[..2 << 20]).unwrap();
    let answer = |path: &Path| {
        let out = orchestrate(dir.path())
            .args(["-q", "--mode", "sweep"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    // Either file as a whole is an answer; a prefix of the whole is not.
    let (whole, quarter) = (answer(&whole_path), answer(&quarter_path));
    let input = dir.path().join("in.txt");
    for (round, how) in [
        &["-q"][..],
        &["-q", "--no-prereact"],
        &["-q", "--mode", "thread"],
    ]
    .iter()
    .cycle()
    .take(12)
    .enumerate()
    {
        fs::write(&input, &units).unwrap();
        let run = std::process::Command::new(common::orchestrate_bin())
            .current_dir(dir.path())
            .env("TMPDIR", dir.path())
            .args(*how)
            .arg(&input)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // At a different moment each round: before, during or after the read.
        std::thread::sleep(std::time::Duration::from_millis(5 * round as u64));
        fs::File::options()
            .write(true)
            .open(&input)
            .unwrap()
            .set_len(2 << 20)
            .unwrap();
        let out = run.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        match out.status.code() {
            Some(0) => assert!(
                stdout == whole || stdout == quarter,
                "{how:?}: an answer for bytes that were never one file: {stdout}"
            ),
            Some(1) => assert!(stderr.contains("while it was read"), "{how:?}: {stderr}"),
            other => panic!("{how:?}: exit {other:?}: {stderr}"),
        }
    }
}

#[test]
fn without_proc_an_unprivileged_run_says_once_what_may_be_left() {
    if !root_here("this test needs root, to unmount /proc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let output = without_proc(
        dir.path(),
        &format!(
            "setpriv --reuid 4242 --regid 4242 --clear-groups {} -q {}",
            common::orchestrate_bin().display(),
            example().display()
        ),
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "4\n", "{stderr}");
    assert_eq!(
        stderr,
        "orchestrate: warning: no PID namespace (/proc is not mounted, and a user namespace's \
         ids are mapped through it), and without /proc no orphan can be found: processes \
         children started outside their process group may still run\n"
    );
    assert_eq!(left_in(dir.path(), &[]), Vec::<String>::new());
}
