//! Does a child program keep the protocol? The cases every child must pass,
//! written once, run by `orchestrate --check-child PROG` and by the tests
//! against every child the project ships (`reduce`, `examples/reduce.py`).
//!
//! Each case runs the program once, exactly as orchestrate would: started,
//! contained, timed and stopped by the same supervision loop as a run's
//! children (the argv from `protocol`, stdout on /dev/null, stdin too
//! unless the case feeds it), in a fresh folder, with a deadline.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::polymer::UnitType;
use crate::protocol::Assignment;
use crate::supervise::child::{Handles, Running};
use crate::supervise::placement::Placement;
use crate::supervise::{
    Attempt, Backend, ChildProgram, Clock, Concluded, Context, Mark, Outcome, Policy, Signal,
    Start, StartError, Started, Supervisor, SystemClock,
};

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

/// How long the cases may take: they run at once, each with this time
/// limit, so a child that hangs costs this once, not once per case.
const DEADLINE: Duration = Duration::from_secs(20);

/// Runs every case against `program`, all at once, each in a folder of
/// its own inside `folder`; fails only when a case could not be run at all
/// (no folder for it).
pub fn check(program: &Path, folder: &Path) -> anyhow::Result<Vec<Verdict>> {
    let cases = cases();
    let mut dirs = Vec::new();
    for case in &cases {
        let dir = tempfile::Builder::new()
            .prefix("case-")
            .tempdir_in(folder)
            .with_context(|| {
                format!(
                    "could not create a folder in {}",
                    crate::files::shown(folder)
                )
            })?;
        prepare(case, dir.path())?;
        dirs.push(dir);
    }
    let attempts = run(program, &cases, &dirs)?;
    let verdicts = cases
        .iter()
        .zip(&dirs)
        .enumerate()
        .map(|(index, (case, dir))| {
            let problem = attempts
                .iter()
                .find(|a| a.attempt as usize == index + 1)
                .context("never started")
                .and_then(|attempt| judge(case, dir.path(), attempt))
                .err();
            Verdict {
                case: case.name.clone(),
                problem: problem.map(|err| format!("{err:#}")),
            }
        })
        .collect();
    Ok(verdicts)
}

/// Writes the case's files into `dir`: the polymer (or standard input's
/// content), and a stale result where the case asks for one.
fn prepare(case: &Case, dir: &Path) -> anyhow::Result<()> {
    let given = &case.given;
    let name = if given.stdin { "stdin" } else { "polymer.txt" };
    std::fs::write(dir.join(name), given.input).context("could not write the polymer")?;
    std::fs::create_dir_all(dir.join("out"))?;
    if given.stale_result {
        std::fs::write(result_path(case, dir), "999\n")?;
    }
    Ok(())
}

/// Runs the cases through the supervision loop, all at once, each under
/// the deadline: attempt number `n` is the `n`th case.
fn run(program: &Path, cases: &[Case], dirs: &[tempfile::TempDir]) -> anyhow::Result<Vec<Attempt>> {
    let signals = crate::signals::Signals::detached().context("could not watch for signals")?;
    let backend = Cases {
        program: ChildProgram {
            program: program.to_path_buf(),
            placement: Placement::Here,
            heeds_parent_pid: false,
        },
        cases,
        dirs,
        null: std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .context("could not open /dev/null")?,
        clock: &SystemClock,
    };
    let policy = Policy {
        concurrency: cases.len(),
        timeout: Some(DEADLINE),
        // A refusal is a case passed: every case runs to its end.
        keep_going: true,
        ..Policy::default()
    };
    let context = Context {
        policy: &policy,
        signals: &signals,
        clock: &SystemClock,
        epoch: std::time::Instant::now(),
    };
    let mut settled = |_: &Attempt| {};
    let letters = cases
        .iter()
        .enumerate()
        .map(|(index, case)| Ok((letter_of(case)?, index as u32 + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Supervisor::new(backend, context, &mut settled)
        .run(letters)
        .attempts)
}

fn letter_of(case: &Case) -> anyhow::Result<UnitType> {
    UnitType::from_ascii(case.given.letter as u8).context("a letter")
}

fn result_path(case: &Case, dir: &Path) -> PathBuf {
    dir.join("out").join(format!("{}.1.txt", case.given.letter))
}

/// The cases' children, started as a run starts its own.
struct Cases<'a> {
    program: ChildProgram,
    cases: &'a [Case],
    dirs: &'a [tempfile::TempDir],
    null: std::fs::File,
    clock: &'a dyn Clock,
}

impl Cases<'_> {
    fn spawn(&self, attempt: u32) -> Result<Running, StartError> {
        let index = attempt as usize - 1;
        let (case, dir) = (&self.cases[index], self.dirs[index].path());
        let given = &case.given;
        let assignment = Assignment {
            letter: letter_of(case).map_err(|err| StartError::lasting(format!("{err:#}")))?,
            result: result_path(case, dir),
            polymer: if given.stdin {
                "-".into()
            } else {
                dir.join("polymer.txt")
            },
        };
        let stdin = given
            .stdin
            .then(|| std::fs::File::open(dir.join("stdin")))
            .transpose()?;
        let handles = Handles {
            null: &self.null,
            stdin,
            folder: Some(dir),
        };
        Running::spawn(assignment, 1, &self.program, handles, self.clock).map_err(|err| {
            StartError {
                reason: format!(
                    "could not start {}: {}",
                    crate::files::shown(&self.program.program),
                    err.reason
                ),
                ..err
            }
        })
    }
}

impl Backend for Cases<'_> {
    type Handle = Running;

    fn batch_size(&self) -> usize {
        usize::MAX
    }

    fn start(&mut self, wanted: &[(UnitType, u32)]) -> Vec<Result<Started<Running>, StartError>> {
        wanted
            .iter()
            .map(|&(_, attempt)| {
                let running = self.spawn(attempt)?;
                Ok(Started {
                    spawned: running.spawned(),
                    started: Some(running.spawned()),
                    handle: running,
                    start: Start::Spawn,
                    host: None,
                })
            })
            .collect()
    }

    fn look(&mut self, _: &mut Running) -> Option<Mark> {
        None
    }

    fn has_ended(&mut self, running: &mut Running) -> bool {
        running.has_exited()
    }

    fn signal(&mut self, running: &mut Running, signal: Signal) {
        running.signal(signal);
    }

    /// With all the child's stderr (as the cases judge it), not only the
    /// tail a run's failure line shows.
    fn conclude(&mut self, running: Running, _stopped: bool) -> Concluded {
        let stderr = running.stderr_text(1 << 20);
        Concluded {
            stderr_tail: vec![stderr],
            ..running.conclude(usize::MAX).1
        }
    }

    fn finish(&mut self, _: &crate::signals::Signals, _: bool) {
        crate::sys::contain::kill_orphans(&[]);
    }
}

/// Whether the child did what `case` expects of it.
fn judge(case: &Case, dir: &Path, attempt: &Attempt) -> anyhow::Result<()> {
    let result = result_path(case, dir);
    let stderr = attempt.stderr_tail.join(" / ");
    let outcome = &attempt.outcome;
    match case.expected {
        Expected::Length(length) => {
            match outcome {
                Outcome::Ok(found) if *found == length => {}
                Outcome::Ok(found) => anyhow::bail!("result file: {found}, expected {length}"),
                Outcome::Timeout => anyhow::bail!("did not exit within {} s", DEADLINE.as_secs()),
                other => anyhow::bail!("{other}, expected a result of {length}; stderr: {stderr}"),
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
            match outcome {
                Outcome::Exit(1) => {}
                Outcome::Timeout => anyhow::bail!("did not exit within {} s", DEADLINE.as_secs()),
                other => anyhow::bail!("{other}, expected exit status 1; stderr: {stderr}"),
            }
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
