//! One child process from spawn to verdict: how it is started (its own
//! process group, stderr captured, death with the parent), how it is
//! signalled, and what its attempt amounted to once it exited. The
//! decisions (when to stop it, what follows) are the loop's.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use super::attempt::Outcome;
use super::backend::{self, Concluded, Mark, StartError};
use super::clock::Clock;
use super::placement::Placement;
use crate::protocol::{self, Assignment, ResultFile, StartMark};
use crate::sys::signals::Signal;
use crate::sys::{self, Pid};

/// The program each child runs, and how.
#[derive(Clone, Debug)]
pub struct ChildProgram {
    pub program: PathBuf,
    /// Where it runs: here, behind a prefix, or through `srun`.
    pub placement: Placement,
    /// Whether the program is this package's `reduce`, which takes
    /// [`protocol::PARENT_PID_OPTION`].
    pub heeds_parent_pid: bool,
}

/// The files a child is started with: `/dev/null`, and what its standard
/// input is instead, if anything.
pub struct Handles<'a> {
    pub null: &'a File,
    pub stdin: Option<File>,
    /// The folder it runs in; orchestrate's own when `None`.
    pub folder: Option<&'a Path>,
}

/// A child process that has been spawned and not yet reaped.
pub struct Running {
    pub assignment: Assignment,
    process: std::process::Child,
    spawned: Instant,
    /// The start mark, under a launcher only, until it has been seen:
    /// there the spawn says nothing about when the work starts (a queue may
    /// hold it).
    mark: Option<PathBuf>,
    /// The child's stderr, captured.
    stderr: File,
    /// Its process group, paused with the run (Ctrl+Z).
    _pausable: crate::signals::Pausable,
    /// Whether it is the relay of an attempt in a PID namespace of its own
    /// (see `sys::contain::contain_each`): a stop signal then goes to it alone.
    contained: bool,
}

impl Running {
    /// Spawns `program` for `assignment`, leading a process group of its
    /// own; `clock` tells when.
    pub fn spawn(
        assignment: Assignment,
        attempt: u32,
        program: &ChildProgram,
        handles: Handles,
        clock: &dyn Clock,
    ) -> Result<Running, StartError> {
        let Handles {
            null,
            stdin,
            folder,
        } = handles;
        let mark =
            (!program.placement.is_direct()).then(|| protocol::start_mark_for(&assignment.result));
        let stderr = capture_file()?;
        let mut command = program
            .placement
            .command(&program.program, &assignment, attempt);
        let stdin = match stdin {
            Some(polymer) => polymer,
            None => null.try_clone()?,
        };
        command
            .stdin(stdin)
            .stdout(null.try_clone()?)
            .stderr(stderr.try_clone()?);
        if let Some(mark) = &mark {
            command.env(protocol::START_MARK_ENV, mark);
        }
        if let Some(folder) = folder {
            command.current_dir(folder);
        }
        let contained = die_with_parent(&mut command, program);
        // Taken before the spawn: by the time spawn returns, the child may
        // already have started its work.
        let spawned = clock.now();
        let process = sys::process::spawn_contained(&mut command).map_err(|err| {
            let error = StartError::from(err);
            if program.placement.is_direct() {
                return error;
            }
            let launcher = crate::files::shown(Path::new(program.placement.launcher()));
            StartError {
                reason: format!("{} (launcher {launcher})", error.reason),
                ..error
            }
        })?;
        let pausable = crate::signals::Pausable::register(process.id() as i32);
        Ok(Running {
            assignment,
            process,
            spawned,
            mark,
            stderr,
            _pausable: pausable,
            contained,
        })
    }

    pub fn pid(&self) -> Pid {
        self.process.id() as Pid
    }

    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// Whether the child has exited, without reaping it: while it is an
    /// unreaped zombie its pid, and so its process group id, cannot be
    /// reused, which makes the final kill of its group safe.
    pub fn has_exited(&self) -> bool {
        has_exited(self.pid())
    }

    /// Passes the loop's `signal` on to the child's process group: a stop
    /// asks (SIGTERM), a kill makes it.
    pub fn signal(&self, signal: backend::Signal) {
        self.signal_group(match signal {
            backend::Signal::Stop => Signal::Terminate,
            backend::Signal::Kill => Signal::Kill,
        });
    }

    /// Sends `signal` to the child's process group; to a contained child's
    /// relay alone, which passes it on to every process of the attempt
    /// once (SIGKILL ends the relay, and with it the attempt's namespace).
    pub fn signal_group(&self, signal: Signal) {
        // The pid, and so the group id, is that of our unreaped child, so it
        // names it and no other. Errors (it has ended) are irrelevant here.
        let _ = if self.contained {
            sys::process::kill(self.pid(), signal)
        } else {
            sys::process::kill_group(self.pid(), signal)
        };
    }

    /// Keeps the captured stderr of a chatty child bounded: past 1 MiB, all
    /// but its last 64 KiB is punched out (the file keeps its size, the
    /// memory is given back), which is all a failure line ever shows.
    pub fn bound_stderr(&self) {
        const LIMIT: u64 = 1 << 20;
        const KEEP: u64 = 64 << 10;
        let len = self.stderr.metadata().map_or(0, |m| m.len());
        if len > LIMIT {
            let cut = (len - KEEP) & !4095;
            sys::fs::punch_hole(&self.stderr, cut);
        }
    }

    /// What the child wrote to stderr so far, up to its first `limit`
    /// bytes.
    pub fn stderr_text(&self, limit: u64) -> String {
        let len = self.stderr.metadata().map_or(0, |m| m.len()).min(limit);
        let mut bytes = vec![0; usize::try_from(len).unwrap_or(0)];
        // Positioned read: the file offset is shared with the child's copy.
        match sys::fs::read_exact_at(&self.stderr, &mut bytes, 0) {
            Ok(()) => String::from_utf8_lossy(&bytes).trim_end().to_string(),
            Err(_) => String::new(),
        }
    }

    /// The start mark, if one is expected, the first time it is seen.
    pub fn look_for_start_mark(&mut self, now: (Instant, SystemTime)) -> Option<Mark> {
        let mark = started_at(self.mark.as_deref()?, self.spawned, now)?;
        self.mark = None;
        Some(mark)
    }

    /// Kills the exited child's process group and reaps it, then decides
    /// what the attempt amounted to. `limit` is the length of the polymer
    /// the child was handed: no valid result is larger.
    pub fn conclude(mut self, limit: usize) -> (Assignment, Concluded) {
        // Anything the child left running in its group goes with it.
        self.signal_group(Signal::Kill);
        let outcome = match self.process.wait() {
            Err(err) => Outcome::SpawnError(format!("could not wait for the child: {err}")),
            Ok(status) => match (status.code(), sys::process::killed_by(&status)) {
                // Only now, with its writer gone, is the result file read.
                (Some(0), _) => outcome_of_result(&self.assignment.result, limit),
                (Some(code), _) => Outcome::Exit(code),
                (None, Some(signal)) => Outcome::Signal(signal),
                (None, None) => Outcome::Exit(-1),
            },
        };
        let stderr_tail = if outcome.is_ok() {
            Vec::new()
        } else {
            tail_lines(&self.stderr, 3)
        };
        let concluded = Concluded {
            outcome,
            host: None,
            stderr_tail,
        };
        (self.assignment, concluded)
    }
}

/// Whether our child `pid` has exited, without reaping it: while it is an
/// unreaped zombie its pid, and so its process group id, cannot be reused.
pub(crate) fn has_exited(pid: Pid) -> bool {
    sys::process::has_exited(pid)
}

/// What the result file of a child that exited with status 0 amounts to.
pub(super) fn outcome_of_result(path: &Path, limit: usize) -> Outcome {
    match protocol::read_result(path, limit) {
        Ok(ResultFile::Length(length)) => Outcome::Ok(length),
        Ok(ResultFile::Missing) => Outcome::NoResult,
        Ok(ResultFile::Invalid(why)) => Outcome::BadResult(why),
        Err(err) => Outcome::BadResult(format!("unreadable: {err}")),
    }
}

/// Where a child's stderr goes: a file, not a pipe (a pipe that nobody
/// drains fills up and blocks the child, and a file costs no thread). On
/// Linux an in-memory file: creating 26 files on disk cost more than
/// everything else orchestrate does per child.
fn capture_file() -> io::Result<File> {
    sys::fs::memory_file(c"child-stderr")
}

/// Has the kernel SIGKILL the child when the thread that spawned it ends,
/// which covers a SIGKILL of the orchestrator. Children are spawned from
/// the thread that runs the supervision loop, which lives as long as the
/// run. This package's `reduce`, started directly, is asked to arrange it
/// itself ([`protocol::PARENT_PID_OPTION`]), which lets the spawn use
/// `posix_spawn` (an older `reduce` refuses the option, loudly); any other
/// program gets it arranged between fork and exec.
///
/// Returns whether the child's attempt gets a PID namespace of its own.
fn die_with_parent(command: &mut Command, program: &ChildProgram) -> bool {
    // As the child will see it: 0 from inside the PID namespace.
    let parent = crate::sys::contain::parent_pid_for_children();
    if program.heeds_parent_pid && program.placement.is_direct() {
        command
            .arg(protocol::PARENT_PID_OPTION)
            .arg(parent.to_string());
        return false;
    }
    sys::process::die_with_at_exec(command, parent);
    // Any other program may start processes of its own: the attempt gets a
    // namespace of its own, so stopping it stops them all. Not under srun:
    // its tasks run on other machines, which the scheduler contains.
    program.placement.on_this_machine() && crate::sys::contain::contain_each(command)
}

/// When the child (or array task) wrote its start mark, kept between the
/// spawn (or submission) and now (the clock of another machine may be a
/// little off), or `None` while there is no mark.
pub(super) fn started_at(
    mark: &Path,
    spawned: Instant,
    (now, wall): (Instant, SystemTime),
) -> Option<Mark> {
    let StartMark {
        at: wall_mark,
        host,
    } = protocol::read_start_mark(mark)?;
    let ago = wall.duration_since(wall_mark).unwrap_or_default();
    let at = now.checked_sub(ago).unwrap_or(spawned);
    Some(Mark {
        at: at.clamp(spawned, now),
        host,
    })
}

/// The last `count` non-empty lines of a (possibly large) file, each cut to a
/// readable length.
pub(super) fn tail_lines(file: &File, count: usize) -> Vec<String> {
    const WINDOW: u64 = 4096;
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(WINDOW);
    let mut bytes = vec![0; (len - start) as usize];
    // Positioned read: the file offset is shared with the child's copy.
    if sys::fs::read_exact_at(file, &mut bytes, start).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<String> = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .map(|line| line.chars().take(200).collect())
        .collect();
    lines[lines.len().saturating_sub(count)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent_pid_of(command: &Command) -> Option<String> {
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        args.windows(2)
            .find(|pair| pair[0] == protocol::PARENT_PID_OPTION)
            .map(|pair| pair[1].to_string())
    }

    #[test]
    fn only_reduce_started_directly_is_asked_to_arrange_its_own_death() {
        let program = |heeds_parent_pid, launcher: &str| ChildProgram {
            program: PathBuf::from("/bin/reduce"),
            placement: Placement::new(launcher.split_whitespace().map(Into::into).collect(), None),
            heeds_parent_pid,
        };
        let cases = [
            (program(true, ""), true),
            (program(false, ""), false),
            (program(true, "srun"), false),
            (program(true, "nice"), false),
        ];
        for (program, asked) in cases {
            let mut command = Command::new(&program.program);
            die_with_parent(&mut command, &program);
            let expected = asked.then(|| std::process::id().to_string());
            assert_eq!(parent_pid_of(&command), expected, "{program:?}");
        }
    }

    #[test]
    fn a_start_mark_is_placed_on_the_clock_between_the_spawn_and_now() {
        use super::super::clock::{Clock, FakeClock};
        use std::time::{Duration, UNIX_EPOCH};
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("a.1.started");
        let clock = FakeClock::default();
        let spawned = clock.now();
        clock.advance(Duration::from_secs(10));
        let (now, wall) = clock.now_and_wall();
        let write = |ago: u64| {
            let at = wall - Duration::from_secs(ago);
            let nanos = at.duration_since(UNIX_EPOCH).unwrap().as_nanos();
            std::fs::write(&mark, format!("{nanos} n7\n")).unwrap();
        };
        write(3);
        let seen = started_at(&mark, spawned, (now, wall)).unwrap();
        assert_eq!(seen.at, now - Duration::from_secs(3));
        assert_eq!(seen.host.as_deref(), Some("n7"));
        // Another machine's clock, off either way: kept within the spawn
        // and now.
        write(60);
        assert_eq!(started_at(&mark, spawned, (now, wall)).unwrap().at, spawned);
        std::fs::write(&mark, format!("{} n7\n", u64::MAX / 2)).unwrap();
        assert_eq!(started_at(&mark, spawned, (now, wall)).unwrap().at, now);
    }
}
