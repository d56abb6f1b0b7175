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
    let mut stdout = io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
            Err(ExitCode::from(BROKEN_PIPE_STATUS))
        }
        Err(err) => {
            say(&format!(
                "{program}: error: could not write to stdout: {err}"
            ));
            Err(ExitCode::FAILURE)
        }
    }
}
