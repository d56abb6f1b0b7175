//! Containment of what children start: a job object per attempt, with
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`. Every child starts suspended, is
//! put into its job and only then runs (`process::spawn_contained`), so
//! everything it starts is in the job too and cannot leave it. The handles
//! to the jobs are this process's alone and never inherited: when it ends,
//! however it ends (`TerminateProcess` included), the system closes them
//! and kills every process in every job. Stopping an attempt terminates
//! its job: the whole tree at once.
//!
//! Not here: when a child is stopped (`supervise`).

use std::io;
use std::sync::Mutex;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject,
};

pub use crate::sys::Containment;

use super::Owned;
use super::process::Pid;

/// The environment variable that, on Linux, keeps children out of a PID
/// namespace; here every child gets its job.
pub const CONTAINMENT_ENV: &str = "POLYMER_FANOUT_CONTAINMENT";

/// Each child's job, by the child's pid, until its orphans are killed.
static JOBS: Mutex<Vec<(Pid, Owned)>> = Mutex::new(Vec::new());

/// How this run contains its children, once [`enter`] was called.
pub fn current() -> Option<Containment> {
    Containment::recorded()
}

/// The pid children see as their parent's: this process's.
pub fn parent_pid_for_children() -> Pid {
    std::process::id() as Pid
}

/// Nothing to prepare; the guard it returns terminates every job left
/// when dropped.
pub fn prepare() -> Teardown {
    Teardown
}

/// Terminates every child's job when dropped.
pub struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        kill_orphans(&[]);
    }
}

/// Records that children are contained by job objects.
pub fn enter() -> anyhow::Result<Containment> {
    Ok(Containment::JobObject.record())
}

/// Never: nothing here refuses threads.
pub fn is_thread_refused(_err: &io::Error) -> bool {
    false
}

/// Nothing to spare: no helper is started here.
pub fn spare(_pid: Pid) {}

/// Returns true: every child started through `process::spawn_contained`
/// gets a job of its own, so a stop goes to the child (its job) alone.
pub fn contain_each(_command: &mut std::process::Command) -> bool {
    true
}

/// Puts the suspended process `handle` (child `pid`) into a new job that
/// dies with this process.
pub(in crate::sys) fn adopt(pid: Pid, handle: HANDLE) -> io::Result<()> {
    // SAFETY: no security attributes and no name; a new handle (or null),
    // which `Owned` closes.
    let job = Owned::new(unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) })
        .ok_or_else(io::Error::last_os_error)?;
    // SAFETY: zeroed is a valid limit information (integers only).
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: the job is ours; the call reads `limits`, of the size given.
    let set = unsafe {
        SetInformationJobObject(
            job.raw(),
            JobObjectExtendedLimitInformation,
            (&raw const limits).cast(),
            size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if set == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both handles are valid: the job ours, the process our child's.
    if unsafe { AssignProcessToJobObject(job.raw(), handle) } == 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(
            err.kind(),
            format!(
                "could not put the child into a job object of its own ({err}); a job \
                 orchestrate runs in may forbid it"
            ),
        ));
    }
    // Kept even if a panic poisoned the lock: dropping the handle would
    // kill the child.
    let mut jobs = JOBS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A job left under the same pid is an earlier child's, whose id the
    // system has given again: what is left in it is orphans.
    kill_orphans_of(&mut jobs, |of| of != pid);
    jobs.push((pid, job));
    Ok(())
}

/// Terminates the job of child `pid` (every process in it, with exit
/// status `code`), if it has one; whether it had.
pub(in crate::sys) fn terminate_job_of(pid: Pid, code: u32) -> bool {
    let Ok(jobs) = JOBS.lock() else {
        return false;
    };
    let Some((_, job)) = jobs.iter().find(|(of, _)| *of == pid) else {
        return false;
    };
    // SAFETY: a job handle we own.
    unsafe { TerminateJobObject(job.raw(), code) };
    true
}

/// Terminates the job of every child not in `keep` (what is left of it
/// once the child has ended: the orphans it started) and lets go of the
/// job. Returns 0: what a job held is not counted.
pub fn kill_orphans(keep: &[Pid]) -> usize {
    if let Ok(mut jobs) = JOBS.lock() {
        kill_orphans_of(&mut jobs, |pid| keep.contains(&pid));
    }
    0
}

/// Terminates and lets go of every job in `jobs` whose child `keep` does
/// not keep.
fn kill_orphans_of(jobs: &mut Vec<(Pid, Owned)>, keep: impl Fn(Pid) -> bool) {
    jobs.retain(|(pid, job)| {
        if keep(*pid) {
            return true;
        }
        // SAFETY: a job handle we own; closed when dropped after this.
        unsafe { TerminateJobObject(job.raw(), 128 + 9) };
        false
    });
}

/// Whether orphans can be found: always, in their jobs.
pub fn can_find_orphans() -> bool {
    true
}
