//! The `reduce` binary, run for real: results, input rules, errors.

mod common;

use std::fs;

use common::{entries, example, reduce};
use predicates::prelude::*;

#[test]
fn reduce_gives_the_worked_example_length_for_every_letter() {
    let dir = tempfile::tempdir().unwrap();
    let expected = |letter: char| match letter {
        'a' | 'd' => 6,
        'b' => 8,
        'c' => 4,
        _ => 10,
    };
    for letter in 'a'..='z' {
        for spelled in [letter, letter.to_ascii_uppercase()] {
            reduce(dir.path())
                .args(["--letter", &spelled.to_string()])
                .arg(example())
                .assert()
                .success()
                .stdout(format!("{}\n", expected(letter)))
                .stderr("");
            let written = fs::read_to_string(dir.path().join(format!("out/{letter}.txt"))).unwrap();
            assert_eq!(written, format!("{}\n", expected(letter)));
        }
    }
}

#[test]
fn reduce_without_a_letter_reacts_fully_into_out_full() {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .arg(example())
        .assert()
        .success()
        .stdout("10\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("out/full.txt")).unwrap(),
        "10\n"
    );
}

#[test]
fn reduce_writes_where_output_says_creating_folders_and_replacing_old_results() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("deep/er/c.txt");
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    fs::write(&target, "stale and much longer than the result\n").unwrap();
    reduce(dir.path())
        .args(["-l", "c", "-o"])
        .arg(&target)
        .arg(example())
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&target).unwrap(), "4\n");
    assert_eq!(
        entries(target.parent().unwrap()),
        ["c.txt"],
        "no temporary file is left"
    );
}

#[test]
fn reduce_with_output_dash_writes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .args(["-l", "c", "-o", "-"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn reduce_quiet_prints_nothing_but_still_writes_the_result() {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .args(["-q", "-l", "c"])
        .arg(example())
        .assert()
        .success()
        .stdout("");
    assert_eq!(
        fs::read_to_string(dir.path().join("out/c.txt")).unwrap(),
        "4\n"
    );
}

#[track_caller]
fn accepts(stdin: &[u8], letter: &str, expected: usize) {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .args(["-l", letter, "-o", "-", "-"])
        .write_stdin(stdin)
        .assert()
        .success()
        .stdout(format!("{expected}\n"))
        .stderr("");
}

#[test]
fn reduce_reads_standard_input_with_the_shared_input_rules() {
    accepts(b"dabAcCaCBAcCcaDA", "c", 4);
    accepts(b"dabAcCaCBAcCcaDA\n", "c", 4);
    accepts(b"dabAcCaCBAcCcaDA\r\n", "c", 4);
    accepts(b"dabAcCaCBAcCcaDA \t\r\n\n", "c", 4);
    accepts(b"\xEF\xBB\xBFdabAcCaCBAcCcaDA\r\n", "c", 4);
    accepts(b"", "c", 0);
    accepts(b"\n", "c", 0);
    accepts(b"\xEF\xBB\xBF", "c", 0);
    accepts(b"aA", "b", 0);
}

#[test]
fn reduce_reads_a_file_with_byte_order_mark_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("windows.txt");
    fs::write(&path, b"\xEF\xBB\xBFdabAcCaCBAcCcaDA\r\n").unwrap();
    reduce(dir.path())
        .args(["-l", "c"])
        .arg(&path)
        .assert()
        .success()
        .stdout("4\n");
}

/// Runs `reduce` on a file holding `content` and expects a one-line error
/// naming the file and containing `message`, exit 1, and no result written.
#[track_caller]
fn rejects(content: &[u8], message: &str) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("input.txt"), content).unwrap();
    let output = reduce(dir.path())
        .args(["-l", "c", "input.txt"])
        .assert()
        .failure()
        .code(1)
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, format!("reduce: error: input.txt: {message}\n"));
    assert_eq!(entries(dir.path()), ["input.txt"], "nothing may be written");
}

#[test]
fn reduce_rejects_bad_input_naming_the_file_the_byte_and_its_offset() {
    rejects(
        b"abc3",
        "byte offset 3: '3' is not a polymer unit (expected A-Z or a-z)",
    );
    rejects(
        b"ab cd\n",
        "byte offset 2: ' ' is not a polymer unit (expected A-Z or a-z)",
    );
    rejects(
        b"ab\ncd\n",
        "byte offset 2: '\\n' is not a polymer unit (expected A-Z or a-z)",
    );
    rejects(
        b"ab\xC3\xA9",
        "byte offset 2: 0xc3 is not a polymer unit (expected A-Z or a-z)",
    );
    rejects(
        b"ab\0",
        "byte offset 2: '\\x00' is not a polymer unit (expected A-Z or a-z)",
    );
    rejects(
        b"\xEF\xBB\xBFab-",
        "byte offset 5: '-' is not a polymer unit (expected A-Z or a-z)",
    );
    rejects(
        b"\tab",
        "byte offset 0: '\\t' is not a polymer unit (expected A-Z or a-z)",
    );
}

#[test]
fn reduce_names_standard_input_in_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .args(["-l", "c", "-"])
        .write_stdin("ab1")
        .assert()
        .code(1)
        .stderr("reduce: error: <stdin>: byte offset 2: '1' is not a polymer unit (expected A-Z or a-z)\n");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn reduce_reports_a_missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .args(["-l", "c", "no-such-file.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "reduce: error: could not read no-such-file.txt: ",
        ))
        .stderr(predicate::str::ends_with(format!(
            "{}\n",
            common::os_error(2, 2)
        )));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn reduce_reports_a_directory_given_as_input() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("folder")).unwrap();
    reduce(dir.path())
        .args(["-l", "c", "folder"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "reduce: error: could not read folder: ",
        ));
    assert_eq!(entries(dir.path()), ["folder"]);
}

#[test]
fn reduce_reports_an_unreadable_input_file() {
    let dir = tempfile::tempdir().unwrap();
    // Permission bits do not stop root, so use a failure nobody can override:
    // a path that runs through a regular file.
    fs::write(dir.path().join("plain"), "ab").unwrap();
    reduce(dir.path())
        .args(["-l", "c", "plain/input.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "reduce: error: could not read plain/input.txt: ",
        ))
        .stderr(predicate::str::ends_with(format!(
            "{}\n",
            common::os_error(20, 3)
        )));
}

#[test]
fn reduce_reports_an_unwritable_output_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file"), "").unwrap();
    // The output's folder would have to be a regular file: refused before
    // any work.
    reduce(dir.path())
        .args(["-l", "c", "-o", "file/c.txt"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "reduce: error: could not write file/c.txt: {}\n",
            common::os_error(20, 3)
        ));
    // The output is an existing folder: the rename into place fails.
    fs::create_dir(dir.path().join("taken")).unwrap();
    reduce(dir.path())
        .args(["-l", "c", "-o", "taken"])
        .arg(example())
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "reduce: error: could not write taken: ",
        ));
    assert_eq!(entries(dir.path()), ["file", "taken"]);
    assert!(entries(&dir.path().join("taken")).is_empty());
}

#[test]
fn reduce_rejects_a_bad_letter_as_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["1", "ab", "", "é"] {
        reduce(dir.path())
            .args(["--letter", bad])
            .arg(example())
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("invalid value"))
            .stderr(predicate::str::contains("--letter <LETTER>"));
    }
    reduce(dir.path()).assert().code(2);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn reduce_finds_the_shipped_puzzle_input_minimum() {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .args(["-o", "-"])
        .arg(common::input("polymer-50k.txt"))
        .assert()
        .success()
        .stdout("9848\n");
    reduce(dir.path())
        .args(["-o", "-", "-l", "t"])
        .arg(common::input("polymer-50k.txt"))
        .assert()
        .success()
        .stdout("3190\n");
}

#[test]
fn reduce_plain_stack_kernel_gives_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    for (letter, expected) in [("t", "3190\n"), ("a", "9490\n")] {
        reduce(dir.path())
            .args(["--kernel", "plain-stack", "-o", "-", "-l", letter])
            .arg(common::input("polymer-50k.txt"))
            .assert()
            .success()
            .stdout(expected);
    }
    reduce(dir.path())
        .args(["--kernel", "plain-stack", "-o", "-"])
        .arg(example())
        .assert()
        .success()
        .stdout("10\n");
}

/// A sealed in-memory file holding `content`, opened afresh for reading
/// (as orchestrate hands each local child the polymer on standard input).
#[cfg(unix)]
fn sealed_stdin(content: &[u8]) -> std::fs::File {
    use std::io::Write;
    let mut file = polymer_fanout::sys::sealed::create(c"test").unwrap();
    file.write_all(content).unwrap();
    polymer_fanout::sys::sealed::seal(&file).unwrap();
    std::fs::File::open(polymer_fanout::sys::sealed::path_for_self(&file)).unwrap()
}

/// `reduce --letter c -o - -` with `stdin`: its status, stdout and stderr.
#[cfg(unix)]
fn reduce_c_from(stdin: std::fs::File) -> (Option<i32>, String, String) {
    let output = std::process::Command::new(common::reduce_bin())
        .args(["--letter", "c", "-o", "-", "-"])
        .stdin(stdin)
        .output()
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        output.status.code(),
        text(output.stdout),
        text(output.stderr),
    )
}

// Sealed files are Linux's.
#[cfg(unix)]
#[test]
fn reduce_reads_a_sealed_polymer_on_standard_input_whole() {
    // Reacted (read in place), and not reacted (read as a stream after the
    // look at it): both from the first byte.
    for content in [&b"dabCBAcaDA\n"[..], b"dabAcCaCBAcCcaDA\n"] {
        let expected = (Some(0), "4\n".to_string(), String::new());
        assert_eq!(reduce_c_from(sealed_stdin(content)), expected);
    }
    let (status, stdout, stderr) = reduce_c_from(sealed_stdin(b"ab1\n"));
    assert_eq!((status, stdout.as_str()), (Some(1), ""));
    assert_eq!(
        stderr,
        "reduce: error: <stdin>: byte offset 2: '1' is not a polymer unit (expected A-Z or a-z)\n"
    );
}

#[cfg(unix)]
/// One rule for every output (`--output` here, `--joblog` and `--timeline`
/// in `tests/orchestrate.rs`): a symlink is followed and its target written
/// atomically, a device or FIFO is written into, never replaced.
#[test]
fn reduce_output_through_a_symlink_writes_its_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link.txt");
    std::os::unix::fs::symlink("real.txt", &link).unwrap();
    fs::write(dir.path().join("real.txt"), "old\n").unwrap();
    reduce(dir.path())
        .args(["-q", "-l", "c", "-o", "link.txt"])
        .arg(example())
        .assert()
        .success()
        .stdout("");
    assert!(link.symlink_metadata().unwrap().is_symlink());
    assert_eq!(
        fs::read_to_string(dir.path().join("real.txt")).unwrap(),
        "4\n"
    );
    assert_eq!(entries(dir.path()), ["link.txt", "real.txt"]);
}

// No path names a descriptor on Windows.
#[cfg(unix)]
#[test]
fn reduce_output_to_dev_stdout_prints_into_the_descriptor_as_it_is_open() {
    let dir = tempfile::tempdir().unwrap();
    // Into a pipe.
    reduce(dir.path())
        .args(["-q", "-l", "c", "-o", "/dev/stdout"])
        .arg(example())
        .assert()
        .success()
        .stdout("4\n");
    // Into a file the caller opened for appending: the file keeps its
    // content and its name, and gains the result.
    let out = dir.path().join("out.log");
    fs::write(&out, "earlier\n").unwrap();
    let appending = fs::OpenOptions::new().append(true).open(&out).unwrap();
    let mut command = std::process::Command::new(common::reduce_bin());
    let status = command
        .current_dir(dir.path())
        .args(["-q", "-l", "c", "-o", "/dev/stdout"])
        .arg(example())
        .stdout(appending)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(fs::read_to_string(&out).unwrap(), "earlier\n4\n");
    assert!(
        fs::symlink_metadata("/dev/stdout").unwrap().is_symlink(),
        "/dev/stdout is still a link"
    );
}

#[cfg(unix)]
#[test]
fn reduce_output_to_a_device_writes_into_it_and_leaves_the_device() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .args(["-q", "-l", "a", "-o", "/dev/null"])
        .arg(example())
        .assert()
        .success();
    let null = fs::symlink_metadata("/dev/null").unwrap();
    assert!(
        null.file_type().is_char_device(),
        "/dev/null is still a device"
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[cfg(unix)]
#[test]
fn reduce_output_to_a_fifo_without_a_reader_is_one_line_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("result.fifo");
    common::mkfifo(&fifo);
    let output = reduce(dir.path())
        .args(["-q", "-l", "c", "-o", "result.fifo"])
        .arg(example())
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "reduce: error: could not open result.fifo for writing: \
         No such device or address (os error 6)\n"
    );
}

/// Regression: a child killed with its run made the run's private folder
/// again, after the run's janitor had removed it.
#[test]
fn reduce_as_a_child_never_makes_the_folder_it_was_handed() {
    let dir = tempfile::tempdir().unwrap();
    reduce(dir.path())
        .env("POLYMER_FANOUT_START_FILE", dir.path().join("mark"))
        .args(["-q", "-l", "c", "-o", "gone/c.1.txt"])
        .arg(example())
        .assert()
        .code(1)
        .stderr(format!(
            "reduce: error: could not write gone/c.1.txt: {}\n",
            common::os_error(2, 3)
        ));
    assert!(!dir.path().join("gone").exists());
}
