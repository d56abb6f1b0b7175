//! Seeing what a run did: the in-process modes, the job log, the timeline,
//! the --verbose table and the progress display.

mod common;

use common::json_of;

use std::fs;
use std::path::Path;

#[cfg(unix)]
use common::entries;
use common::{example, input, orchestrate, orchestrate_faulty};
use predicates::prelude::*;

/// Runs every mode on `path` and checks they agree on everything but timing.
fn modes_agree(dir: &Path, path: &Path) {
    let mut answers = Vec::new();
    for mode in ["process", "thread", "serial", "sweep"] {
        let output = orchestrate(dir)
            .args(["--json", "--mode", mode])
            .arg(path)
            .output()
            .unwrap();
        assert!(output.status.success(), "{mode} on {}", path.display());
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "",
            "{mode} prints nothing on stderr"
        );
        let json = json_of(&output.stdout);
        assert_eq!(json["mode"], mode);
        answers.push((
            json["min_length"].clone(),
            json["best_letter"].clone(),
            json["full_length"].clone(),
            json["results"].clone(),
        ));
    }
    assert_eq!(
        answers[0],
        answers[1],
        "process and thread modes on {}",
        path.display()
    );
    assert_eq!(
        answers[0],
        answers[2],
        "process and serial modes on {}",
        path.display()
    );
    assert_eq!(
        answers[0],
        answers[3],
        "process and sweep modes on {}",
        path.display()
    );
}

#[test]
fn every_mode_gives_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    modes_agree(dir.path(), &example());
    modes_agree(dir.path(), &input("polymer-50k.txt"));
    for (units, seed) in [(0, 1), (1, 2), (777, 3), (5_000, 4), (20_000, 5)] {
        let path = dir.path().join(format!("generated-{seed}.txt"));
        fs::write(
            &path,
            polymer_fanout::polymer::generate::polymer(units, seed),
        )
        .unwrap();
        modes_agree(dir.path(), &path);
    }
    // Removing `a` makes every `x` cancel with the next `X` while `b`
    // stays: more segments than a sweep holds (1 Mi), so the sweep mode
    // and every child fall back to a copy for that letter.
    let path = dir.path().join("many-segments.txt");
    fs::write(&path, b"xaXb".repeat((1 << 20) + 10)).unwrap();
    modes_agree(dir.path(), &path);
}

#[test]
fn the_json_report_names_the_mode_and_the_jobs_used() {
    let dir = tempfile::tempdir().unwrap();
    for (args, mode, jobs) in [
        (&["--mode", "serial"][..], "serial", 1),
        (&["--mode", "sweep", "--jobs", "2"], "sweep", 2),
        (&["--mode", "thread", "--jobs", "3"], "thread", 3),
        (&["--jobs", "4"], "process", 4),
        (&[], "process", 26),
    ] {
        let output = orchestrate(dir.path())
            .arg("--json")
            .args(args)
            .arg(example())
            .output()
            .unwrap();
        let json = json_of(&output.stdout);
        assert_eq!(
            (json["mode"].as_str(), json["jobs"].as_u64()),
            (Some(mode), Some(jobs)),
            "{args:?}"
        );
    }
}

#[test]
fn process_only_options_are_usage_errors_in_other_modes() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--mode", "thread", "--launcher", "nice"][..],
        &["--mode", "serial", "--timeout", "1"],
        &["--mode", "thread", "--results-dir", "r"],
        &["--mode", "serial", "--reduce-bin", "x"],
        &["--mode", "thread", "--retries", "2"],
        &["--mode", "sweep", "--keep-going"],
    ] {
        orchestrate(dir.path())
            .args(args)
            .arg(example())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("applies only to --mode process"));
    }
}

/// This machine's host name, as children started directly report it.
fn this_host() -> String {
    let out = std::process::Command::new("hostname").output().unwrap();
    seen(String::from_utf8(out.stdout).unwrap().trim())
}

/// `text` as host names are compared here: on Windows without case (its
/// host names ignore it, and its tools differ in it).
fn seen(text: &str) -> String {
    match cfg!(windows) {
        true => text.to_ascii_lowercase(),
        false => text.to_string(),
    }
}

/// Parses a job log into rows of fields, checking its header and shape.
fn joblog_rows(path: &Path) -> Vec<Vec<String>> {
    let log = fs::read_to_string(path).unwrap();
    let mut lines = log.lines();
    assert_eq!(
        lines.next(),
        Some("letter\tattempts\tspawned_s\tstart_s\tduration_s\toutcome\tlength\thost")
    );
    lines
        .map(|line| {
            let fields: Vec<String> = line.split('\t').map(String::from).collect();
            assert_eq!(fields.len(), 8, "{line:?}");
            fields
        })
        .collect()
}

#[test]
fn the_job_log_has_one_row_per_letter_with_timings_and_lengths() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["process", "thread", "serial", "sweep"] {
        let log = dir.path().join(format!("{mode}.tsv"));
        orchestrate(dir.path())
            .args(["-q", "--mode", mode, "--joblog"])
            .arg(&log)
            .arg(example())
            .assert()
            .success()
            .stdout("4\n")
            .stderr("");
        let rows = joblog_rows(&log);
        assert_eq!(rows.len(), 26);
        for (row, letter) in rows.iter().zip('a'..='z') {
            assert_eq!(row[0], letter.to_string());
            assert_eq!(row[1], "1");
            let spawned: f64 = row[2].parse().unwrap();
            let start: f64 = row[3].parse().unwrap();
            let duration: f64 = row[4].parse().unwrap();
            assert!(
                0.0 <= spawned && spawned <= start && duration >= 0.0 && start + duration < 60.0
            );
            assert_eq!(row[5], "ok");
            let expected = match letter {
                'a' | 'd' => "6",
                'b' => "8",
                'c' => "4",
                _ => "10",
            };
            assert_eq!(row[6], expected, "{mode}, letter {letter}");
            // A child ran on this machine; in-process modes ran no child.
            let host = if mode == "process" {
                this_host()
            } else {
                String::new()
            };
            assert_eq!(seen(&row[7]), host, "{mode}, letter {letter}");
        }
    }
}

fn outcomes(path: &Path) -> Vec<(String, String, String)> {
    joblog_rows(path)
        .into_iter()
        .map(|row| (row[0].clone(), row[5].clone(), row[6].clone()))
        .collect()
}

// Among the failures is a death by a signal, which Windows does not have.
#[cfg(unix)]
#[test]
fn the_job_log_records_every_kind_of_failure() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("faults.tsv");
    orchestrate_faulty(dir.path())
        .env("FAULT_b", "exit")
        .env("FAULT_d", "signal")
        .env("FAULT_f", "nowrite")
        .env("FAULT_h", "garbage")
        .env("FAULT_j", "partial")
        .env("FAULT_l", "hang")
        .env("PID_LOG", dir.path().join("pids"))
        .args(["--keep-going", "--timeout", "0.5", "--joblog"])
        .arg(&log)
        .arg(example())
        .assert()
        .code(1);
    let rows = outcomes(&log);
    assert_eq!(rows.len(), 26);
    let outcome = |letter: &str| {
        rows.iter()
            .find(|r| r.0 == letter)
            .map(|r| (r.1.as_str(), r.2.as_str()))
    };
    assert_eq!(outcome("a"), Some(("ok", "6")));
    assert_eq!(outcome("b"), Some(("exit 3", "")));
    assert_eq!(outcome("d"), Some(("signal 11", "")));
    assert_eq!(outcome("f"), Some(("no-result", "")));
    assert_eq!(outcome("h"), Some(("bad-result", "")));
    assert_eq!(outcome("j"), Some(("bad-result", "")));
    assert_eq!(outcome("l"), Some(("timeout", "")));
    assert_eq!(rows.iter().filter(|r| r.1 == "ok").count(), 20);
}

#[test]
fn the_job_log_shows_letters_stopped_or_never_started_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("failfast.tsv");
    orchestrate_faulty(dir.path())
        .env("FAULT_b", "exit")
        .args(["--jobs", "1", "--joblog"])
        .arg(&log)
        .arg(example())
        .assert()
        .code(1);
    let rows = outcomes(&log);
    assert_eq!(rows[0], ("a".into(), "ok".into(), "6".into()));
    assert_eq!(rows[1], ("b".into(), "exit 3".into(), String::new()));
    assert!(rows[2..].iter().all(|r| r.1 == "not-started"), "{rows:?}");

    // With room for every child, those already started when `b` fails are
    // stopped, and the rest are never started.
    orchestrate_faulty(dir.path())
        .env("FAULT_ALL", "hang")
        .env("FAULT_b", "exit")
        .env("PID_LOG", dir.path().join("pids"))
        .arg("--joblog")
        .arg(&log)
        .arg(example())
        .assert()
        .code(1);
    let rows = outcomes(&log);
    assert_eq!(rows[0].1, "cancelled", "{rows:?}");
    assert_eq!(rows[1].1, "exit 3");
    assert!(
        rows.iter()
            .all(|r| ["cancelled", "exit 3", "not-started"].contains(&r.1.as_str())),
        "{rows:?}"
    );
}

#[test]
fn the_job_log_counts_attempts_of_a_retried_letter() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let log = dir.path().join("retries.tsv");
    orchestrate_faulty(dir.path())
        .env("FAULT_c", "flaky")
        .env("STATE_DIR", state.path())
        .args(["--retries", "2", "-q", "--joblog"])
        .arg(&log)
        .arg(example())
        .assert()
        .success();
    let rows = joblog_rows(&log);
    assert_eq!(rows[2][..2], ["c", "2"]);
    assert_eq!(rows[2][5..7], ["ok", "4"]);
}

#[test]
fn an_unwritable_job_log_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file"), "").unwrap();
    orchestrate(dir.path())
        .args(["-q", "--joblog", "file/log.tsv"])
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "orchestrate: error: could not write file/log.tsv",
        ));
}

/// Parses the SVG and returns (letter bars, phase bars, row labels).
fn timeline_shape(path: &Path) -> (Vec<String>, usize, Vec<String>) {
    let text = fs::read_to_string(path).unwrap();
    let svg = roxmltree::Document::parse(&text).expect("the timeline is well-formed XML");
    let root = svg.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let bars = |class: &str| {
        root.descendants()
            .filter(|n| n.tag_name().name() == "rect" && n.attribute("class") == Some(class))
            .collect::<Vec<_>>()
    };
    let letters = bars("bar letter")
        .iter()
        .map(|n| n.attribute("data-letter").unwrap().to_string())
        .collect();
    let ticks = root
        .descendants()
        .filter(|n| n.attribute("class") == Some("tick"))
        .count();
    assert!(ticks >= 2, "the time axis has labelled ticks");
    let labels = root
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text().map(String::from))
        .collect();
    (letters, bars("bar phase").len(), labels)
}

#[test]
fn the_timeline_is_an_svg_with_one_bar_per_letter_and_the_phases() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["process", "thread"] {
        let svg = dir.path().join(format!("{mode}.svg"));
        orchestrate(dir.path())
            .args(["-q", "--mode", mode, "--timeline"])
            .arg(&svg)
            .arg(input("polymer-50k.txt"))
            .assert()
            .success()
            .stdout("3190\n");
        let (letters, phases, labels) = timeline_shape(&svg);
        let expected: Vec<String> = ('a'..='z').map(String::from).collect();
        assert_eq!(letters, expected, "{mode}");
        assert!(
            phases >= 1,
            "{mode}: the phases before the letters are shown"
        );
        assert!(
            labels.iter().any(|l| l.starts_with("read and react")),
            "{mode}: the input is reacted as it is read: {labels:?}"
        );
        // Lanes of children are labelled with their host.
        let best = match mode {
            "process" => format!("t @ {} (best)", this_host()),
            _ => "t (best)".to_string(),
        };
        assert!(
            labels.iter().any(|label| seen(label) == best),
            "{mode}: the best letter is marked: {labels:?}"
        );
        assert!(
            labels
                .iter()
                .any(|l| l.contains("minimum 3190 units without t"))
        );
    }
}

#[test]
fn the_timeline_of_a_failed_run_shows_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("failed.svg");
    orchestrate_faulty(dir.path())
        .env("FAULT_k", "exit")
        .arg("--timeline")
        .arg(&svg)
        .arg(example())
        .assert()
        .code(1);
    let text = fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&text).unwrap();
    assert!(seen(&text).contains(&format!(
        "k (attempt 1 on {}): exited with status 3",
        this_host()
    )));
    assert!(text.contains("failed ("));
}

#[test]
fn verbose_prints_a_table_of_every_letter_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let output = orchestrate(dir.path())
        .args(["-q", "--verbose"])
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "4\n");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 27, "{stderr}");
    assert!(lines[0].starts_with("letter"));
    let c: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!((c[0], c[1], c[4]), ("c", "4", "ok"), "{stderr}");
}

// The terminal is made by script(1), a Unix tool.
#[cfg(unix)]
#[test]
fn progress_is_shown_only_when_stderr_is_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // Not a terminal: nothing on stderr.
    orchestrate_faulty(dir.path())
        .env("SLOW", "0.05")
        .args(["-q", "--jobs", "2"])
        .arg(example())
        .assert()
        .success()
        .stderr("");
    // A terminal, through script(1): the progress line appears.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !common::must_not_skip(),
            "script(1) is missing: install bsdutils (util-linux) to run this test"
        );
        eprintln!("skipped the terminal half: script(1) is not installed");
        return;
    }
    let command = format!(
        "{} -q --jobs 2 --reduce-bin {} {}",
        common::orchestrate_bin().display(),
        common::fixture("faulty-reduce.sh").display(),
        example().display()
    );
    let typescript = dir.path().join("typescript");
    assert_cmd::Command::new("script")
        .args(["-q", "-e", "-c", &command])
        .arg(&typescript)
        .env("REAL_REDUCE", common::reduce_bin())
        .env("SLOW", "0.05")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    let seen = String::from_utf8_lossy(&fs::read(&typescript).unwrap()).into_owned();
    assert!(seen.contains("/26 letters"), "{seen:?}");
}

// The launchers here are shell scripts.
#[cfg(unix)]
#[test]
fn the_job_log_and_timeline_show_time_spent_waiting_in_a_launcher() {
    let dir = tempfile::tempdir().unwrap();
    let (log, svg) = (dir.path().join("queued.tsv"), dir.path().join("queued.svg"));
    let results = dir.path().join("results");
    orchestrate(dir.path())
        .env("QUEUE_DELAY", "0.3")
        .arg("--launcher")
        .arg(common::fixture("queueing-launcher.sh"))
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg("--joblog")
        .arg(&log)
        .arg("--timeline")
        .arg(&svg)
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    // Every child was held in the queue before its work started: the job
    // log keeps the two moments apart.
    for row in joblog_rows(&log) {
        let spawned: f64 = row[2].parse().unwrap();
        let start: f64 = row[3].parse().unwrap();
        assert!(
            start > spawned,
            "letter {} started as it was spawned",
            row[0]
        );
    }
    let text = fs::read_to_string(&svg).unwrap();
    let waits = roxmltree::Document::parse(&text)
        .unwrap()
        .descendants()
        .filter(|n| n.attribute("class") == Some("wait"))
        .count();
    assert_eq!(waits, 26);
    assert!(
        entries(&results)
            .iter()
            .all(|name| !name.starts_with(".orchestrate-")),
        "the private folder, with the start marks, is removed: {:?}",
        entries(&results)
    );
}
