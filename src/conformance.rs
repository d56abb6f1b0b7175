//! Does a child program keep the protocol? The cases every child must pass,
//! written once, run by `orchestrate --check-child PROG` and by the tests
//! against every child the project ships (`reduce`, `examples/reduce.py`).
//!
//! Each case runs the program once, exactly as orchestrate would (the
//! argv from `protocol`, stdin and stdout on /dev/null unless the case
//! feeds stdin), in a fresh folder, with a deadline.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::polymer::UnitType;
use crate::protocol::{self, Assignment, ResultFile};

/// What one run of the child is given.
struct Given<'a> {
    /// The polymer file's content, or standard input's with `stdin`.
    input: &'a [u8],
    stdin: bool,
    letter: char,
    /// A result file already there before the child runs.
    stale_result: bool,
}

/// What the child must do.
enum Expected {
    /// Exit 0, leaving exactly this length in the result file.
    Length(usize),
    /// Exit 1, with this text in its stderr, and no result file.
    Refusal(&'static str),
}

/// One case: its name for people, what is given, what is expected.
struct Case {
    name: String,
    given: Given<'static>,
    expected: Expected,
}

fn cases() -> Vec<Case> {
    const EXAMPLE: &[u8] = b"dabAcCaCBAcCcaDA\n";
    let lengths = [('a', 6), ('b', 8), ('c', 4), ('d', 6), ('e', 10)];
    let mut cases: Vec<Case> = lengths
        .into_iter()
        .map(|(letter, length)| Case {
            name: format!("the worked example without {letter} reacts to {length}"),
            given: Given::file(EXAMPLE, letter),
            expected: Expected::Length(length),
        })
        .collect();
    let crlf = &b"\xEF\xBB\xBFdabAcCaCBAcCcaDA\r\n"[..];
    let bom_utf8 = &b"\xEF\xBB\xBFab\xC3\xA9"[..];
    let more: [(&str, Given, Expected); 8] = [
        (
            "standard input (-)",
            Given::file(EXAMPLE, 'c').on_stdin(),
            Expected::Length(4),
        ),
        (
            "a byte-order mark and CRLF",
            Given::file(crlf, 'c'),
            Expected::Length(4),
        ),
        (
            "an empty polymer",
            Given::file(b"", 'a'),
            Expected::Length(0),
        ),
        (
            "an existing result file is replaced",
            Given::file(EXAMPLE, 'a').over_a_stale_result(),
            Expected::Length(6),
        ),
        (
            "a digit is refused, naming its offset",
            Given::file(b"dab1", 'a'),
            Expected::Refusal("byte offset 3"),
        ),
        (
            "a space inside is refused, naming its offset",
            Given::file(b"ab cd\n", 'a'),
            Expected::Refusal("byte offset 2"),
        ),
        (
            "a non-ASCII byte after a byte-order mark is refused, naming its offset",
            Given::file(bom_utf8, 'a'),
            Expected::Refusal("byte offset 5"),
        ),
        (
            "bad input on standard input is refused",
            Given::file(b"ab\0", 'a').on_stdin(),
            Expected::Refusal("byte offset 2"),
        ),
    ];
    cases.extend(more.into_iter().map(|(name, given, expected)| Case {
        name: name.to_string(),
        given,
        expected,
    }));
    cases
}

impl Given<'static> {
    /// `input` in a file, for `letter`.
    fn file(input: &'static [u8], letter: char) -> Self {
        Given {
            input,
            stdin: false,
            letter,
            stale_result: false,
        }
    }

    /// The same input on standard input instead.
    fn on_stdin(self) -> Self {
        Given {
            stdin: true,
            ..self
        }
    }

    /// The same, with a result file already where the child must write.
    fn over_a_stale_result(self) -> Self {
        Given {
            stale_result: true,
            ..self
        }
    }
}

/// How one case went: its name, and what was wrong (`None`: passed).
#[derive(Debug)]
pub struct Verdict {
    pub case: String,
    pub problem: Option<String>,
}

/// How long the cases may take, all together: they run at once, so a
/// child that hangs costs this once, not once per case.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs every case against `program`, all at once, each in a folder of
/// its own inside `folder`; fails only when a case could not be run at all
/// (no folder for it).
pub fn check(program: &Path, folder: &Path) -> anyhow::Result<Vec<Verdict>> {
    let mut runs = Vec::new();
    for case in cases() {
        let dir = tempfile::Builder::new()
            .prefix("case-")
            .tempdir_in(folder)
            .with_context(|| {
                format!(
                    "could not create a folder in {}",
                    crate::files::shown(folder)
                )
            })?;
        let started = start(program, &case, dir.path());
        runs.push((case, dir, started));
    }
    let deadline = Instant::now() + DEADLINE;
    let verdicts = runs
        .into_iter()
        .map(|(case, dir, started)| {
            let problem = started
                .and_then(|started| started.finish(deadline))
                .and_then(|(status, stderr)| judge(&case, dir.path(), status, stderr))
                .err();
            Verdict {
                case: case.name,
                problem: problem.map(|err| format!("{err:#}")),
            }
        })
        .collect();
    Ok(verdicts)
}

/// A case's child, started.
struct Started {
    child: std::process::Child,
    stderr_path: PathBuf,
}

/// Writes the case's files into `dir` and starts the child on them.
fn start(program: &Path, case: &Case, dir: &Path) -> anyhow::Result<Started> {
    use crate::sys::process::SpawnExt as _;
    let given = &case.given;
    let polymer = dir.join("polymer.txt");
    std::fs::write(&polymer, given.input).context("could not write the polymer")?;
    if given.stale_result {
        std::fs::create_dir_all(dir.join("out"))?;
        std::fs::write(result_path(case, dir), "999\n")?;
    }
    let assignment = Assignment {
        letter: UnitType::from_ascii(given.letter as u8).context("a letter")?,
        result: result_path(case, dir),
        polymer: if given.stdin { "-".into() } else { polymer },
    };
    // Stderr goes to a file: a pipe could be held open by something the
    // child left behind.
    let stderr_path = dir.join("stderr");
    let stderr = std::fs::File::create(&stderr_path)?;
    let mut command = Command::new(program);
    // Contained as in a run: stopping the case stops all it started.
    let _ = crate::sys::contain::contain_each(&mut command);
    let mut child = command
        .args(assignment.args())
        .current_dir(dir)
        .own_process_group()
        .stdin(if given.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("could not start {}", crate::files::shown(program)))?;
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(given.input);
    }
    Ok(Started { child, stderr_path })
}

fn result_path(case: &Case, dir: &Path) -> PathBuf {
    dir.join("out").join(format!("{}.1.txt", case.given.letter))
}

impl Started {
    /// Waits for the child until `deadline`, kills its process group, and
    /// returns its exit code and stderr.
    fn finish(mut self, deadline: Instant) -> anyhow::Result<(Option<i32>, String)> {
        let pid = self.child.id() as crate::sys::Pid;
        // Seen to exit without being reaped, so its group id stays its own.
        let exited = loop {
            if crate::supervise::child::has_exited(pid) {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        // The group is that of our unreaped child (it leads it), and
        // whatever it left there goes with it.
        let _ = crate::sys::process::kill_group(pid, crate::sys::signals::Signal::Kill);
        let status = self.child.wait()?;
        if !exited {
            anyhow::bail!("did not exit within {} s", DEADLINE.as_secs());
        }
        let stderr = crate::files::read_small(&self.stderr_path, 1 << 20).unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr).trim_end().to_string();
        let _ = std::fs::remove_file(&self.stderr_path);
        Ok((status.code(), stderr))
    }
}

/// Whether the child did what `case` expects of it.
fn judge(case: &Case, dir: &Path, status: Option<i32>, stderr: String) -> anyhow::Result<()> {
    let result = result_path(case, dir);
    match case.expected {
        Expected::Length(length) => {
            anyhow::ensure!(
                status == Some(0),
                "exited with {status:?}, expected 0; stderr: {stderr}"
            );
            match protocol::read_result(&result, usize::MAX)? {
                ResultFile::Length(found) if found == length => {}
                found => anyhow::bail!("result file: {found:?}, expected {length}"),
            }
            let mine = format!("{}.1.txt", case.given.letter);
            let others: Vec<String> = std::fs::read_dir(dir.join("out"))?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| *name != mine)
                .collect();
            anyhow::ensure!(
                others.is_empty(),
                "left other files beside its result: {others:?}"
            );
        }
        Expected::Refusal(text) => {
            anyhow::ensure!(
                status == Some(1),
                "exited with {status:?}, expected 1; stderr: {stderr}"
            );
            anyhow::ensure!(
                stderr.contains(text),
                "stderr does not say {text:?}: {stderr}"
            );
            anyhow::ensure!(!result.exists(), "wrote a result file for input it refused");
        }
    }
    Ok(())
}

/// The program named on the command line, as an absolute path to run
/// (cases run in folders of their own): a bare name is looked up on PATH.
pub fn resolve(program: &Path) -> PathBuf {
    let found = if program.components().count() > 1 {
        program.to_path_buf()
    } else {
        which::which(program).unwrap_or_else(|_| program.to_path_buf())
    };
    std::path::absolute(&found).unwrap_or(found)
}
