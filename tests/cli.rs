//! What users of a Rust command-line tool expect around the job itself:
//! `cargo install` puts both binaries on PATH and they find each other, man
//! pages and shell completions come from the binaries, every error is one
//! line, the JSON report has exactly its documented fields, and the
//! concurrency reported is the one used.

mod common;

use std::fs;
#[cfg(unix)]
use std::process::Command;

use common::{example, orchestrate};
use predicates::prelude::*;

/// A tool the test needs: present, or (outside CI) a printed skip.
#[cfg(unix)]
fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found || !common::must_not_skip(),
        "{name} is missing: .ci/run installs it"
    );
    if !found {
        eprintln!("skipped: {name} is not installed");
    }
    found
}

// Read with Unix tools (man, bash).
#[cfg(unix)]
#[test]
fn both_binaries_write_man_pages_that_render() {
    if !tool("man") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (program, option) in [
        (common::orchestrate_bin(), "--letters"),
        (common::reduce_bin(), "--letter"),
    ] {
        let page = Command::new(&program)
            .args(["--generate", "man"])
            .output()
            .unwrap();
        assert!(page.status.success());
        let path = dir.path().join("page.1");
        fs::write(&path, &page.stdout).unwrap();
        let rendered = Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        assert!(rendered.status.success());
        let text = String::from_utf8_lossy(&rendered.stdout);
        let name = program.file_name().unwrap().to_str().unwrap();
        assert!(text.contains("NAME"), "{text}");
        assert!(text.contains(name), "{text}");
        assert!(text.contains(option), "{name}: {text}");
    }
}

// Read with Unix tools (man, bash).
#[cfg(unix)]
#[test]
fn the_bash_completion_completes_options() {
    if !tool("bash") {
        return;
    }
    let script = Command::new(common::orchestrate_bin())
        .args(["--generate", "complete-bash"])
        .output()
        .unwrap();
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orchestrate.bash");
    fs::write(&path, &script.stdout).unwrap();
    let completed = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(orchestrate --le); COMP_CWORD=1; \
             _orchestrate orchestrate --le orchestrate; echo \"${{COMPREPLY[@]}}\"",
            path.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&completed.stdout).trim(),
        "--letters"
    );
    for shell in ["zsh", "fish", "powershell"] {
        for program in [common::orchestrate_bin(), common::reduce_bin()] {
            let out = Command::new(&program)
                .args(["--generate", &format!("complete-{shell}")])
                .output()
                .unwrap();
            assert!(out.status.success());
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.len() > 500 && text.contains("quiet"), "{shell}");
        }
    }
}

// Cargo runs where the tests are built: on Linux (the Windows build is
// installed and run as a wheel in CI instead).
#[cfg(unix)]
#[test]
fn cargo_install_puts_both_binaries_on_path_and_they_find_each_other() {
    let root = tempfile::tempdir().unwrap();
    let manifest = env!("CARGO_MANIFEST_DIR");
    // A target folder of its own, kept between runs so that a second run
    // only links.
    let status = Command::new(env!("CARGO"))
        .args([
            "install", "--locked", "--debug", "--quiet", "--path", manifest, "--root",
        ])
        .arg(root.path())
        .env(
            "CARGO_TARGET_DIR",
            std::path::Path::new(manifest).join("target/install-test"),
        )
        .status()
        .unwrap();
    assert!(status.success());
    let bin = root.path().join("bin");
    assert!(bin.join("reduce").is_file() && bin.join("orchestrate").is_file());
    // Found on PATH alone, away from the build folders.
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::new("orchestrate")
        .env("PATH", &bin)
        .current_dir(dir.path())
        .args(["-q"])
        .arg(example())
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success()
        .stdout("4\n");
}

// Windows allows no newline in a file's name.
#[cfg(unix)]
#[test]
fn error_lines_stay_one_line_whatever_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("bad\nname.txt");
    fs::write(&odd, "ab1").unwrap();
    for mut command in [orchestrate(dir.path()), common::reduce(dir.path())] {
        command
            .arg(&odd)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("bad\\nname.txt: byte offset 2"))
            .stderr(predicate::function(|s: &str| s.lines().count() == 1));
    }
    orchestrate(dir.path())
        .arg("--reduce-bin")
        .arg(dir.path().join("no\nsuch"))
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
fn a_missing_launcher_is_named() {
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .args(["--launcher", "nonexistent-cmd -x"])
        .arg(example())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "child could not be started: {} (launcher nonexistent-cmd)",
            // The standard library looks a program up itself on Windows.
            match cfg!(windows) {
                true => "program not found".to_string(),
                false => common::os_error(2, 2),
            }
        )));
}

#[test]
fn a_folder_as_job_log_is_one_error_said_once() {
    let dir = tempfile::tempdir().unwrap();
    orchestrate(dir.path())
        .args(["--joblog", "."])
        .arg(example())
        .assert()
        .code(1)
        .stderr("orchestrate: error: could not write .: it is a folder\n");
}

#[test]
fn the_concurrency_reported_is_the_concurrency_used() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (&["--jobs", "100000"][..], "26 at once"),
        (&["--jobs", "100000", "--letters", "abc"], "3 at once"),
        (
            &["--mode", "thread", "--jobs", "64", "--letters", "ab"],
            "2 at once",
        ),
    ] {
        orchestrate(dir.path())
            .args(args)
            .arg(example())
            .assert()
            .success()
            .stdout(predicate::str::contains(expected));
    }
}

#[test]
fn each_binary_tells_how_to_write_its_own_man_page() {
    for (bin, other) in [
        (common::reduce_bin(), "orchestrate"),
        (common::orchestrate_bin(), "reduce"),
    ] {
        let name = if other == "reduce" {
            "orchestrate"
        } else {
            "reduce"
        };
        let help = std::process::Command::new(&bin)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8(help.stdout).unwrap();
        assert!(
            help.contains(&format!("{name} --generate man > {name}.1")),
            "{help}"
        );
        assert!(!help.contains(&format!("{other} --generate man")), "{help}");
    }
}

#[test]
fn a_launcher_whose_path_has_spaces_runs_every_child() {
    let dir = tempfile::tempdir().unwrap();
    // The launcher's own folder and name have spaces.
    let folder = dir.path().join("launch tools");
    fs::create_dir(&folder).unwrap();
    let launcher = folder.join(format!("my launcher{}", std::env::consts::EXE_SUFFIX));
    fs::copy(common::faulty_reduce(), &launcher).unwrap();
    let events = dir.path().join("events");
    orchestrate(dir.path())
        .env("EVENT_LOG", &events)
        .arg("--launcher")
        .arg(format!("\"{}\" --launch", launcher.display()))
        .args(["-q"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    let launched = fs::read_to_string(&events).unwrap();
    assert_eq!(
        launched.lines().filter(|line| *line == "launch").count(),
        26
    );
}

#[cfg(not(target_os = "linux"))]
#[test]
fn slurm_options_say_that_they_need_linux() {
    let dir = tempfile::tempdir().unwrap();
    for options in [
        &["--sbatch=--partition=x", "--results-dir", "results"][..],
        &["--launcher", "srun --quiet"],
    ] {
        orchestrate(dir.path())
            .args(options)
            .arg(example())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "need Slurm, which runs on Linux only",
            ));
    }
}

#[test]
fn paths_with_spaces_and_letters_of_any_script_work() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mes données à réduire");
    fs::create_dir(&folder).unwrap();
    let input = folder.join("entrée ünï 入力.txt");
    fs::copy(example(), &input).unwrap();
    let results = folder.join("résultats");
    orchestrate(dir.path())
        .args(["-q", "--results-dir"])
        .arg(&results)
        .arg(&input)
        .assert()
        .success()
        .stdout("4\n");
    assert_eq!(fs::read_to_string(results.join("c.txt")).unwrap(), "4\n");
    // An error names such a path as it is.
    let missing = folder.join("absente é.txt");
    orchestrate(dir.path())
        .arg(&missing)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(missing.display().to_string()));
}
