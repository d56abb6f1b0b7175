//! The contract between `orchestrate` and its children, both directions in
//! one place, and nothing else: the child's command line (built here, parsed
//! by `reduce`'s command line in `cli`), the result file (written atomically
//! by the child, read strictly by the parent), the start mark, and the
//! parent-death request of orchestrate's own `reduce`.
//!
//! A result file holds exactly the decimal reacted length and a newline
//! (`4\n`). It appears by rename, so a reader sees either no file or the
//! whole file, even across a shared filesystem where the child runs on
//! another machine. The parent believes one only after the child that was
//! given its path exited with status 0, and only if it is a small regular
//! file (not a symlink, FIFO or device) whose number is no larger than the
//! polymer that child was handed.

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::files::{self, shown};
use crate::polymer::UnitType;

/// One child's job: react `polymer` without `letter`, write to `result`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildJob {
    pub letter: UnitType,
    pub result: PathBuf,
    pub polymer: PathBuf,
}

impl ChildJob {
    /// The arguments after the program name, exactly
    /// `--letter <l> --output <result> --quiet <polymer>`.
    pub fn args(&self) -> Vec<OsString> {
        vec![
            "--letter".into(),
            self.letter.to_string().into(),
            "--output".into(),
            self.result.clone().into(),
            "--quiet".into(),
            self.polymer.clone().into(),
        ]
    }
}

/// Writes `length` to `path` atomically, replacing any file already there,
/// creating missing parent folders.
pub fn write_result(path: &Path, length: usize) -> anyhow::Result<()> {
    let dir = files::folder_of(path);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("could not create folder {}", shown(dir)))?;
    files::write_atomically(path, format!("{length}\n").as_bytes())
}

/// The longest result file there can be: 20 digits (`u64::MAX`) and a newline.
const LONGEST_RESULT: u64 = 21;

/// What reading a result file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultFile {
    /// No file.
    Missing,
    Length(usize),
    /// Anything else, described for the error line: not a regular file, too
    /// long, not digits and a newline, or a length larger than `limit`.
    Invalid(String),
}

/// Reads a result file strictly: a regular file, opened without following a
/// symlink and without blocking (a FIFO cannot hang the reader), holding
/// exactly ASCII digits and one newline, for a length of at most `limit`.
pub fn read_result(path: &Path, limit: usize) -> io::Result<ResultFile> {
    let file = match files::open_regular(path)? {
        files::Opened::Missing => return Ok(ResultFile::Missing),
        files::Opened::NotRegular(what) => return Ok(ResultFile::Invalid(what.into())),
        files::Opened::Regular(file) => file,
    };
    let metadata = file.metadata()?;
    if metadata.len() > LONGEST_RESULT {
        return Ok(ResultFile::Invalid(format!(
            "{} bytes long, more than any length",
            metadata.len()
        )));
    }
    let mut content = Vec::with_capacity(LONGEST_RESULT as usize + 1);
    file.take(LONGEST_RESULT + 1).read_to_end(&mut content)?;
    Ok(parse_result(&content, limit))
}

fn parse_result(content: &[u8], limit: usize) -> ResultFile {
    let malformed = || {
        let excerpt: String = content
            .iter()
            .take(40)
            .flat_map(|b| b.escape_ascii())
            .map(char::from)
            .collect();
        ResultFile::Invalid(format!(
            "expected digits and a newline, found \"{excerpt}\""
        ))
    };
    let Some(digits) = content.strip_suffix(b"\n") else {
        return malformed();
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return malformed();
    }
    let Some(length) = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
    else {
        return malformed();
    };
    if length > limit {
        return ResultFile::Invalid(format!(
            "{length} units, more than the {limit} it was handed"
        ));
    }
    ResultFile::Length(length)
}

/// The environment variable through which the parent asks a child to mark
/// the moment its work starts, by writing the named file. Under a launcher
/// that queues (`srun`), that moment is later than the spawn, and the
/// difference is the queueing delay the job log and timeline show.
pub const START_MARK_ENV: &str = "POLYMER_FANOUT_START_FILE";

/// Writes the start mark named by [`START_MARK_ENV`], if any: the wall-clock
/// time in nanoseconds since the Unix epoch (a file's own modification time
/// is too coarse: milliseconds apart on Linux). Best effort: timing
/// information must never make a child fail.
pub fn write_start_mark() {
    if let Some(path) = std::env::var_os(START_MARK_ENV) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let _ =
            files::write_atomically(Path::new(&path), format!("{}\n", now.as_nanos()).as_bytes());
    }
}

/// When the child that wrote the start mark at `path` started its work, if
/// the mark is there and whole (read like a result file: no symlink, no
/// FIFO, small).
pub fn read_start_mark(path: &Path) -> Option<SystemTime> {
    let text = String::from_utf8(files::read_small(path, 64)?).ok()?;
    let nanos: u64 = text.strip_suffix('\n')?.parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// The option through which the parent asks its own `reduce` to have the
/// kernel kill it when the parent dies, instead of arranging that itself
/// between fork and exec (which rules out the faster `posix_spawn`). Its
/// value is the parent's pid. Only `reduce` gets it, last on its command
/// line: an older `reduce` refuses it (the run fails rather than lose the
/// guarantee), and any other child program gets the death signal set up
/// for it.
pub const PARENT_PID_OPTION: &str = "--parent-pid";

/// Heeds [`PARENT_PID_OPTION`]: asks for SIGKILL when `parent` dies, and
/// fails if `parent` is no longer this process's parent (then the signal
/// would never come).
pub fn heed_parent_pid(parent: libc::pid_t) -> anyhow::Result<()> {
    die_with(parent).map_err(|_| {
        anyhow::anyhow!(
            "process {parent} is not this process's parent (it has exited, or a program between \
             them did not exec reduce)"
        )
    })
}

/// Has the kernel SIGKILL this process when the thread that started it
/// ends, and checks that its parent is still `parent` (if it died before
/// the request, the signal will never come). Async-signal-safe: it
/// allocates nothing, so it may run between fork and exec.
#[cfg(target_os = "linux")]
pub fn die_with(parent: libc::pid_t) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only; getppid has no arguments.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn die_with(_parent: libc::pid_t) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/c.txt");
        assert_eq!(read_result(&path, 10).unwrap(), ResultFile::Missing);
        write_result(&path, 4).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"4\n");
        assert_eq!(read_result(&path, 10).unwrap(), ResultFile::Length(4));
        write_result(&path, 123_456_789).unwrap();
        assert_eq!(
            read_result(&path, usize::MAX).unwrap(),
            ResultFile::Length(123_456_789)
        );
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "only the result file remains in its folder");
    }

    #[track_caller]
    fn case(content: &[u8], expected: Option<usize>) {
        match (parse_result(content, 1000), expected) {
            (ResultFile::Length(n), Some(e)) => assert_eq!(n, e),
            (ResultFile::Invalid(_), None) => {}
            (got, _) => panic!("{:?} parsed as {got:?}", content.escape_ascii().to_string()),
        }
    }

    #[test]
    fn result_files_are_read_strictly() {
        case(b"4\n", Some(4));
        case(b"0\n", Some(0));
        case(b"10\n", Some(10));
        case(b"1000\n", Some(1000));
        case(b"1001\n", None);
        case(b"18446744073709551615\n", None);
        case(b"", None);
        case(b"4", None);
        case(b"\n", None);
        case(b"4\n\n", None);
        case(b"-4\n", None);
        case(b"+4\n", None);
        case(b" 4\n", None);
        case(b"4\r\n", None);
        case(b"four\n", None);
        case(b"99999999999999999999999999\n", None);
    }

    #[test]
    fn a_result_larger_than_the_polymer_is_named_as_such() {
        assert_eq!(
            parse_result(b"17\n", 16),
            ResultFile::Invalid("17 units, more than the 16 it was handed".into())
        );
    }

    #[test]
    fn result_files_that_are_not_regular_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let link = dir.path().join("a.txt");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(matches!(read_result(&link, 10), Ok(ResultFile::Invalid(_))));
        assert!(matches!(read_result(&fifo, 10), Ok(ResultFile::Invalid(_))));
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "4\n").unwrap();
        let good_link = dir.path().join("b.txt");
        std::os::unix::fs::symlink(&real, &good_link).unwrap();
        assert!(
            matches!(read_result(&good_link, 10), Ok(ResultFile::Invalid(_))),
            "even a symlink to a good file is not followed"
        );
        let big = dir.path().join("big.txt");
        std::fs::write(&big, "1".repeat(1 << 20)).unwrap();
        assert!(matches!(read_result(&big, 10), Ok(ResultFile::Invalid(_))));
    }

    #[test]
    fn the_start_mark_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".c.started");
        assert_eq!(read_start_mark(&path), None);
        // SAFETY: this test alone reads or writes this variable.
        unsafe { std::env::set_var(START_MARK_ENV, &path) };
        let before = SystemTime::now();
        write_start_mark();
        let mark = read_start_mark(&path).expect("a mark was written");
        assert!(before <= mark && mark <= SystemTime::now());
        std::fs::write(&path, "12").unwrap();
        assert_eq!(read_start_mark(&path), None, "a partial mark is not read");
    }
}
