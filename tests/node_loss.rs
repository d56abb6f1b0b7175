//! A node of the cluster lost mid-run, as a power loss would lose it: every
//! process of it killed at once (`scripts/slurm-local.sh fail-node`), with
//! letters running there. Through `srun` and through a job array, with and
//! without `--retries`.
//!
//! Needs a local cluster of several nodes, as root:
//! `sudo scripts/slurm-local.sh start --nodes 3`. Without one these tests
//! are skipped with a printed reason, except in CI (CI=true, or
//! REQUIRE_SLURM=1), where that is a failure. Each test brings the node it
//! failed back before it returns, even when it fails.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::slurm::cluster;
use common::{eventually, example, fixture};

/// Every run here must end within this: Slurm's time to declare the node
/// DOWN (about 25 s with the script's SlurmdTimeout=5), the retried work
/// (SLOW seconds), and a margin for a loaded machine. A deadline, not a
/// measurement: the figures are in docs/cluster.md.
const RUN_DEADLINE: u64 = 150;

/// How long each letter works, so that every letter is running when the
/// node is lost.
const SLOW: &str = "20";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh")
}

/// The cluster's nodes, if it has several; `None` (a skip, or a failure
/// in CI) otherwise.
fn nodes(conf: &Path) -> Option<Vec<String>> {
    let out = Command::new("sinfo")
        .args(["-h", "-N", "-o", "%N"])
        .env("SLURM_CONF", conf)
        .output()
        .unwrap();
    let nodes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    if nodes.len() >= 2 {
        return Some(nodes);
    }
    let reason = format!(
        "a cluster of one node ({nodes:?}); start one of several with `sudo scripts/slurm-local.sh start --nodes 3`"
    );
    if common::must_not_skip() {
        panic!("{reason}");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
    None
}

/// A node lost for the length of a test: failed when made, brought back
/// (and waited for, until every node is idle) when dropped.
struct Lost {
    node: String,
    conf: PathBuf,
}

impl Lost {
    fn fail(node: &str, conf: &Path) -> Lost {
        let status = Command::new("bash")
            .arg(script())
            .args(["fail-node", node])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "fail-node {node}");
        Lost {
            node: node.to_string(),
            conf: conf.to_path_buf(),
        }
    }
}

impl Drop for Lost {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["revive-node", &self.node])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let out = Command::new("sinfo")
                .args(["-h", "-N", "-o", "%T"])
                .env("SLURM_CONF", &self.conf)
                .output();
            if out.is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .all(|s| s == "idle")
            }) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The job log as letter -> (attempts, outcome, host).
fn joblog(path: &Path) -> BTreeMap<String, (u32, String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            (
                f[0].to_string(),
                (f[1].parse().unwrap(), f[5].to_string(), f[7].to_string()),
            )
        })
        .collect()
}

/// Letter -> host of every start the children logged (HOST_LOG).
fn starts(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (letter, host) = line.split_once(' ')?;
            Some((letter.to_string(), host.to_string()))
        })
        .collect()
}

/// The pids of processes whose command line mentions `dir`: what is left
/// of a run's children on any node (the nodes share this machine's pids).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains(&needle)
                && common::alive(e.file_name().to_string_lossy().parse().ok()?))
            .then(|| format!("{} {cmdline}", e.file_name().to_string_lossy()))
        })
        .collect()
}

/// Jobs in the queue whose name starts with `prefix`, or that run a script
/// under `dir`.
fn queue_of(conf: &Path, dir: &Path) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-o", "%i %j %o"])
        .env("SLURM_CONF", conf)
        .output()
        .unwrap();
    let dir = dir.to_string_lossy().into_owned();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains(&dir) || line.contains("pf-node-loss"))
        .map(String::from)
        .collect()
}

/// An orchestrate that, should a test fail before it ends, is stopped as
/// a user would stop it (SIGTERM: it cancels its jobs), and killed only if
/// that does not end it within a minute.
struct Stopped(Option<std::process::Child>);

impl Drop for Stopped {
    fn drop(&mut self) {
        let Some(child) = &mut self.0 else {
            return;
        };
        if matches!(child.try_wait(), Ok(None)) {
            common::signal(child, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(60);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What one run with a node lost under it left.
struct Outcome {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    log: BTreeMap<String, (u32, String, String)>,
    /// The node lost, and the letters running there when it was.
    lost: String,
    lost_letters: Vec<String>,
    elapsed: Duration,
}

/// Runs orchestrate on the example with `how` (srun or --sbatch), every
/// child slow, and fails the node with the most letters once every letter
/// has started.
fn run_losing_a_node(conf: &Path, dir: &Path, how: &[&str]) -> (Outcome, Lost) {
    let hosts = dir.join("hosts.log");
    let started = Instant::now();
    let child = Command::new(common::orchestrate_bin())
        .current_dir(dir)
        .env("TMPDIR", dir)
        .env("SLURM_CONF", conf)
        .env("REAL_REDUCE", common::reduce_bin())
        .env("SLOW", SLOW)
        .env("HOST_LOG", &hosts)
        .args(how)
        .arg("--reduce-bin")
        .arg(fixture("faulty-reduce.sh"))
        .arg("--results-dir")
        .arg(dir.join("results"))
        .arg("--joblog")
        .arg(dir.join("log.tsv"))
        .arg(example())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Stopped(Some(child));
    eventually(60, "every letter to start", || starts(&hosts).len() >= 26);
    let started_on = starts(&hosts);
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, host) in &started_on {
        *count.entry(host.as_str()).or_default() += 1;
    }
    let (lost, _) = count.iter().max_by_key(|(_, n)| **n).unwrap();
    let lost = lost.to_string();
    let guard = Lost::fail(&lost, conf);
    let lost_letters: Vec<String> = started_on
        .iter()
        .filter(|(_, host)| *host == lost)
        .map(|(letter, _)| letter.clone())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(RUN_DEADLINE);
    while run.0.as_mut().unwrap().try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "orchestrate did not end within {RUN_DEADLINE} s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let output = run.0.take().unwrap().wait_with_output().unwrap();
    let status = output.status;
    let log = if status.success() {
        joblog(&dir.join("log.tsv"))
    } else {
        BTreeMap::new()
    };
    (
        Outcome {
            status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            log,
            lost,
            lost_letters,
            elapsed,
        },
        guard,
    )
}

/// What every run must leave: nothing queued, nothing running anywhere.
fn assert_nothing_left(conf: &Path, dir: &Path) {
    eventually(30, "the run's jobs to leave the queue", || {
        queue_of(conf, dir).is_empty()
    });
    let left = processes_mentioning(dir);
    assert!(left.is_empty(), "left running: {left:?}");
}

#[track_caller]
fn assert_rerun_elsewhere(run: &Outcome) {
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("minimum: 4 units, after removing c/C\n"),
        "{}",
        run.stdout
    );
    assert!(!run.lost_letters.is_empty());
    assert_eq!(run.log.len(), 26);
    for (letter, (attempts, outcome, host)) in &run.log {
        assert_eq!(outcome, "ok", "{letter}: {:?}", run.log);
        assert_ne!(host, &run.lost, "{letter} ran last on the lost node");
        let expected = if run.lost_letters.contains(letter) {
            2
        } else {
            1
        };
        assert_eq!(*attempts, expected, "{letter}: {:?}", run.log);
    }
    // One warning per lost letter, naming the node: the retried attempt.
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("warning:"))
        .collect();
    assert_eq!(warnings.len(), run.lost_letters.len(), "{}", run.stderr);
    assert!(
        warnings
            .iter()
            .all(|w| w.contains(&format!("child on {}", run.lost))),
        "{}",
        run.stderr
    );
    eprintln!(
        "node {} lost with {} letters; the run took {:.1} s",
        run.lost,
        run.lost_letters.len(),
        run.elapsed.as_secs_f64()
    );
}

/// Runs orchestrate with `how` and a node lost mid-run, checks the run
/// with `check`, then that nothing of it is left; the node comes back
/// whatever happens.
fn with_a_node_lost(how: &[&str], check: impl FnOnce(&Outcome)) {
    let Some((conf, _cluster)) = cluster() else {
        return;
    };
    if nodes(&conf).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (run, lost) = run_losing_a_node(&conf, dir.path(), how);
    check(&run);
    assert_nothing_left(&conf, dir.path());
    drop(lost);
}

const SRUN: &str = "srun --ntasks=1 --quiet --job-name=pf-node-loss";

#[test]
fn a_lost_nodes_srun_letters_are_rerun_on_the_nodes_left() {
    with_a_node_lost(
        &["--launcher", SRUN, "--retries", "1"],
        assert_rerun_elsewhere,
    );
}

#[test]
fn a_lost_nodes_array_tasks_are_rerun_on_the_nodes_left() {
    with_a_node_lost(&["--sbatch", "--retries", "1"], assert_rerun_elsewhere);
}

#[test]
fn without_retries_a_lost_nodes_letters_fail_naming_the_node() {
    with_a_node_lost(&["--launcher", SRUN], |run| {
        assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
        assert_eq!(run.stdout, "");
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("error: letter"))
            .collect();
        assert!(!errors.is_empty(), "{}", run.stderr);
        for line in &errors {
            assert!(line.contains(&format!("child on {} ", run.lost)), "{line}");
        }
    });
}
