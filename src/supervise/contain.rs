//! Containment of what children leave behind.
//!
//! Stopping a child signals its process group, which reaches what it started
//! in that group, but not a process that left it (`setsid`, `setpgid`) or
//! was orphaned by a double fork. On Linux, `orchestrate` therefore makes
//! itself a *child subreaper*: every orphaned descendant of a child is
//! re-parented to `orchestrate` instead of to init, where [`kill_orphans`]
//! finds it, kills it and reaps it. That runs whenever the last running
//! child has ended and once more before the run returns, so no descendant
//! outlives the run.
//!
//! Not covered: a SIGKILL of `orchestrate` itself. Its direct children then
//! die by their parent-death signal, but their descendants are re-parented
//! to the next subreaper or to init (see the README's guarantees).

use std::io;
use std::time::{Duration, Instant};

/// Makes this process the subreaper of its descendants (Linux); elsewhere
/// a no-op that says so.
#[cfg(target_os = "linux")]
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn become_subreaper() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "child subreapers are Linux-only",
    ))
}

/// Kills and reaps every child of this process that is not in `keep`,
/// again and again (a killed orphan's own children are re-parented here in
/// turn), until none is left or a few seconds have passed. Returns how many
/// processes it killed.
pub fn kill_orphans(keep: &[libc::pid_t]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut killed = 0;
    loop {
        let orphans: Vec<libc::pid_t> = children()
            .into_iter()
            .filter(|pid| !keep.contains(pid))
            .collect();
        if orphans.is_empty() || Instant::now() >= deadline {
            return killed;
        }
        for &pid in &orphans {
            // SAFETY: kill has no memory-safety preconditions. The pid is
            // our own child and unreaped, so it cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed += 1;
        }
        for &pid in &orphans {
            reap(pid, deadline);
        }
    }
}

/// Waits for our child `pid` to end, until `deadline`.
fn reap(pid: libc::pid_t, deadline: Instant) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only into `status`, which we own.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc != 0 || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The pids of this process's children: from each thread's `children` list
/// in /proc (cheap), or, where the kernel lacks it, from every process's
/// parent pid.
fn children() -> Vec<libc::pid_t> {
    let parse = |text: &str| -> Vec<libc::pid_t> {
        text.split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    };
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        let mut pids = Vec::new();
        let mut listed = false;
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                listed = true;
                pids.extend(parse(&text));
            }
        }
        if listed {
            return pids;
        }
    }
    let me = std::process::id().to_string();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    processes
        .flatten()
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // The fields after the command name, which may hold spaces.
            let after = stat.rsplit_once(") ")?.1;
            let ppid = after.split_whitespace().nth(1)?;
            (ppid == me).then_some(pid)
        })
        .collect()
}
