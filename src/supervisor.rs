//! Supervision of child processes: start them (at most `jobs` at once), see
//! them finish by polling their result files and their exit, stop them on
//! timeout, failure or interruption, and never leave one behind.
//!
//! Every child leads its own process group, so a stop reaches whatever it
//! started (a launcher's payload, a script's grandchildren), and a terminal's
//! Ctrl-C reaches only the orchestrator, which forwards it. On Linux each
//! child also asks the kernel to kill it if the orchestrator dies, so even a
//! SIGKILL of the parent leaves no orphan.
//!
//! Not here: deciding what to run (the orchestrator) or how to show it (the
//! report).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::launcher::Launcher;
use crate::protocol::{self, ChildJob, ResultFile};
use crate::report::{Attempt, Outcome};
use crate::signals::Signals;

/// The program each child runs, and how.
#[derive(Clone, Debug)]
pub struct ChildProgram {
    pub program: PathBuf,
    pub launcher: Launcher,
}

/// How children are supervised.
#[derive(Clone, Debug)]
pub struct Policy {
    /// At most this many children alive at once (at least 1).
    pub jobs: usize,
    /// Per-attempt wall-clock limit.
    pub timeout: Option<Duration>,
    /// Run every letter even after a failure.
    pub keep_going: bool,
    /// Extra attempts for a failed letter.
    pub retries: u32,
    /// Time between SIGTERM and SIGKILL when stopping a child.
    pub grace: Duration,
    /// The first poll interval; it doubles while nothing happens...
    pub first_poll: Duration,
    /// ...up to this.
    pub max_poll: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            jobs: 26,
            timeout: None,
            keep_going: false,
            retries: 0,
            grace: Duration::from_secs(2),
            first_poll: Duration::from_millis(1),
            max_poll: Duration::from_millis(50),
        }
    }
}

/// What supervising a batch of jobs produced.
#[derive(Debug)]
pub struct Supervision {
    /// Every attempt, in the order they ended.
    pub attempts: Vec<Attempt>,
    /// The stopping signal, if SIGINT or SIGTERM ended the run early.
    pub interrupted: Option<i32>,
}

/// A child process that has been started and not yet reaped.
struct Running {
    job: ChildJob,
    attempt: u32,
    child: Child,
    started: Instant,
    /// The child's own start: when its exec succeeded, or under a
    /// launcher, once its start marker has been seen.
    began: Option<Instant>,
    /// The start marker, under a launcher only: there the spawn says
    /// nothing about when the work begins (a queue may hold it), while a
    /// direct child has begun by the time its spawn returns.
    marker: Option<PathBuf>,
    deadline: Option<Instant>,
    /// The result, once the poll has seen a valid result file.
    result: Option<usize>,
    /// Set once we began stopping it: when SIGTERM went out and what the
    /// attempt will count as.
    stopping: Option<(Instant, Outcome)>,
    killed: bool,
    /// The child's stderr, captured.
    stderr: File,
}

impl Running {
    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Whether the child has exited, without reaping it: while it is an
    /// unreaped zombie its pid, and so its process group id, cannot be
    /// reused, which makes the final sweep of its group safe.
    fn has_exited(&self) -> bool {
        // SAFETY: waitid only writes into `info`, a zeroed siginfo_t we own;
        // WNOWAIT leaves the child waitable for `Child::wait` later.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(
                libc::P_PID,
                self.pid() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            rc == 0 && info.si_pid() != 0
        }
    }

    fn signal_group(&self, signal: libc::c_int) {
        // SAFETY: killpg has no memory-safety preconditions. The group id is
        // the pid of our unreaped child, so it names its group and no other.
        // Errors (the group is already empty) are irrelevant here.
        unsafe {
            libc::killpg(self.pid(), signal);
        }
    }

    fn begin_stop(&mut self, now: Instant, outcome: Outcome) {
        if self.stopping.is_none() {
            self.signal_group(libc::SIGTERM);
            self.stopping = Some((now, outcome));
        }
    }

    fn kill(&mut self) {
        if !self.killed {
            self.signal_group(libc::SIGKILL);
            self.killed = true;
        }
    }

    /// Sweeps the exited child's process group and reaps it, then decides
    /// what the attempt amounted to.
    fn conclude(mut self, epoch: Instant) -> (ChildJob, Attempt) {
        // Anything the child left running in its group goes with it.
        self.signal_group(libc::SIGKILL);
        let status = self.child.wait();
        let outcome = match (self.stopping.take(), status) {
            (Some((_, outcome)), _) => outcome,
            (None, Err(err)) => Outcome::SpawnError(format!("could not wait for the child: {err}")),
            (None, Ok(status)) => match (status.code(), status.signal()) {
                (Some(0), _) => match self.result {
                    Some(length) => Outcome::Ok(length),
                    None => match protocol::read_result(&self.job.result) {
                        Ok(ResultFile::Length(length)) => Outcome::Ok(length),
                        Ok(ResultFile::Missing) => Outcome::NoResult,
                        Ok(ResultFile::Malformed(excerpt)) => Outcome::BadResult(excerpt),
                        Err(err) => Outcome::BadResult(format!("unreadable: {err}")),
                    },
                },
                (Some(code), _) => Outcome::Exit(code),
                (None, Some(signal)) => Outcome::Signal(signal),
                (None, None) => Outcome::Exit(-1),
            },
        };
        // A child that ran between two polls is seen only now.
        if let Some(marker) = &self.marker {
            if self.began.is_none() {
                self.began = began_at(marker, self.started);
            }
            let _ = std::fs::remove_file(marker);
        }
        let stderr_tail = if outcome.is_ok() {
            Vec::new()
        } else {
            tail_lines(&self.stderr, 3)
        };
        let attempt = Attempt {
            letter: self.job.letter,
            number: self.attempt,
            spawned: self.started.duration_since(epoch),
            start: self.began.unwrap_or(self.started).duration_since(epoch),
            duration: self.began.unwrap_or(self.started).elapsed(),
            outcome,
            stderr_tail,
        };
        (self.job, attempt)
    }
}

/// Runs every job to an outcome, honouring `policy`, and returns when no
/// child of ours is left alive.
pub fn supervise(
    jobs: Vec<ChildJob>,
    program: &ChildProgram,
    policy: &Policy,
    signals: &Signals,
    epoch: Instant,
    progress: &dyn Fn(&Attempt),
) -> Supervision {
    let mut pending: VecDeque<(ChildJob, u32)> = jobs.into_iter().map(|job| (job, 1)).collect();
    let mut running: Vec<Running> = Vec::new();
    let mut attempts = Vec::new();
    let mut halted = false;
    let mut interrupted = None;
    let mut interval = policy.first_poll;
    // Launcher clean-ups (scancel) of stopped children, run alongside.
    let mut cancels: Vec<Child> = Vec::new();
    // Every child's stdin and stdout: one /dev/null, duplicated per child.
    let null = File::options().read(true).write(true).open("/dev/null");

    loop {
        let mut changed = false;
        if signals.stop_requests() > 0 && interrupted.is_none() {
            interrupted = signals.stop_signal();
            halted = true;
            let now = Instant::now();
            for child in &mut running {
                child.begin_stop(now, Outcome::Killed);
            }
        }

        // One spawn per pass: children that finish while the others are
        // still being started are seen (and timed) at once, not after the
        // last spawn.
        let mut spawned = false;
        if !halted
            && running.len() < policy.jobs.max(1)
            && let Some((job, attempt)) = pending.pop_front()
        {
            changed = true;
            spawned = true;
            match spawn(&job, attempt, program, policy, &null) {
                Ok(child) => running.push(child),
                Err(err) => {
                    let now = Instant::now();
                    let failed = Attempt {
                        letter: job.letter,
                        number: attempt,
                        spawned: now.duration_since(epoch),
                        start: now.duration_since(epoch),
                        duration: Duration::ZERO,
                        outcome: Outcome::SpawnError(err.to_string()),
                        stderr_tail: Vec::new(),
                    };
                    halted |= settle(job, failed, policy, &mut pending, &mut attempts, progress);
                }
            }
        }

        if running.is_empty() && (halted || pending.is_empty()) {
            break;
        }

        let now = Instant::now();
        let mut index = 0;
        while index < running.len() {
            let child = &mut running[index];
            // Between spawns only exits are checked (one cheap call per
            // child); start marks and results are read at exit anyway.
            if !spawned {
                if child.began.is_none()
                    && let Some(marker) = &child.marker
                {
                    child.began = began_at(marker, child.started);
                }
                if child.result.is_none()
                    && child.stopping.is_none()
                    && let Ok(ResultFile::Length(length)) = protocol::read_result(&child.job.result)
                {
                    child.result = Some(length);
                    changed = true;
                }
            }
            if child.has_exited() {
                let (job, attempt) = running.swap_remove(index).conclude(epoch);
                if matches!(attempt.outcome, Outcome::Timeout | Outcome::Killed)
                    && let Some(mut cancel) = program.launcher.cancel(job.letter)
                    && let Ok(child) = cancel.spawn()
                {
                    cancels.push(child);
                }
                changed = true;
                if settle(job, attempt, policy, &mut pending, &mut attempts, progress) && !halted {
                    halted = true;
                    for other in &mut running {
                        other.begin_stop(now, Outcome::Killed);
                    }
                }
                continue;
            }
            match child.stopping {
                Some((since, _)) => {
                    if now.duration_since(since) >= policy.grace || signals.stop_requests() >= 2 {
                        child.kill();
                    }
                }
                None => {
                    if child.deadline.is_some_and(|deadline| now >= deadline) {
                        child.begin_stop(now, Outcome::Timeout);
                        changed = true;
                    }
                }
            }
            index += 1;
        }

        interval = if changed {
            policy.first_poll
        } else {
            (interval * 2).min(policy.max_poll)
        };
        let next_deadline = running
            .iter()
            .filter_map(|child| match child.stopping {
                Some((since, _)) if !child.killed => Some(since + policy.grace),
                Some(_) => None,
                None => child.deadline,
            })
            .min();
        let wait = next_deadline.map_or(interval, |deadline| {
            interval.min(deadline.saturating_duration_since(Instant::now()))
        });
        let more_to_spawn = !halted && !pending.is_empty() && running.len() < policy.jobs.max(1);
        if !running.is_empty() && !more_to_spawn {
            signals.wait(wait);
        }
    }

    finish_cancels(cancels);
    Supervision {
        attempts,
        interrupted,
    }
}

/// Waits for the launcher clean-ups, giving up (and killing them) after a
/// while: a scheduler that does not answer must not hang the run.
fn finish_cancels(mut cancels: Vec<Child>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cancels.is_empty() {
        cancels.retain_mut(|cancel| matches!(cancel.try_wait(), Ok(None)));
        if Instant::now() >= deadline {
            for cancel in &mut cancels {
                let _ = cancel.kill();
                let _ = cancel.wait();
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Records an attempt and queues a retry when one is left. Returns whether
/// the run must halt: a final failure without `--keep-going`.
fn settle(
    job: ChildJob,
    attempt: Attempt,
    policy: &Policy,
    pending: &mut VecDeque<(ChildJob, u32)>,
    attempts: &mut Vec<Attempt>,
    progress: &dyn Fn(&Attempt),
) -> bool {
    let failed = attempt.outcome.is_failure();
    let retry = failed && attempt.number <= policy.retries;
    if retry {
        pending.push_front((job, attempt.number + 1));
    } else {
        progress(&attempt);
    }
    let halt = failed && !retry && !policy.keep_going;
    attempts.push(attempt);
    halt
}

fn spawn(
    job: &ChildJob,
    attempt: u32,
    program: &ChildProgram,
    policy: &Policy,
    null: &io::Result<File>,
) -> io::Result<Running> {
    let null = null
        .as_ref()
        .map_err(|err| io::Error::new(err.kind(), format!("could not open /dev/null: {err}")))?;
    // A result left by an earlier attempt must not be taken for this one's.
    protocol::remove_stale(&job.result)?;
    let marker = match program.launcher {
        Launcher::Direct => None,
        _ => {
            let dir = job.result.parent().unwrap_or(Path::new("."));
            let marker = protocol::start_marker_path(dir, job.letter);
            protocol::remove_stale(&marker)?;
            Some(marker)
        }
    };
    let stderr = capture_file()?;
    let mut command = program.launcher.command(&program.program, job);
    command
        .stdin(null.try_clone()?)
        .stdout(null.try_clone()?)
        .stderr(stderr.try_clone()?)
        .process_group(0);
    if let Some(marker) = &marker {
        command.env(protocol::START_FILE_ENV, marker);
    }
    die_with_parent(&mut command);
    // Taken before the spawn: by the time spawn returns, the child may
    // already have started its work.
    let started = Instant::now();
    let child = command.spawn()?;
    // Spawning returns once the child's exec has succeeded.
    let began = marker.is_none().then(Instant::now);
    Ok(Running {
        job: job.clone(),
        attempt,
        child,
        started,
        began,
        marker,
        deadline: policy.timeout.map(|timeout| started + timeout),
        result: None,
        stopping: None,
        killed: false,
        stderr,
    })
}

/// Where a child's stderr goes: a file, not a pipe (a pipe that nobody
/// drains fills up and blocks the child, and a file costs no thread). On
/// Linux an in-memory file: creating 26 files on disk cost more than
/// everything else orchestrate does per child.
#[cfg(target_os = "linux")]
fn capture_file() -> io::Result<File> {
    use std::os::fd::FromRawFd;
    // SAFETY: the name is a NUL-terminated literal; on success the kernel
    // returns a new file descriptor that nothing else owns.
    let fd = unsafe { libc::memfd_create(c"child-stderr".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, valid descriptor owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn capture_file() -> io::Result<File> {
    tempfile::tempfile()
}

/// Has the kernel SIGKILL the child when the thread that spawned it ends,
/// which covers a SIGKILL of the orchestrator. Children are spawned from
/// the thread that runs the supervision loop, which lives as long as the run.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls
    // only prctl and getppid, both async-signal-safe; it allocates nothing
    // (the error is built from a raw OS code).
    unsafe {
        command.pre_exec(move || {
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
            // The parent may have died between fork and prctl, in which case
            // the death signal will never come: check and bail out.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// When the child marked its start, kept between the spawn and now (the
/// clock of another machine may be a little off), or `None` while there is
/// no mark.
fn began_at(marker: &Path, spawned: Instant) -> Option<Instant> {
    let mark = protocol::read_start_mark(marker)?;
    // Read both clocks together, so the mark converts without drift.
    let (now, wall) = (Instant::now(), std::time::SystemTime::now());
    let ago = wall.duration_since(mark).unwrap_or_default();
    let at = now.checked_sub(ago).unwrap_or(spawned);
    Some(at.clamp(spawned, now))
}

/// The last `count` non-empty lines of a (possibly large) file, each cut to a
/// readable length.
fn tail_lines(file: &File, count: usize) -> Vec<String> {
    const WINDOW: u64 = 4096;
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(WINDOW);
    let mut bytes = vec![0; (len - start) as usize];
    // Positioned read: the file offset is shared with the child's copy.
    if file.read_exact_at(&mut bytes, start).is_err() {
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
