//! What every Unix has: POSIX calls on files, processes and signals,
//! `flock`, the host name.
//!
//! Not here: what only Linux has (`linux`), or the API this part provides
//! (`sys`, which re-exports it).

pub mod fs;
pub mod host;
pub mod lock;
pub mod process;
pub mod signals;
pub mod time;
pub mod user;

/// Splits a command prefix into words as a POSIX shell would (quotes,
/// backslashes); an error for unbalanced quotes or a trailing backslash.
pub fn split_command_line(line: &str) -> Result<Vec<std::ffi::OsString>, String> {
    shlex::split(line)
        .map(|words| words.into_iter().map(Into::into).collect())
        .ok_or_else(|| "unbalanced quotes or a trailing backslash".to_string())
}
