//! Processes, the Windows way: a child starts suspended, is put into a job
//! object of its own (`contain`) and only then runs, so that nothing it
//! starts can escape the job; stopping a child terminates its job, the
//! whole tree at once (Windows has no signal a child could answer); whether
//! a process lives or has exited, from a handle to it; and a child that
//! dies with its parent by waiting on the parent's handle.
//!
//! Windows has no `fork`: the helpers that Unix forks (the janitor) are not
//! started here, and [`fork`] and [`channel`] say so.
//!
//! Not here: the job objects themselves (`contain`), or when a child is
//! stopped (`supervise`).

use std::io::{self, Read, Write};
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::process::{Child, Command, ExitStatus};

use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, HANDLE, STILL_ACTIVE, WAIT_OBJECT_0};
use windows_sys::Win32::Storage::FileSystem::WriteFile;
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::Threading::{
    CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, GetCurrentProcess, GetExitCodeProcess, INFINITE,
    OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE,
    TerminateProcess, WaitForSingleObject,
};

use super::Owned;
use super::contain;
use crate::sys::signals::Signal;

/// A process id (on Windows a `DWORD`; ids are multiples of 4 far below
/// `i32::MAX`, and kept as one here, as on Unix).
pub type Pid = i32;

#[link(name = "ntdll")]
unsafe extern "system" {
    /// Resumes every thread of a process (ntdll's; Windows has no
    /// documented call that resumes a process whose thread handle the
    /// standard library does not give out).
    fn NtResumeProcess(process: HANDLE) -> i32;
}

/// Opens process `pid` with `access`; `None` when it cannot be (it has
/// ended, or is not ours to see).
fn open(pid: Pid, access: u32) -> Option<Owned> {
    let pid = u32::try_from(pid).ok().filter(|&pid| pid != 0)?;
    // SAFETY: OpenProcess takes integers only and returns a new handle (or
    // null), which `Owned` closes.
    Owned::new(unsafe { OpenProcess(access, 0, pid) })
}

/// Stops process `pid` as `signal` asks: a stop or a kill terminates its
/// job (everything it started too) when it has one, else the process
/// alone, with exit status 128 + the signal's number; a pause, a resume or
/// a signal that is news (a child's end) does nothing here. An error (it
/// has ended) is the caller's to ignore.
pub fn kill(pid: Pid, signal: Signal) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    if !signal.ends() {
        return Ok(());
    }
    let code = 128 + signal.number() as u32;
    if contain::terminate_job_of(pid, code) {
        return Ok(());
    }
    let process = open(pid, PROCESS_TERMINATE).ok_or_else(io::Error::last_os_error)?;
    // SAFETY: a handle we own, opened with PROCESS_TERMINATE.
    match unsafe { TerminateProcess(process.raw(), code) } {
        0 => Err(io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// As [`kill`]: a child's group is its job here.
pub fn kill_group(group: Pid, signal: Signal) -> io::Result<()> {
    if group <= 0 || group == std::process::id() as Pid {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    kill(group, signal)
}

/// Does nothing: a console on Windows has no Ctrl+Z that stops a program.
pub fn stop_self() {}

/// Whether our child `pid` has exited (its id cannot be reused while the
/// standard library's `Child` holds a handle to it).
pub fn has_exited(pid: Pid) -> bool {
    let Some(process) = open(pid, PROCESS_SYNCHRONIZE) else {
        return true;
    };
    // SAFETY: a handle we own, opened with SYNCHRONIZE; no wait.
    unsafe { WaitForSingleObject(process.raw(), 0) == WAIT_OBJECT_0 }
}

/// `None`: no process on Windows is killed by a signal (a stopped one ends
/// with the status [`kill`] gave it).
pub fn killed_by(_status: &ExitStatus) -> Option<i32> {
    None
}

/// Starts `command` as the leader of a job of its own: suspended, put into
/// a job object that this process alone holds (so the job dies with it),
/// then resumed, so that nothing it starts can be outside the job. It gets
/// a process group of its own too, so that the console's Ctrl+C reaches
/// this process and not it.
pub fn spawn_contained(command: &mut Command) -> io::Result<Child> {
    command.creation_flags(CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED);
    let mut child = command.spawn()?;
    let handle = child.as_raw_handle();
    let contained = contain::adopt(child.id() as Pid, handle).and_then(|()| {
        // SAFETY: the handle is our child's, held by `child`.
        match unsafe { NtResumeProcess(handle) } {
            0 => Ok(()),
            status => Err(io::Error::other(format!(
                "could not resume the child (status {status:#x})"
            ))),
        }
    });
    if let Err(err) = contained {
        let _ = child.kill();
        let _ = child.wait();
        return Err(err);
    }
    Ok(child)
}

/// Whether a start that failed with `err` may succeed if tried again soon:
/// the system was out of memory or resources for the moment, the program
/// was being written (a sharing violation), or the new process died before
/// it could start (`ERROR_INTERNAL_ERROR`, which Wine 8 reports for about
/// one start in 8,000 when a new process cannot map its memory). A
/// program missing or not allowed fails the same way every time.
pub fn start_may_pass(err: &io::Error) -> bool {
    use windows_sys::Win32::Foundation::{
        ERROR_COMMITMENT_LIMIT, ERROR_INTERNAL_ERROR, ERROR_NO_SYSTEM_RESOURCES,
        ERROR_NONPAGED_SYSTEM_RESOURCES, ERROR_NOT_ENOUGH_MEMORY, ERROR_OUTOFMEMORY,
        ERROR_PAGED_SYSTEM_RESOURCES, ERROR_SHARING_VIOLATION,
    };
    let Some(code) = err.raw_os_error().and_then(|code| u32::try_from(code).ok()) else {
        return false;
    };
    matches!(
        code,
        ERROR_NOT_ENOUGH_MEMORY
            | ERROR_OUTOFMEMORY
            | ERROR_SHARING_VIOLATION
            | ERROR_INTERNAL_ERROR
            | ERROR_NO_SYSTEM_RESOURCES
            | ERROR_NONPAGED_SYSTEM_RESOURCES
            | ERROR_PAGED_SYSTEM_RESOURCES
            | ERROR_COMMITMENT_LIMIT
    )
}

/// What [`fork`] returned, in each of the two processes.
#[derive(Debug)]
pub enum Forked {
    /// In the new process.
    Child,
    /// In this process: the new one's pid.
    Parent(Pid),
}

/// An error always: Windows has no `fork`.
///
/// # Safety
///
/// None needed here; the signature is the layer's.
pub unsafe fn fork() -> io::Result<Forked> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows has no fork",
    ))
}

/// Ends this process at once with exit status `code`: no destructor, no
/// exit handler, no flush.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: terminating this process takes its own pseudo-handle and an
    // integer; it does not return.
    unsafe { TerminateProcess(GetCurrentProcess(), code as u32) };
    std::process::abort()
}

/// Waits for our child `pid` to end (Windows keeps no zombies to reap).
pub fn wait(pid: Pid) {
    if let Some(process) = open(pid, PROCESS_SYNCHRONIZE) {
        // SAFETY: a handle we own, opened with SYNCHRONIZE.
        unsafe { WaitForSingleObject(process.raw(), INFINITE) };
    }
}

/// Writes `bytes` to standard error directly, with no lock, buffer or
/// allocation; errors are ignored.
pub fn write_stderr(bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut written = 0;
    // SAFETY: WriteFile reads at most `len` bytes of `bytes`, which we
    // borrow, on the standard error handle (a null or invalid one fails).
    unsafe {
        WriteFile(
            GetStdHandle(STD_ERROR_HANDLE),
            bytes.as_ptr(),
            len,
            &mut written,
            std::ptr::null_mut(),
        )
    };
}

/// One end of a channel to a forked helper: never made here (no `fork`).
#[derive(Debug)]
pub struct Channel(std::convert::Infallible);

/// An error always: there is no helper to talk to without `fork`.
pub fn channel() -> io::Result<(Channel, Channel)> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows has no fork",
    ))
}

impl Drop for Channel {
    fn drop(&mut self) {
        match self.0 {}
    }
}

impl Read for Channel {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        match self.0 {}
    }
}

impl Write for Channel {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        match self.0 {}
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0 {}
    }
}

/// Ends this process (with SIGKILL's status, 137) when process `parent`
/// ends: a thread waits on the parent's handle. Fails if `parent` cannot
/// be opened (it has ended). (The job orchestrate puts its children in
/// ends them with it too; this covers a `reduce` started otherwise.)
pub fn die_with(parent: Pid) -> io::Result<()> {
    let process = open(parent, PROCESS_SYNCHRONIZE)
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            // SAFETY: a handle we own, opened with SYNCHRONIZE.
            unsafe { WaitForSingleObject(process.raw(), INFINITE) };
            exit_now(128 + 9)
        })?;
    Ok(())
}

/// Nothing to arrange: a child dies with this process through its job.
pub fn die_with_at_exec(_command: &mut Command, _parent: Pid) {}

/// Whether `pid` is a live process (one this user may not look at counts
/// as live).
pub fn lives(pid: u32) -> bool {
    let Some(process) = Pid::try_from(pid)
        .ok()
        .and_then(|pid| open(pid, PROCESS_QUERY_LIMITED_INFORMATION))
    else {
        // Refused: it lives, but is not ours to look at.
        return io::Error::last_os_error().raw_os_error() == Some(ERROR_ACCESS_DENIED as i32);
    };
    let mut code = 0;
    // SAFETY: a handle we own, opened to query; writes into `code`.
    unsafe { GetExitCodeProcess(process.raw(), &mut code) != 0 && code == STILL_ACTIVE as u32 }
}

/// Does nothing: no helper is forked here.
///
/// # Safety
///
/// None needed here; the signature is the layer's.
pub unsafe fn close_all_but(_keep: &Channel) {}

/// How many threads this process has: not told here.
pub fn threads() -> Option<usize> {
    None
}
