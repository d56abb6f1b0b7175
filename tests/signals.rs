//! Stopping `orchestrate` from outside: every stop signal (SIGINT, SIGTERM,
//! SIGHUP, SIGQUIT), in every phase (reading the input, supervising
//! children), once and twice, and SIGKILL, must leave no child process, no
//! descendant of one and no temporary file behind, and end with status
//! 128 + the signal. Every wait is on an event (a pid a fixture wrote, a
//! thread that exists) and has a deadline.
#![cfg(unix)]

mod common;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{alive, entries, eventually, example, fixture, mkfifo, pids, signal, wait_within};

const STOP_SIGNALS: [(i32, &str); 4] = [
    (libc::SIGINT, "SIGINT"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGQUIT, "SIGQUIT"),
];

/// Starts orchestrate with every child in `mode`, TMPDIR inside `dir`, and
/// waits until `expected_pids` processes have logged their pids.
fn start_hanging(dir: &Path, mode: &str, extra: &[&str], expected_pids: usize) -> Child {
    start_hanging_as(dir, mode, extra, expected_pids, |_| {})
}

/// [`start_hanging`], with `adjust` applied to the command first.
fn start_hanging_as(
    dir: &Path,
    mode: &str,
    extra: &[&str],
    expected_pids: usize,
    adjust: impl FnOnce(&mut Command),
) -> Child {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut command = Command::new(common::orchestrate_bin());
    adjust(&mut command);
    let child = command
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
        pids(&dir.join("pids")).len() == expected_pids
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

fn stderr_of(child: &mut Child) -> String {
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    stderr
}

#[test]
fn every_stop_signal_stops_every_child_and_grandchild_and_removes_temporary_files() {
    for (number, name) in STOP_SIGNALS {
        let dir = tempfile::tempdir().unwrap();
        // Each "hang" child and its grandchild `sleep` log their pids.
        let mut child = start_hanging(dir.path(), "hang", &[], 52);
        signal(&child, number);
        let status = wait_within(&mut child, 20);
        assert_eq!(status.code(), Some(128 + number), "{name}");
        assert_eq!(
            stderr_of(&mut child),
            format!("orchestrate: error: interrupted by {name}; every child was stopped\n")
        );
        assert_all_gone(dir.path());
        assert!(
            entries(&dir.path().join("tmp")).is_empty(),
            "{name}: temporary folder left behind"
        );
    }
}

#[test]
fn a_stop_reaches_grandchildren_that_left_the_process_group_or_were_orphaned() {
    let dir = tempfile::tempdir().unwrap();
    // Each child: itself, a setsid grandchild, a double-forked orphan, and
    // a plain grandchild.
    let mut child = start_hanging(dir.path(), "escape", &[], 26 * 4);
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_within(&mut child, 20).code(), Some(143));
    assert_all_gone(dir.path());
}

#[test]
fn a_second_sigint_skips_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    // The children survive SIGTERM, and the grace period is far longer than
    // this test's deadline: only the second SIGINT can end the run in time.
    let mut child = start_hanging(dir.path(), "stubborn", &["--grace", "600"], 26);
    signal(&child, libc::SIGINT);
    let terms = dir.path().join("pids.terms");
    eventually(20, "every child to receive SIGTERM", || {
        std::fs::read_to_string(&terms)
            .map(|log| log.lines().count() == 26)
            .unwrap_or(false)
    });
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
    let mut child = start_hanging(dir.path(), "exec-hang", &[], 26);
    signal(&child, libc::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&wait_within(&mut child, 20)),
        Some(libc::SIGKILL)
    );
    assert_all_gone(dir.path());
    // What outlived it for a moment removed its private folder: none is
    // left a second later, with no other run needed.
    eventually(
        1,
        "the private folder to be gone a second after the SIGKILL",
        || entries(&dir.path().join("tmp")).is_empty(),
    );
}

#[test]
fn a_killed_results_folder_runs_own_folder_goes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let mut child = start_hanging(
        dir.path(),
        "hang",
        &["--results-dir", results.to_str().unwrap()],
        52,
    );
    assert!(
        entries(&results)
            .iter()
            .any(|name| name.starts_with(".orchestrate-")),
        "{:?}",
        entries(&results)
    );
    signal(&child, libc::SIGKILL);
    wait_within(&mut child, 20);
    eventually(
        1,
        "the run's folders to be gone a second after the SIGKILL",
        || {
            entries(&dir.path().join("tmp")).is_empty()
                && entries(&results)
                    .iter()
                    .all(|name| !name.starts_with(".orchestrate-"))
        },
    );
}

#[test]
fn a_killed_check_child_leaves_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child = Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .env("TMPDIR", &tmp)
        .env("FAULT_ALL", "hang")
        .env("PID_LOG", dir.path().join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--check-child")
        .arg(fixture("faulty-reduce.sh"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually(30, "every case's child to start", || {
        pids(&dir.path().join("pids")).len() >= 13
    });
    signal(&child, libc::SIGKILL);
    wait_within(&mut child, 20);
    eventually(
        1,
        "the cases' folders to be gone a second after the SIGKILL",
        || entries(&tmp).is_empty(),
    );
}

/// Every descendant in `dir`'s PID_LOG is gone within a second of
/// orchestrate's SIGKILL.
#[track_caller]
fn assert_gone_within_a_second_of_a_sigkill(child: &mut Child, dir: &Path) {
    signal(child, libc::SIGKILL);
    wait_within(child, 20);
    let pids = pids(&dir.join("pids"));
    assert_eq!(pids.len(), 104, "26 children, 3 descendants each");
    eventually(
        1,
        "every descendant to be gone a second after the SIGKILL",
        || pids.iter().all(|&pid| !alive(pid)),
    );
}

/// Whether orchestrate gets a PID namespace here (run as `nobody` with
/// `as_nobody`); where the kernel refuses one, the tests that need it skip
/// with the reason, except in CI.
fn namespaces_here(as_nobody: bool) -> bool {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(common::orchestrate_bin());
    command.arg("--json").arg(example()).env("TMPDIR", "/tmp");
    if as_nobody {
        command.uid(65534).gid(65534);
    }
    let output = command.current_dir("/").output().unwrap();
    common::assert_success(&output);
    let here = common::json_of(&output.stdout)["containment"] == "pid-namespace";
    if !here {
        let reason = "the kernel refuses orchestrate a PID namespace here";
        assert!(!common::must_not_skip(), "{reason}");
        eprintln!("skipped: {reason}");
    }
    here
}

#[test]
fn descendants_that_left_their_group_die_with_a_sigkill_of_orchestrate() {
    if !namespaces_here(false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // `escape`: each child leaves a sleeper in its group, one that called
    // setsid, and one orphaned by a double fork.
    let mut child = start_hanging(dir.path(), "escape", &[], 104);
    assert_gone_within_a_second_of_a_sigkill(&mut child, dir.path());
}

#[test]
fn descendants_die_with_a_sigkill_of_orchestrate_run_by_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if unsafe { libc::geteuid() } != 0 {
        let reason = "this test needs root, to run orchestrate as nobody";
        assert!(!common::must_not_skip(), "{reason}");
        eprintln!("skipped: {reason}");
        return;
    }
    // As nobody, the namespace is made inside a user namespace of its own.
    if !namespaces_here(true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let mut child = Command::new(common::orchestrate_bin())
        .env("TMPDIR", &tmp)
        .env("FAULT_ALL", "escape")
        .env("PID_LOG", dir.path().join("pids"))
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg(example())
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    eventually(30, "every descendant to start", || {
        pids(&dir.path().join("pids")).len() == 104
    });
    assert_gone_within_a_second_of_a_sigkill(&mut child, dir.path());
}

#[test]
fn where_namespaces_are_turned_off_the_subreaper_contains_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(common::orchestrate_bin())
        .args(["--json", "-v"])
        .arg(example())
        .env("TMPDIR", dir.path())
        .env("POLYMER_FANOUT_CONTAINMENT", "subreaper")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(common::json_of(&output.stdout)["containment"], "subreaper");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("containment"))
        .collect();
    assert_eq!(said.len(), 1, "said once: {stderr}");
    assert!(said[0].contains("subreaper only"), "{stderr}");
    // And by default, a namespace.
    let output = Command::new(common::orchestrate_bin())
        .arg("--json")
        .arg(example())
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(
        common::json_of(&output.stdout)["containment"],
        "pid-namespace"
    );
}

/// Waits up to 10 s for process `pid` (not the test's child) to die; if it
/// does not, kills it, so that the failure leaves nothing behind, and fails
/// with `failure`.
#[track_caller]
fn assert_dies(pid: i32, failure: &str) {
    let gone = (0..1000).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        !alive(pid)
    });
    if !gone {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(gone, "{failure}");
}

/// `reduce` started by a shell that stands in for orchestrate: asked, as
/// orchestrate asks it, to die with that shell, it blocks reading a FIFO
/// that nothing is written to. Returns the shell and reduce's pid, once reduce is
/// blocked there (so past its request, which is the first thing it does),
/// and the FIFO's writer, which keeps it blocked while it is open.
fn reduce_blocked_under_a_parent(dir: &Path) -> (Child, i32, std::fs::File) {
    let fifo = dir.join("input.fifo");
    mkfifo(&fifo);
    let pid_file = dir.join("reduce.pid");
    let parent = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --letter a -o - "$1" --parent-pid $$ & echo $! > "$2"; wait"#)
        .arg(common::reduce_bin())
        .arg(&fifo)
        .arg(&pid_file)
        .spawn()
        .unwrap();
    eventually(10, "reduce to start", || pids(&pid_file).len() == 1);
    let reduce = pids(&pid_file)[0];
    // Opening a FIFO to write without blocking succeeds once a reader has
    // it open: then reduce is reading it (and blocks, nothing is written).
    let mut writer = None;
    eventually(10, "reduce to open the FIFO", || {
        writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .ok();
        writer.is_some()
    });
    (parent, reduce, writer.unwrap())
}

#[test]
fn reduce_asked_to_die_with_its_parent_does() {
    let dir = tempfile::tempdir().unwrap();
    let (mut parent, reduce, _writer) = reduce_blocked_under_a_parent(dir.path());
    signal(&parent, libc::SIGKILL);
    wait_within(&mut parent, 10);
    assert_dies(
        reduce,
        "reduce outlived the parent that asked it to die with it",
    );
}

#[test]
fn reduce_asked_to_die_with_a_parent_already_gone_stops_at_once() {
    // Pid 1 is never the parent of a process the test starts.
    let output = Command::new(common::reduce_bin())
        .args(["--letter", "a", "-o", "-", "--parent-pid", "1"])
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "reduce: error: process 1 is not this process's parent (it has exited, or a program \
         between them did not exec reduce)\n"
    );
    assert!(output.stdout.is_empty());
}

/// The children of process `pid`.
fn children_of(pid: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|c| c.parse().unwrap())
        .collect()
}

#[test]
fn reduce_children_die_when_orchestrate_is_killed_outright() {
    // The reduce beside orchestrate, started with posix_spawn, arranges its
    // own death. A child seen with the sealed polymer mapped is past that
    // (it maps after asking); it is stopped, so that only the kernel's
    // SIGKILL can end it, and orchestrate is killed.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    // Already reacted, so each child maps 20 MB and scans it a while.
    std::fs::write(&input, b"ab".repeat(10_000_000)).unwrap();
    let mut orchestrate = Command::new(common::orchestrate_bin())
        .env("TMPDIR", dir.path())
        .arg("-q")
        .arg(&input)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stopped = None;
    eventually(30, "a reduce child with the polymer mapped", || {
        for child in children_of(orchestrate.id()) {
            let maps = std::fs::read_to_string(format!("/proc/{child}/maps")).unwrap_or_default();
            if maps.contains("memfd:polymer") {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(child, libc::SIGSTOP) };
                if alive(child) {
                    stopped = Some(child);
                    return true;
                }
            }
        }
        false
    });
    let stopped = stopped.unwrap();
    signal(&orchestrate, libc::SIGKILL);
    wait_within(&mut orchestrate, 10);
    assert_dies(stopped, "a reduce child outlived orchestrate");
}

/// The number of threads of process `pid`.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |tasks| tasks.count())
}

/// Starts orchestrate on `input` (with `stdin`), and waits until its
/// reading thread exists: by then its signal handlers are installed and the
/// read is under way (or blocked).
fn start_reading(dir: &Path, input: &Path, stdin: Stdio) -> Child {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let child = Command::new(common::orchestrate_bin())
        .current_dir(dir)
        .env("TMPDIR", &tmp)
        .arg(input)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    eventually(20, "the reading thread to start", || threads(pid) >= 2);
    child
}

#[test]
fn every_stop_signal_ends_a_read_of_standard_input_that_never_ends() {
    for (number, name) in STOP_SIGNALS {
        let dir = tempfile::tempdir().unwrap();
        // A pipe whose writer never writes nor closes: `sleep 30 | orchestrate -`.
        let mut writer = Command::new("sleep")
            .arg("1000")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = writer.stdout.take().unwrap();
        let mut child = start_reading(dir.path(), Path::new("-"), Stdio::from(pipe));
        signal(&child, number);
        let status = wait_within(&mut child, 20);
        let _ = writer.kill();
        let _ = writer.wait();
        assert_eq!(status.code(), Some(128 + number), "{name}");
        assert_eq!(
            stderr_of(&mut child),
            format!("orchestrate: error: interrupted by {name}; every child was stopped\n")
        );
        assert!(entries(&dir.path().join("tmp")).is_empty(), "{name}");
    }
}

#[test]
fn a_stop_signal_ends_the_open_of_a_fifo_that_has_no_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("input.fifo");
    mkfifo(&fifo);
    let mut child = start_reading(dir.path(), &fifo, Stdio::null());
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_within(&mut child, 20).code(), Some(143));
    assert!(entries(&dir.path().join("tmp")).is_empty());
}

#[test]
fn an_endless_input_of_non_letters_fails_at_its_first_byte() {
    let dir = tempfile::tempdir().unwrap();
    common::orchestrate(dir.path())
        .arg("/dev/zero")
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "orchestrate: error: /dev/zero: byte offset 0: '\\x00' is not a polymer unit (expected A-Z or a-z)\n",
        );
}

#[test]
fn the_next_run_removes_the_folder_of_a_run_killed_outright_never_a_live_runs() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    // The whole process group at once, the janitor that would remove its
    // folder included, as when the machine goes down.
    let mut killed = start_hanging_as(dir.path(), "exec-hang", &[], 26, |command| {
        std::os::unix::process::CommandExt::process_group(command, 0);
    });
    // SAFETY: killpg has no memory-safety preconditions; the group is the
    // one our unreaped child leads.
    unsafe { libc::killpg(killed.id() as i32, libc::SIGKILL) };
    wait_within(&mut killed, 20);
    let abandoned = entries(&tmp);
    assert_eq!(
        abandoned.len(),
        1,
        "a SIGKILL leaves the folder: {abandoned:?}"
    );
    // Its children die with it (they asked the kernel); nothing else of
    // it runs on.
    assert_all_gone(dir.path());
    // A run that lives on while the next one starts (its children's pids
    // follow the killed run's in the same log).
    let mut live = start_hanging(dir.path(), "exec-hang", &[], 52);
    // The live run, starting, removed the killed run's folder.
    let live_folder = entries(&tmp);
    assert_eq!(live_folder.len(), 1, "{live_folder:?}");
    assert_ne!(live_folder, abandoned);
    // Another run leaves the live run's folder alone.
    let other = Command::new(common::orchestrate_bin())
        .env("TMPDIR", &tmp)
        .arg("-q")
        .arg(example())
        .output()
        .unwrap();
    assert!(other.status.success());
    assert_eq!(entries(&tmp), live_folder);
    signal(&live, libc::SIGTERM);
    wait_within(&mut live, 20);
    assert!(entries(&tmp).is_empty());
}

/// Starts `orchestrate -q` on the worked example (with `extra`, and
/// `adjust` applied to the command) whose children wait for a gate file,
/// and waits until all 26 have started; the run and the gate's path.
fn start_gated(
    dir: &Path,
    extra: &[&str],
    adjust: impl FnOnce(&mut Command),
) -> (Child, std::path::PathBuf) {
    let (gate, events) = (dir.join("gate"), dir.join("events"));
    let mut command = Command::new(common::orchestrate_bin());
    adjust(&mut command);
    let child = command
        .current_dir(dir)
        .env("TMPDIR", dir)
        .env("GATE", &gate)
        .env("EVENT_LOG", &events)
        .env("REAL_REDUCE", common::reduce_bin())
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg("-q")
        .args(extra)
        .arg(example())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually(30, "every child to start", || {
        std::fs::read_to_string(&events).is_ok_and(|log| log.lines().count() == 26)
    });
    (child, gate)
}

/// Starts orchestrate with `signals` blocked, or ignored, as a parent may
/// leave them.
fn inheriting(command: &mut Command, signals: &'static [i32], ignored: bool) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                libc::sigaddset(&mut set, signal);
                if ignored {
                    libc::signal(signal, libc::SIG_IGN);
                }
            }
            if !ignored {
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            }
            Ok(())
        });
    }
}

#[test]
fn stop_signals_a_parent_left_blocked_still_stop_the_run() {
    const ALL: [i32; 5] = [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGCHLD,
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut child = start_hanging_as(dir.path(), "hang", &[], 52, |command| {
        inheriting(command, &ALL, false)
    });
    signal(&child, libc::SIGTERM);
    let status = wait_within(&mut child, 20);
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    assert_all_gone(dir.path());
}

#[test]
fn a_stop_signal_a_parent_set_to_be_ignored_stays_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, gate) = start_gated(dir.path(), &[], |command| {
        inheriting(command, &[libc::SIGHUP], true)
    });
    // Pending before any child can end: were it heard, the run would stop.
    signal(&child, libc::SIGHUP);
    std::fs::write(&gate, "").unwrap();
    let status = wait_within(&mut child, 30);
    assert_eq!(status.code(), Some(0), "{}", stderr_of(&mut child));
}

/// The state letter of process `pid` (`T` when stopped), from /proc.
fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

#[test]
fn ctrl_z_pauses_the_whole_run_and_sigcont_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    // Children that hang, with grandchildren that left their group.
    let mut child = start_hanging(dir.path(), "escape", &[], 104);
    let descendants = pids(&dir.path().join("pids"));
    let me = child.id() as i32;
    signal(&child, libc::SIGTSTP);
    eventually(10, "orchestrate and every descendant to be stopped", || {
        std::iter::once(me)
            .chain(descendants.iter().copied())
            .all(|pid| state_of(pid) == Some('T'))
    });
    signal(&child, libc::SIGCONT);
    eventually(10, "orchestrate and every descendant to run again", || {
        std::iter::once(me)
            .chain(descendants.iter().copied())
            .all(|pid| state_of(pid).is_some_and(|state| state != 'T'))
    });
    signal(&child, libc::SIGTERM);
    assert_eq!(
        wait_within(&mut child, 20).code(),
        Some(128 + libc::SIGTERM)
    );
    assert_all_gone(dir.path());
}

#[test]
fn time_spent_paused_does_not_count_against_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, gate) = start_gated(dir.path(), &["--timeout", "4"], |_| {});
    signal(&child, libc::SIGTSTP);
    eventually(10, "orchestrate to be stopped", || {
        state_of(child.id() as i32) == Some('T')
    });
    // Paused for longer than the timeout: that time is not the children's.
    std::thread::sleep(std::time::Duration::from_secs(5));
    signal(&child, libc::SIGCONT);
    std::fs::write(&gate, "").unwrap();
    let status = wait_within(&mut child, 30);
    assert_eq!(status.code(), Some(0), "{}", stderr_of(&mut child));
}
