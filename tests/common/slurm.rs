//! The local Slurm cluster the cluster tests run against
//! (`scripts/slurm-local.sh`), one test at a time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_CONF: &str = "/tmp/polymer-fanout-slurm/slurm.conf";

/// The cluster's configuration file, when a cluster answers, with the
/// cluster to this test alone until the guard drops: the tests share a
/// two-CPU node, and eight of them at once (some 150 jobs) made srun fail
/// now and then with "Unable to allocate resources".
pub fn cluster() -> Option<(PathBuf, std::sync::MutexGuard<'static, ()>)> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    find_cluster().map(|conf| (conf, guard))
}

pub fn find_cluster() -> Option<PathBuf> {
    let conf = std::env::var_os("SLURM_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONF));
    let state = if conf.is_file() {
        node_state(&conf)
    } else {
        None
    };
    // Busy states count too (other tests' jobs); `+`, `*`, `~` mark flags.
    let usable = |s: &str| {
        let s = s.trim_end_matches(|c: char| !c.is_ascii_alphabetic());
        ["idle", "mixed", "allocated", "completing"].contains(&s)
    };
    if state.as_deref().is_some_and(usable) {
        return Some(conf);
    }
    let reason = format!(
        "no usable Slurm cluster (SLURM_CONF={}, node state {state:?}); start one with `sudo scripts/slurm-local.sh start`",
        conf.display()
    );
    if super::must_not_skip() {
        panic!("{reason}");
    }
    // Straight to stderr: the test harness captures only the print macros,
    // and a skip should be seen.
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
    None
}

/// The node's state from `sinfo`, or `None` if it does not answer within
/// a few seconds (a missing controller makes it retry for long).
pub fn node_state(conf: &Path) -> Option<String> {
    let mut sinfo = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .env("SLURM_CONF", conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while sinfo.try_wait().ok()?.is_none() {
        if Instant::now() > deadline {
            let _ = sinfo.kill();
            let _ = sinfo.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = sinfo.wait_with_output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}
