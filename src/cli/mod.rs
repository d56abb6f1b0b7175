//! The command lines of the two binaries, and the conventions they share
//! for writing to stdout and stderr.
//!
//! The binaries themselves stay thin: parse, one call into the library,
//! print, exit status. What they print never panics: a closed stderr is
//! ignored, a closed stdout ends the program with status 141 (128 +
//! SIGPIPE, what a shell reports for a program that SIGPIPE killed), and any
//! other stdout error is one line and status 1.

pub mod orchestrate;
pub mod reduce;

use std::io::{self, Write};
use std::process::ExitCode;

use clap_complete::Shell;

/// The exit status when stdout is a closed pipe.
pub const BROKEN_PIPE_STATUS: u8 = 141;

/// Writes one line to stderr, ignoring errors: there is nowhere left to
/// report them.
pub fn say(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Writes `text` and a newline to stdout; on failure, the exit status to
/// end with (after saying why, unless stdout is merely closed).
pub fn print(program: &str, text: &str) -> Result<(), ExitCode> {
    // Straight to the descriptor: a buffered stdout would restart a write
    // that a stop signal interrupts.
    let written = io::stdout().flush().and_then(|()| {
        let mut out = crate::sys::fs::duplicate_stdout()?;
        crate::files::write_unless_stopped(&mut out, format!("{text}\n").as_bytes())
    });
    match written {
        Ok(()) => Ok(()),
        Err(err) if crate::sys::fs::is_closed_pipe(&err) => Err(ExitCode::from(BROKEN_PIPE_STATUS)),
        Err(err) => {
            say(&format!(
                "{program}: error: could not write to stdout: {err}"
            ));
            Err(ExitCode::FAILURE)
        }
    }
}

/// What `--generate` writes: the man page, or a shell's completion script
/// (generated from the same definitions as the parser, so they cannot
/// drift, as ripgrep does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// A man page (roff).
    Man,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
    CompletePowershell,
}

/// Writes `what` for `command` to stdout; the exit status.
pub fn generate(what: Generate, mut command: clap::Command) -> ExitCode {
    let name = command.get_name().to_string();
    let mut out = Vec::new();
    let written = match what {
        Generate::Man => clap_mangen::Man::new(command).render(&mut out),
        Generate::CompleteBash => complete(Shell::Bash, &mut command, &name, &mut out),
        Generate::CompleteZsh => complete(Shell::Zsh, &mut command, &name, &mut out),
        Generate::CompleteFish => complete(Shell::Fish, &mut command, &name, &mut out),
        Generate::CompletePowershell => complete(Shell::PowerShell, &mut command, &name, &mut out),
    };
    if let Err(err) = written {
        say(&format!(
            "{name}: error: could not generate {what:?}: {err}"
        ));
        return ExitCode::FAILURE;
    }
    let text = String::from_utf8_lossy(&out);
    match print(&name, text.trim_end_matches('\n')) {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => status,
    }
}

fn complete(
    shell: Shell,
    command: &mut clap::Command,
    name: &str,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    clap_complete::generate(shell, command, name, out);
    Ok(())
}

/// `orchestrate --status --results-dir DIR [--json]`: what the folder says
/// of its run, on stdout, asking `queue` about a job array; exit 1 with one
/// line when it is not a results folder of orchestrate.
pub fn status(
    dir: &std::path::Path,
    json: bool,
    queue: &mut dyn crate::supervise::queue::Queue,
) -> ExitCode {
    use crate::report::status;
    match crate::orchestrator::status::read(dir, queue) {
        Ok(status) => {
            let text = if json {
                status::json(&status)
            } else {
                status::text(&status)
            };
            match print("orchestrate", &text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(code) => code,
            }
        }
        Err(err) => {
            say(&format!("orchestrate: error: {err:#}"));
            ExitCode::FAILURE
        }
    }
}

/// `orchestrate --check-child PROG`: one line per case on stdout, a count
/// on stderr; the exit status.
pub fn check_child(program: &std::path::Path) -> ExitCode {
    use crate::sys::contain;
    let program = crate::conformance::resolve(program);
    // The cases' folders, in one of the run's own, which goes even if the
    // check is killed outright; what the child starts is contained as in a
    // run, and gone afterwards.
    let folder = crate::orchestrator::TemporaryFolder::create()
        .and_then(|folder| contain::enter().map(|_| folder));
    let folder = match folder {
        Ok(folder) => folder,
        Err(err) => {
            say(&format!("orchestrate: error: {err:#}"));
            return ExitCode::FAILURE;
        }
    };
    let verdicts = crate::conformance::check(&program, folder.path());
    contain::kill_orphans(&[]);
    let verdicts = match verdicts {
        Ok(verdicts) => verdicts,
        Err(err) => {
            say(&format!("orchestrate: error: {err:#}"));
            return ExitCode::FAILURE;
        }
    };
    let mut lines = Vec::new();
    for verdict in &verdicts {
        lines.push(match &verdict.problem {
            None => format!("ok    {}", verdict.case),
            Some(problem) => format!("FAIL  {}: {problem}", verdict.case),
        });
    }
    if let Err(status) = print("orchestrate", &lines.join("\n")) {
        return status;
    }
    let failed = verdicts.iter().filter(|v| v.problem.is_some()).count();
    say(&format!(
        "orchestrate: {} keeps the protocol in {} of {} cases",
        crate::files::shown(&program),
        verdicts.len() - failed,
        verdicts.len()
    ));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
