//! The contract between `orchestrate` and its children, both directions in
//! one place, and nothing else: the child's command line (built here, parsed
//! by `reduce`'s command line in `cli`), the result file (written atomically
//! by the child, read strictly by the parent) and its name, the start mark,
//! the parent-death request of orchestrate's own `reduce`, what a Slurm
//! array task runs (its script, and the status file it leaves), and where
//! a checked result is published for people and later runs.
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

use crate::files;
use crate::polymer::UnitType;
use crate::sys::{self, Pid};

/// What one attempt is given: react `polymer` without `letter`, write to
/// `result`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub letter: UnitType,
    pub result: PathBuf,
    pub polymer: PathBuf,
}

impl Assignment {
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

impl Assignment {
    /// The result path of attempt `attempt` at `letter` in the private
    /// folder `dir`: `<l>.<attempt>.<token>.txt`, whose random token no
    /// other child (a sibling guessing `b.1.txt`, one left over from an
    /// earlier attempt) can write by accident.
    pub fn result_in(dir: &Path, letter: UnitType, attempt: u32) -> PathBuf {
        dir.join(format!(
            "{letter}.{attempt}.{:016x}.txt",
            files::random_token()
        ))
    }
}

/// The start mark of a child whose result goes to `result`, beside it.
pub fn start_mark_for(result: &Path) -> PathBuf {
    result.with_extension("started")
}

/// Where the result of `letter` is published in the results folder `dir`:
/// `<l>.txt`, what `--status`, `--resume` and people read.
pub fn published_result(dir: &Path, letter: UnitType) -> PathBuf {
    dir.join(published_name(letter))
}

/// The name of `letter`'s published result: `<l>.txt`.
pub fn published_name(letter: UnitType) -> String {
    format!("{letter}.txt")
}

/// The script of submission `number` of a job array, in its folder `dir`.
pub fn submission_script(dir: &Path, number: usize) -> PathBuf {
    dir.join(format!("submission-{number}.sh"))
}

/// Prepares to write a result to `path` (see [`files::Target`]: a regular
/// file is replaced atomically, through a symlink the file it points to; a
/// device or a FIFO is written into), creating missing parent folders.
/// Checked before any work, so a path that cannot be written costs nothing.
pub fn result_target(path: &Path) -> anyhow::Result<files::Target> {
    files::Target::open_making_folders(path)
}

/// The content of a result file for `length`.
pub fn result_content(length: usize) -> Vec<u8> {
    format!("{length}\n").into_bytes()
}

/// Writes `length` to `path` as [`result_target`] says.
pub fn write_result(path: &Path, length: usize) -> anyhow::Result<()> {
    result_target(path)?.write(&result_content(length))
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
/// that queues (`srun`) or in a job array, that moment is later than the
/// spawn or submission, and the difference is the queueing delay the job
/// log and timeline show.
pub const START_MARK_ENV: &str = "POLYMER_FANOUT_START_FILE";

/// A start mark: when the work started (wall clock), and the host it runs
/// on, if the writer said.
///
/// On disk: the nanoseconds since the Unix epoch, optionally a space and
/// the host name, and a newline (`1764536000123456789 n2\n`). A file's own
/// modification time would be too coarse: milliseconds apart on Linux.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartMark {
    pub at: SystemTime,
    pub host: Option<String>,
}

/// Whether orchestrate started this process: every child it starts,
/// locally, through a launcher or as an array task, is told where to write
/// its start mark ([`START_MARK_ENV`]). Such a child reacts on one thread
/// unless told otherwise, since its siblings run beside it.
pub fn started_by_orchestrate() -> bool {
    std::env::var_os(START_MARK_ENV).is_some()
}

/// Writes the start mark named by [`START_MARK_ENV`], if any, with this
/// host's name. Best effort: timing information must never make a child
/// fail.
pub fn write_start_mark() {
    if let Some(path) = std::env::var_os(START_MARK_ENV) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let line = match this_host() {
            Some(host) => format!("{} {host}\n", now.as_nanos()),
            None => format!("{}\n", now.as_nanos()),
        };
        let _ = files::write_atomically(Path::new(&path), line.as_bytes());
    }
}

/// The start mark at `path`, if it is there and whole (read like a result
/// file: no symlink, no FIFO, small). A host name that is not one (empty,
/// too long, odd bytes) is dropped; the time still counts.
pub fn read_start_mark(path: &Path) -> Option<StartMark> {
    let text = String::from_utf8(files::read_small(path, 128)?).ok()?;
    let line = text.strip_suffix('\n')?;
    let (nanos, host) = match line.split_once(' ') {
        Some((nanos, host)) => (nanos, is_host_name(host).then(|| host.to_string())),
        None => (line, None),
    };
    let nanos: u64 = nanos.parse().ok()?;
    Some(StartMark {
        at: UNIX_EPOCH + Duration::from_nanos(nanos),
        host,
    })
}

/// Whether `name` can be a host name: 1 to 64 letters, digits, `.`, `-`
/// or `_` (what job logs and timelines can show as it is).
fn is_host_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The name of the host this process runs on: Slurm's name for the node
/// when running under Slurm (`SLURMD_NODENAME`), else the system's host
/// name.
pub fn this_host() -> Option<String> {
    if let Some(node) = std::env::var("SLURMD_NODENAME")
        .ok()
        .filter(|n| is_host_name(n))
    {
        return Some(node);
    }
    let name = sys::host::name()?;
    let name = name.to_str()?;
    is_host_name(name).then(|| name.to_string())
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
pub fn heed_parent_pid(parent: Pid) -> anyhow::Result<()> {
    sys::process::die_with(parent).map_err(|_| {
        anyhow::anyhow!(
            "process {parent} is not this process's parent (it has exited, or a program between \
             them did not exec reduce)"
        )
    })
}

/// One task of a Slurm job array: an attempt at a letter, reporting
/// through files named `<letter>.<attempt>.<what>` in the array's folder
/// (on a filesystem every node shares).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayTask {
    pub letter: UnitType,
    pub attempt: u32,
}

impl ArrayTask {
    /// The task's file `what` in the array folder `dir`.
    pub fn file(self, dir: &Path, what: TaskFile) -> PathBuf {
        let what = match what {
            TaskFile::Result => "txt",
            TaskFile::StartMark => "started",
            TaskFile::Stderr => "err",
            TaskFile::Status => "status",
        };
        dir.join(format!("{}.{}.{what}", self.letter, self.attempt))
    }

    /// What the task's child is given: the same command line as a local
    /// child's, with the array's copy of the polymer.
    pub fn assignment(self, dir: &Path) -> Assignment {
        Assignment {
            letter: self.letter,
            result: self.file(dir, TaskFile::Result),
            polymer: dir.join(POLYMER_FILE),
        }
    }
}

/// The files an array task leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskFile {
    /// Written by the child, as any child's result file.
    Result,
    /// Written by the task's script when it starts, and again by the child
    /// if it writes one ([`START_MARK_ENV`]).
    StartMark,
    /// The child's standard error.
    Stderr,
    /// Written by the task's script once the child has exited: its exit
    /// status in decimal and a newline (`0\n`), renamed into place. The
    /// rule of local children holds: a result counts only once its writer
    /// exited with status 0, which this file says.
    Status,
}

/// The name of the children's copy of the polymer, in the private folder
/// or an array's folder.
pub const POLYMER_FILE: &str = "polymer.txt";

/// The script of one submission of a job array: task `i` writes its start
/// mark (which the child may write again, as any child under a launcher),
/// runs `program` for `tasks[i]` with the command line of
/// [`Assignment::args`] and its stderr in the task's file, then records the
/// exit status ([`TaskFile::Status`]). Every path is quoted for the shell here, so the
/// command line a task runs is exactly the one a local child gets.
pub fn array_script(dir: &Path, program: &Path, tasks: &[ArrayTask]) -> anyhow::Result<String> {
    let quote = |path: &std::ffi::OsStr| -> anyhow::Result<String> {
        let text = path.to_str().context("a path that is not UTF-8")?;
        Ok(shlex::try_quote(text)
            .context("a path with a NUL byte")?
            .into_owned())
    };
    let mut cases = String::new();
    for (index, task) in tasks.iter().enumerate() {
        let args = task
            .assignment(dir)
            .args()
            .iter()
            .map(|arg| quote(arg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        cases.push_str(&format!(
            "{index}) mark={}; err={}; status={}; set -- {} ;;\n",
            quote(task.file(dir, TaskFile::StartMark).as_os_str())?,
            quote(task.file(dir, TaskFile::Stderr).as_os_str())?,
            quote(task.file(dir, TaskFile::Status).as_os_str())?,
            args.join(" "),
        ));
    }
    Ok(format!(
        r#"#!/bin/sh
# Tasks of a job array submitted by orchestrate: task N runs case N below.
# It reports through files only (docs/protocol.md).
case "$SLURM_ARRAY_TASK_ID" in
{cases}*) echo "no task $SLURM_ARRAY_TASK_ID in $0" >&2; exit 2 ;;
esac
# A first start mark, so that every child is timed from its start; the
# child may write its own.
printf '%s %s\n' "$(date +%s%N)" "${{SLURMD_NODENAME:-$(hostname)}}" > "$mark.tmp" && mv -f "$mark.tmp" "$mark"
{env}="$mark"
export {env}
{program} "$@" < /dev/null > /dev/null 2> "$err"
code=$?
echo "$code" > "$status.tmp" && mv -f "$status.tmp" "$status"
exit "$code"
"#,
        env = START_MARK_ENV,
        program = quote(program.as_os_str())?,
    ))
}

/// A task's exit status, once its status file is there and whole.
pub fn read_status(path: &Path) -> Option<i32> {
    let text = String::from_utf8(files::read_small(path, 16)?).ok()?;
    text.strip_suffix('\n')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for (good, length) in [
            (&b"4\n"[..], 4),
            (b"0\n", 0),
            (b"10\n", 10),
            (b"1000\n", 1000),
        ] {
            case(good, Some(length));
        }
        let bad: [&[u8]; 12] = [
            b"1001\n",
            b"18446744073709551615\n",
            b"",
            b"4",
            b"\n",
            b"4\n\n",
            b"-4\n",
            b"+4\n",
            b" 4\n",
            b"4\r\n",
            b"four\n",
            b"99999999999999999999999999\n",
        ];
        for content in bad {
            case(content, None);
        }
    }

    #[test]
    fn a_result_larger_than_the_polymer_is_named_as_such() {
        assert_eq!(
            parse_result(b"17\n", 16),
            ResultFile::Invalid("17 units, more than the 16 it was handed".into())
        );
    }

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

    #[cfg(unix)]
    #[test]
    fn result_files_that_are_not_regular_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        sys::fs::make_fifo(&fifo);
        let link = dir.path().join("a.txt");
        sys::fs::symlink(&fifo, &link).unwrap();
        assert!(matches!(read_result(&link, 10), Ok(ResultFile::Invalid(_))));
        assert!(matches!(read_result(&fifo, 10), Ok(ResultFile::Invalid(_))));
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "4\n").unwrap();
        let good_link = dir.path().join("b.txt");
        sys::fs::symlink(&real, &good_link).unwrap();
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
        assert!(before <= mark.at && mark.at <= SystemTime::now());
        assert_eq!(mark.host, this_host());
        std::fs::write(&path, "12").unwrap();
        assert_eq!(read_start_mark(&path), None, "a partial mark is not read");
    }

    #[track_caller]
    fn mark_case(content: &str, expected: Option<(u64, Option<&str>)>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mark");
        std::fs::write(&path, content).unwrap();
        let expected = expected.map(|(nanos, host)| StartMark {
            at: UNIX_EPOCH + Duration::from_nanos(nanos),
            host: host.map(String::from),
        });
        assert_eq!(read_start_mark(&path), expected, "{content:?}");
    }

    #[test]
    fn a_start_mark_names_its_host_when_the_writer_did() {
        mark_case("17\n", Some((17, None)));
        mark_case("17 n2\n", Some((17, Some("n2"))));
        mark_case(
            "17 node-3.cluster_a\n",
            Some((17, Some("node-3.cluster_a"))),
        );
        mark_case("17 a host\n", Some((17, None)));
        mark_case("17 \x1b[31m\n", Some((17, None)));
        mark_case(&format!("17 {}\n", "h".repeat(65)), Some((17, None)));
        mark_case("17 \n", Some((17, None)));
        mark_case(" n2\n", None);
        mark_case("x n2\n", None);
        mark_case("17 n2", None);
    }

    #[cfg(unix)]
    #[test]
    fn an_array_task_runs_the_child_command_line_and_reports_its_status() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("it's an \"array\" $dir");
        std::fs::create_dir(&dir).unwrap();
        let program = dir.join("child.sh");
        std::fs::write(
            &program,
            "#!/bin/sh\n\
             printf '%s\\n' \"$@\" > \"$(dirname \"$0\")/argv.$SLURM_ARRAY_TASK_ID\"\n\
             printf '%s\\n' \"$POLYMER_FANOUT_START_FILE\" > \"$(dirname \"$0\")/mark.$SLURM_ARRAY_TASK_ID\"\n\
             echo \"complaint $SLURM_ARRAY_TASK_ID\" >&2\n\
             exit $((SLURM_ARRAY_TASK_ID * 3))\n",
        )
        .unwrap();
        sys::fs::make_executable(&program);
        let task = |letter: u8, attempt| ArrayTask {
            letter: UnitType::from_ascii(letter).unwrap(),
            attempt,
        };
        let tasks = [task(b'a', 1), task(b'q', 2)];
        let script = dir.join("tasks.sh");
        std::fs::write(&script, array_script(&dir, &program, &tasks).unwrap()).unwrap();
        let run = |index: usize| {
            std::process::Command::new("sh")
                .arg(&script)
                .env("SLURM_ARRAY_TASK_ID", index.to_string())
                .status()
                .unwrap()
                .code()
        };
        for (index, task) in tasks.iter().enumerate() {
            let code = (index * 3) as i32;
            assert_eq!(run(index), Some(code));
            let argv = std::fs::read_to_string(dir.join(format!("argv.{index}"))).unwrap();
            let expected: Vec<String> = task
                .assignment(&dir)
                .args()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            assert_eq!(argv.lines().collect::<Vec<_>>(), expected);
            let mark = std::fs::read_to_string(dir.join(format!("mark.{index}"))).unwrap();
            assert_eq!(
                PathBuf::from(mark.trim_end()),
                task.file(&dir, TaskFile::StartMark)
            );
            // The child wrote no mark: the script's is there, with a host.
            let mark = read_start_mark(&task.file(&dir, TaskFile::StartMark)).unwrap();
            assert!(mark.at <= SystemTime::now() && mark.host.is_some());
            assert_eq!(read_status(&task.file(&dir, TaskFile::Status)), Some(code));
            let stderr = std::fs::read_to_string(task.file(&dir, TaskFile::Stderr)).unwrap();
            assert_eq!(stderr, format!("complaint {index}\n"));
        }
        assert_eq!(run(2), Some(2), "a task the script does not have fails");
        assert!(!dir.join("argv.2").exists());
    }

    #[test]
    fn a_status_file_is_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.1.status");
        assert_eq!(read_status(&path), None);
        for (content, expected) in [
            ("0\n", Some(0)),
            ("3\n", Some(3)),
            ("3", None),
            ("", None),
            ("x\n", None),
        ] {
            std::fs::write(&path, content).unwrap();
            assert_eq!(read_status(&path), expected, "{content:?}");
        }
    }
}
