//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod slurm;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("inputs")
        .join(name)
}

pub fn example() -> PathBuf {
    input("example.txt")
}

pub fn reduce_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reduce"))
}

/// `reduce` run inside `dir`, so default result paths land there.
pub fn reduce(dir: &Path) -> Command {
    let mut cmd = Command::new(reduce_bin());
    cmd.current_dir(dir)
        .timeout(std::time::Duration::from_secs(30));
    cmd
}

/// Names of the entries of `dir`, sorted; empty when it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn orchestrate_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_orchestrate"))
}

/// The fault-injecting stand-in for reduce that runs on every system
/// (`examples/faulty-reduce.rs`, which `cargo test` builds beside the
/// binaries).
pub fn faulty_reduce() -> PathBuf {
    reduce_bin()
        .with_file_name("examples")
        .join(format!("faulty-reduce{}", std::env::consts::EXE_SUFFIX))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `orchestrate` with a deadline of its own, run in `dir` with TMPDIR there
/// too, so tests can check that nothing is left behind.
pub fn orchestrate(dir: &Path) -> Command {
    let mut cmd = Command::new(orchestrate_bin());
    cmd.current_dir(dir)
        .env("TMPDIR", dir)
        .env("TMP", dir)
        .env("TEMP", dir)
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

/// `orchestrate --status` of the results folder `results`, run in `dir`
/// (`--json` when asked).
pub fn status(dir: &Path, results: &Path, json: bool) -> Command {
    let mut cmd = orchestrate(dir);
    cmd.arg("--status").arg("--results-dir").arg(results);
    if json {
        cmd.arg("--json");
    }
    cmd
}

/// [`orchestrate_faulty`] to spawn and supervise from the test (a run
/// that is stopped, killed or looked at while it runs), with its output
/// discarded.
pub fn spawn_faulty(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(orchestrate_bin());
    cmd.current_dir(dir)
        .env("TMPDIR", dir)
        .env("TMP", dir)
        .env("TEMP", dir)
        .env("REAL_REDUCE", reduce_bin())
        .arg("--reduce-bin")
        .arg(faulty_reduce())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// `orchestrate` whose children are the fault-injecting stand-in for reduce.
pub fn orchestrate_faulty(dir: &Path) -> Command {
    let mut cmd = orchestrate(dir);
    cmd.arg("--reduce-bin")
        .arg(faulty_reduce())
        .env("REAL_REDUCE", reduce_bin());
    cmd
}

/// [`spawn_faulty`] with the shell script stand-in for reduce (see
/// [`orchestrate_faulty_script`]).
#[cfg(unix)]
pub fn spawn_faulty_script(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(orchestrate_bin());
    cmd.current_dir(dir)
        .env("TMPDIR", dir)
        .env("REAL_REDUCE", reduce_bin())
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// `orchestrate` whose children are the shell script stand-in for reduce,
/// for the misbehaviours only Unix has (leaving a process group, ignoring
/// SIGTERM, exec'ing into another program).
#[cfg(unix)]
pub fn orchestrate_faulty_script(dir: &Path) -> Command {
    let mut cmd = orchestrate(dir);
    cmd.arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .env("REAL_REDUCE", reduce_bin());
    cmd
}

/// Polls `condition` every few milliseconds until it holds or `seconds` pass.
#[track_caller]
pub fn eventually(seconds: u64, what: &str, condition: impl FnMut() -> bool) {
    eventually_every(5, seconds, what, condition);
}

/// [`eventually`], polling every `millis` milliseconds: for a condition
/// that is costly to look at (one that runs programs).
#[track_caller]
pub fn eventually_every(
    millis: u64,
    seconds: u64,
    what: &str,
    mut condition: impl FnMut() -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(millis));
    }
}

/// Whether a process is still running (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    u32::try_from(pid).is_ok_and(polymer_fanout::sys::process::lives)
}

/// All pids in a file of whitespace-separated pids.
pub fn pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect()
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
pub fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// Sends `signal` to a child process of the test.
#[cfg(unix)]
pub fn signal(child: &std::process::Child, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our own
    // unreaped child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// A run that is killed when the test ends, failed or not.
pub struct Run(pub std::process::Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Run {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Run {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

/// Waits for `child` with a deadline, killing it if the deadline passes.
pub fn wait_within(child: &mut std::process::Child, seconds: u64) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("orchestrate did not exit within {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Waits for `child` with a deadline, like [`wait_within`], and returns
/// what it wrote on stdout (which must be piped).
pub fn stdout_within(
    mut child: std::process::Child,
    seconds: u64,
) -> (std::process::ExitStatus, String) {
    let mut stdout = child.stdout.take().expect("stdout is piped");
    // Read on a thread of its own, so that a full pipe cannot block the child.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).map(|_| text)
    });
    let status = wait_within(&mut child, seconds);
    (status, reader.join().unwrap().unwrap())
}

/// Whether a missing precondition (a cluster, a tool) must fail the test
/// instead of skipping it: in CI, where nothing may skip silently.
pub fn must_not_skip() -> bool {
    ["CI", "REQUIRE_SLURM"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| v == "1" || v == "true"))
}

/// The JSON object a run printed on stdout.
/// The results folder `results` in `dir` of a finished run of the worked
/// example.
pub fn finished_run(dir: &Path) -> PathBuf {
    let results = dir.join("results");
    orchestrate(dir)
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(example())
        .assert()
        .success();
    results
}

/// Asserts that a run exited with status 0, showing its stderr if not.
#[track_caller]
pub fn assert_success(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn json_of(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).expect("stdout is one JSON object")
}

/// Every entry of `dir` (recursively) with its size and modification time:
/// what must not change when the status is read.
pub fn snapshot(dir: &Path) -> Vec<(String, u64, std::time::SystemTime)> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        entries.push((
            entry.file_name().to_string_lossy().into_owned(),
            metadata.len(),
            metadata.modified().unwrap(),
        ));
        if metadata.is_dir() {
            entries.extend(snapshot(&entry.path()));
        }
    }
    entries.sort();
    entries
}

/// Makes `folder` as a run of orchestrate killed outright leaves it: with
/// the marker that run wrote (this host, this boot, a pid), unlocked.
pub fn plant_abandoned_folder(folder: &Path) {
    std::fs::create_dir_all(folder).unwrap();
    let host = std::process::Command::new("hostname")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    std::fs::write(
        folder.join(".orchestrate-marker"),
        format!(
            "orchestrate folder\nhost {host}\nboot {}\npid 1\n",
            boot.trim()
        ),
    )
    .unwrap();
}

/// A resource limit's name, as `setrlimit` takes it on this system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub type Resource = libc::__rlimit_resource_t;
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
pub type Resource = libc::c_int;

/// How this system words the error numbered `unix` on Unix or `windows`
/// on Windows (a missing folder is 2 on Unix and 3 on Windows), as the
/// standard library says it: what the binaries print.
pub fn os_error(unix: i32, windows: i32) -> String {
    let code = if cfg!(windows) { windows } else { unix };
    std::io::Error::from_raw_os_error(code).to_string()
}
