//! Console events on Windows, delivered as Windows' console delivers them:
//! on Ctrl+C, Ctrl+Break or the console's close, the console starts a
//! thread in each process on it at `CtrlRoutine` (in `kernelbase.dll`),
//! which runs the process's handlers. These tests start that thread in the
//! run themselves: Wine's `GenerateConsoleCtrlEvent` delivers Ctrl+C only
//! (and as a SIGINT, which `scripts/windows-check.sh` sends), and refuses
//! Ctrl+Break as not implemented.
//!
//! Every phase: while children and their grandchildren run, and while the
//! input is read from a pipe that never ends. Ctrl+C and Ctrl+Break end
//! the run with 130, the console's close with 129, as SIGINT and SIGHUP
//! do on Unix, with nothing left behind.
#![cfg(windows)]

mod common;

use std::io::Write;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Run, alive, eventually, example, pids, spawn_faulty, wait_within};
use windows_sys::Win32::Foundation::CloseHandle;
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Threading::{CreateRemoteThread, LPTHREAD_START_ROUTINE};

/// Delivers console event `event` to `process` as the console does: a
/// thread of its own at `CtrlRoutine`, with the event as its argument.
fn console_event(process: &Child, event: u32) {
    let name: Vec<u16> = "kernelbase.dll\0".encode_utf16().collect();
    // SAFETY: a NUL-terminated name; kernelbase is loaded in every process,
    // at the same address in each, so the routine's address here is its
    // address in the run too.
    let routine = unsafe {
        let module = GetModuleHandleW(name.as_ptr());
        assert!(!module.is_null(), "kernelbase.dll is not loaded");
        GetProcAddress(module, c"CtrlRoutine".as_ptr().cast())
    }
    .expect("kernelbase.dll has no CtrlRoutine");
    // SAFETY: CtrlRoutine takes one pointer-sized argument (the event) and
    // returns a DWORD, as a thread's start routine does.
    let start: LPTHREAD_START_ROUTINE = Some(unsafe {
        std::mem::transmute::<
            unsafe extern "system" fn() -> isize,
            unsafe extern "system" fn(*mut std::ffi::c_void) -> u32,
        >(routine)
    });
    // SAFETY: the handle is our child's, held by `process` (with every
    // access); no security attributes, default stack, no thread id wanted.
    let thread = unsafe {
        CreateRemoteThread(
            process.as_raw_handle(),
            std::ptr::null(),
            0,
            start,
            event as usize as *const std::ffi::c_void,
            0,
            std::ptr::null_mut(),
        )
    };
    assert!(
        !thread.is_null(),
        "could not start CtrlRoutine in the run: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a handle we own, closed once.
    unsafe { CloseHandle(thread) };
}

/// A run of 26 children that hang, each with three grandchildren that try
/// to leave (asking to break away from the job), once all have started;
/// its temporary folders go in `dir/tmp`.
fn run_with_children(dir: &Path) -> (Run, Vec<i32>) {
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let pid_log = dir.join("pids");
    let mut run = Run(spawn_faulty(dir)
        .env("FAULT_ALL", "escape")
        .env("PID_LOG", &pid_log)
        .env("TMP", &tmp)
        .env("TEMP", &tmp)
        .stderr(Stdio::piped())
        .arg(example())
        .spawn()
        .unwrap());
    eventually(60, "every child and grandchild to start", || {
        assert!(run.try_wait().unwrap().is_none(), "the run ended");
        pids(&pid_log).len() >= 26 * 4
    });
    (run, pids(&pid_log))
}

/// Sends `event` while children run: the run ends with `status`, saying
/// `said` in one line, and leaves no process and no temporary folder.
fn stops_children(event: u32, status: i32, said: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut run, started) = run_with_children(dir.path());
    console_event(&run, event);
    assert_eq!(wait_within(&mut run, 30).code(), Some(status));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(
        stderr,
        format!("orchestrate: error: {said}; every child was stopped\n")
    );
    eventually(10, "every child and grandchild to be gone", || {
        started.iter().all(|&pid| !alive(pid))
    });
    let left: Vec<_> = std::fs::read_dir(dir.path().join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn ctrl_break_while_children_run_ends_the_run_with_130_and_nothing_left() {
    stops_children(CTRL_BREAK_EVENT, 130, "interrupted by Ctrl+C or Ctrl+Break");
}

#[test]
fn ctrl_c_while_children_run_ends_the_run_with_130_and_nothing_left() {
    stops_children(CTRL_C_EVENT, 130, "interrupted by Ctrl+C or Ctrl+Break");
}

#[test]
fn the_console_closed_while_children_run_ends_the_run_with_129_and_nothing_left() {
    stops_children(CTRL_CLOSE_EVENT, 129, "interrupted by the console's close");
}

/// Sends `event` while the run reads standard input from a pipe that never
/// ends, once it has read megabytes of it: the run ends with `status`.
fn stops_a_read(event: u32, status: i32) {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run(std::process::Command::new(common::orchestrate_bin())
        .current_dir(dir.path())
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let mut pipe = run.stdin.take().unwrap();
    let (written, read) = std::sync::mpsc::channel();
    // Once 4 MB are written, far more than a pipe holds, the run has read
    // most of them: it is reading, with its handlers in place.
    let writer = std::thread::spawn(move || {
        let wrote = pipe.write_all(&vec![b'a'; 4 << 20]).is_ok();
        let _ = written.send(wrote);
        pipe
    });
    let wrote = read.recv_timeout(Duration::from_secs(60));
    assert_eq!(wrote, Ok(true), "the run did not read its input");
    console_event(&run, event);
    assert_eq!(wait_within(&mut run, 30).code(), Some(status));
    // The pipe stays open until the run has ended.
    drop(writer.join().unwrap());
}

#[test]
fn ctrl_break_while_reading_an_endless_pipe_ends_the_run_with_130() {
    stops_a_read(CTRL_BREAK_EVENT, 130);
}

#[test]
fn ctrl_c_while_reading_an_endless_pipe_ends_the_run_with_130() {
    stops_a_read(CTRL_C_EVENT, 130);
}
