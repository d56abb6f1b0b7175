//! The contract between `orchestrate` and its `reduce` children, both
//! directions in one place: the child's command line (built by the parent,
//! parsed by the child) and the result file (written atomically by the child,
//! read strictly by the parent).
//!
//! A result file holds exactly the decimal reacted length and a newline
//! (`4\n`). It appears by rename, so a parent polling for it sees either no
//! file or the whole file, never a partial one, even across a shared
//! filesystem where the child runs on another machine.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;

use crate::input::Source;
use crate::polymer::UnitType;

/// React a polymer with one unit type removed and write the reacted length
/// to a result file.
#[derive(Debug, Parser, PartialEq, Eq)]
#[command(name = "reduce", version)]
pub struct ReduceArgs {
    /// The polymer: a file of ASCII letters, or `-` for standard input.
    #[arg(value_name = "INPUT")]
    pub input: OsString,

    /// Remove every unit of this type (one letter, either case) before
    /// reacting. Without it nothing is removed.
    #[arg(short, long, value_name = "LETTER")]
    pub letter: Option<UnitType>,

    /// Result file to write [default: out/<letter>.txt, or out/full.txt
    /// without --letter]. Parent folders are created. `-` writes no file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print nothing on stdout (by default the length is printed).
    #[arg(short, long)]
    pub quiet: bool,

    /// The reaction kernel: `fast`, or `plain-stack`, the textbook `Vec`
    /// stack that benchmarks use as the naive baseline.
    #[arg(long, value_enum, default_value_t = Kernel::Fast, hide = true)]
    pub kernel: Kernel,
}

/// Which reaction kernel `reduce` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kernel {
    Fast,
    PlainStack,
}

impl ReduceArgs {
    pub fn source(&self) -> Source {
        Source::from(self.input.as_os_str())
    }

    /// The result file to write, or `None` for `--output -`.
    pub fn result_path(&self) -> Option<PathBuf> {
        match &self.output {
            Some(path) if path.as_os_str() == "-" => None,
            Some(path) => Some(path.clone()),
            None => {
                let name = self.letter.map_or("full".to_string(), |l| l.to_string());
                Some(Path::new("out").join(format!("{name}.txt")))
            }
        }
    }
}

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

/// The environment variable through which the parent asks a child to mark
/// the moment its work begins, by creating the named (empty) file. Under a
/// launcher that queues (`srun`), that moment is later than the spawn, and
/// the difference is the queueing delay the job log and timeline show.
pub const START_FILE_ENV: &str = "POLYMER_FANOUT_START_FILE";

/// The start marker for `letter` inside `dir` (beside the result, so it is
/// on the filesystem the parent and the child share).
pub fn start_marker_path(dir: &Path, letter: UnitType) -> PathBuf {
    dir.join(format!(".{letter}.started"))
}

/// Creates the start marker named by [`START_FILE_ENV`], if any, holding
/// the wall-clock time in nanoseconds since the Unix epoch (a file's own
/// modification time is too coarse: milliseconds apart on Linux). Best
/// effort: timing information must never make a child fail.
pub fn mark_started() {
    if let Some(path) = std::env::var_os(START_FILE_ENV) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let _ = std::fs::write(path, format!("{}\n", now.as_nanos()));
    }
}

/// When the child that wrote the start marker at `path` began, if the
/// marker is there and whole.
pub fn read_start_mark(path: &Path) -> Option<SystemTime> {
    let text = std::fs::read_to_string(path).ok()?;
    let nanos: u64 = text.strip_suffix('\n')?.parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// The result file for `letter` inside `dir`.
pub fn result_path(dir: &Path, letter: UnitType) -> PathBuf {
    dir.join(format!("{letter}.txt"))
}

/// Writes `length` to `path` atomically, replacing any file already there.
///
/// The content goes to a temporary file in the same folder, which is then
/// renamed into place: a rename within one filesystem is atomic, so a reader
/// never sees a partial result, and a failure leaves nothing behind.
pub fn write_result(path: &Path, length: usize) -> anyhow::Result<()> {
    let dir = folder_of(path);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("could not create folder {}", dir.display()))?;
    write_atomically(path, format!("{length}\n").as_bytes())
}

/// Removes a result or start file left by an earlier run or attempt, so it
/// can never be taken for this one's; a file that is not there is fine.
pub fn remove_stale(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// The folder a file goes in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `content` to a temporary file beside `path`, then renames it into
/// place: readers see the old file or the whole new one, and a failure
/// leaves nothing behind. Used for every file the binaries leave for
/// others to read (result files, job logs, timelines).
pub fn write_atomically(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let mut file = tempfile::Builder::new()
        // Readable like any file the user writes, not private like a temp file.
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .prefix(".partial-")
        .tempfile_in(folder_of(path))
        .with_context(|| format!("could not write {}", path.display()))?;
    file.write_all(content)
        .with_context(|| format!("could not write {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

/// What a poll of a result file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultFile {
    /// No file (yet).
    Missing,
    Length(usize),
    /// A file that is not a newline-terminated non-negative integer; holds a
    /// short, printable excerpt for the error message.
    Malformed(String),
}

/// Reads a result file strictly: exactly ASCII digits and one newline.
pub fn read_result(path: &Path) -> io::Result<ResultFile> {
    let content = match std::fs::read(path) {
        Ok(content) => content,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(ResultFile::Missing),
        Err(err) => return Err(err),
    };
    Ok(parse_result(&content))
}

fn parse_result(content: &[u8]) -> ResultFile {
    let malformed = || {
        let excerpt: String = content
            .iter()
            .take(40)
            .flat_map(|b| b.escape_ascii())
            .map(char::from)
            .collect();
        ResultFile::Malformed(excerpt)
    };
    let Some(digits) = content.strip_suffix(b"\n") else {
        return malformed();
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return malformed();
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .map_or_else(malformed, ResultFile::Length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_command_line_round_trips_through_the_reduce_parser() {
        let job = ChildJob {
            letter: "q".parse().unwrap(),
            result: PathBuf::from("/tmp/run/q.txt"),
            polymer: PathBuf::from("/tmp/run/polymer"),
        };
        let parsed =
            ReduceArgs::try_parse_from(std::iter::once(OsString::from("reduce")).chain(job.args()))
                .unwrap();
        assert_eq!(parsed.letter, Some(job.letter));
        assert_eq!(parsed.result_path(), Some(job.result.clone()));
        assert!(parsed.quiet);
        assert_eq!(parsed.source(), Source::Path(job.polymer.clone()));
    }

    #[test]
    fn the_result_file_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/c.txt");
        assert_eq!(read_result(&path).unwrap(), ResultFile::Missing);
        write_result(&path, 4).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"4\n");
        assert_eq!(read_result(&path).unwrap(), ResultFile::Length(4));
        write_result(&path, 123_456_789).unwrap();
        assert_eq!(read_result(&path).unwrap(), ResultFile::Length(123_456_789));
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "only the result file remains in its folder");
    }

    #[track_caller]
    fn case(content: &[u8], expected: Option<usize>) {
        match (parse_result(content), expected) {
            (ResultFile::Length(n), Some(e)) => assert_eq!(n, e),
            (ResultFile::Malformed(_), None) => {}
            (got, _) => panic!("{:?} parsed as {got:?}", content.escape_ascii().to_string()),
        }
    }

    #[test]
    fn result_files_are_read_strictly() {
        case(b"4\n", Some(4));
        case(b"0\n", Some(0));
        case(b"10\n", Some(10));
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
    fn the_start_mark_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".c.started");
        assert_eq!(read_start_mark(&path), None);
        // SAFETY: this test alone reads or writes this variable.
        unsafe { std::env::set_var(START_FILE_ENV, &path) };
        let before = SystemTime::now();
        mark_started();
        let mark = read_start_mark(&path).expect("a mark was written");
        assert!(before <= mark && mark <= SystemTime::now());
        std::fs::write(&path, "12").unwrap();
        assert_eq!(read_start_mark(&path), None, "a partial mark is not read");
    }

    #[test]
    fn default_result_paths_follow_the_letter() {
        let parse = |args: &[&str]| ReduceArgs::try_parse_from(args).unwrap().result_path();
        assert_eq!(
            parse(&["reduce", "in.txt"]),
            Some(PathBuf::from("out/full.txt"))
        );
        assert_eq!(
            parse(&["reduce", "-l", "C", "in.txt"]),
            Some(PathBuf::from("out/c.txt"))
        );
        assert_eq!(parse(&["reduce", "-o", "-", "in.txt"]), None);
    }
}
