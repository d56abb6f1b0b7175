//! Containment of what children leave behind.
//!
//! Stopping a child signals its process group, which reaches what it started
//! in that group, but not a process that left it (`setsid`, `setpgid`) or
//! was orphaned by a double fork. Two ways catch those:
//!
//! - **A PID namespace** ([`enter`], Linux): last before its children
//!   start, `orchestrate` unshares a PID namespace (inside a user namespace
//!   of its own, entered at start by [`prepare`], when it is not root) and
//!   forks the namespace's init, a small loop
//!   that reaps orphans, kills them on request, and asks the kernel to kill
//!   it when `orchestrate` dies. Every child and everything it starts is
//!   then in the namespace; when its init dies, the kernel kills every
//!   process in it. So nothing outlives `orchestrate`, however it ends,
//!   SIGKILL included.
//! - **A subreaper** (the fallback where the kernel refuses namespaces):
//!   `orchestrate` makes itself a *child subreaper*: every orphaned
//!   descendant of a child is re-parented to it instead of to init. This
//!   does not survive a SIGKILL of `orchestrate`.
//!
//! Either way, [`kill_orphans`] kills the orphans whenever the last running
//! child has ended and once more before the run returns, so no descendant
//! outlives the run.
//!
//! Not here: when orphans are killed, and which children are spared
//! (`supervise::local`); how one child is stopped (`supervise::child`).

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::sys::Containment;
use crate::sys::signals::Signal;
use crate::sys::unix::process::{Pid, exit_now, kill};

/// The environment variable that, set to `subreaper`, keeps children out of
/// a PID namespace (a debugger or a tool that follows pids may want them
/// in this process's).
pub const CONTAINMENT_ENV: &str = "POLYMER_FANOUT_CONTAINMENT";

/// The namespace's init, from orchestrate's side: its pid, and the socket
/// it takes requests on (its end of file is init's signal to end).
struct Init {
    pid: libc::pid_t,
    control: UnixStream,
    /// The number of the last kill request.
    requests: u8,
}

/// The init of this process's namespace, once [`enter`] made one.
static INIT: Mutex<Option<Init>> = Mutex::new(None);

/// How this run contains its children, once [`enter`] was called.
pub fn current() -> Option<Containment> {
    Containment::recorded()
}

/// The pid children see as their parent's: 0 inside the namespace (their
/// parent lives outside it), this process's otherwise.
pub fn parent_pid_for_children() -> Pid {
    match current() {
        Some(Containment::PidNamespace) => 0,
        _ => std::process::id() as Pid,
    }
}

/// Prepares the namespace, while the process has one thread (a user
/// namespace demands it): when not root, enters a user namespace of its own,
/// in which it may then make a PID namespace. The guard it returns ends the
/// namespace [`enter`] makes (killing whatever is left in it) when dropped.
pub fn prepare() -> Teardown {
    let prepared = match std::env::var(CONTAINMENT_ENV) {
        Ok(value) if value == "subreaper" => Err(format!("{CONTAINMENT_ENV}=subreaper")),
        _ => prepare_user_namespace().map_err(|err| err.to_string()),
    };
    if let Ok(mut state) = PREPARED.lock() {
        *state = Some(prepared);
    }
    Teardown
}

/// What [`prepare`] found: `Ok` when a PID namespace may be tried.
static PREPARED: Mutex<Option<Result<(), String>>> = Mutex::new(None);

fn prepare_user_namespace() -> io::Result<()> {
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if uid == 0 {
        return Ok(());
    }
    match super::process::threads() {
        Some(1) => {}
        Some(_) => return Err(io::Error::other("more than one thread")),
        None => {
            return Err(io::Error::other(
                "/proc is not mounted, and a user namespace's ids are mapped through it",
            ));
        }
    }
    // Tried first in a child: a kernel may allow the user namespace and
    // then refuse its mapping (or the PID namespace), and a process left in
    // an unmapped user namespace could not be put back.
    // SAFETY: the process has one thread, so the child may run any code;
    // it ends with _exit.
    match unsafe { libc::fork() } {
        -1 => return Err(io::Error::last_os_error()),
        0 => {
            let tried = enter_user_namespace(uid, gid).and_then(|()| {
                // SAFETY: unshare with flags only.
                match unsafe { libc::unshare(libc::CLONE_NEWPID) } {
                    0 => Ok(()),
                    _ => Err(io::Error::last_os_error()),
                }
            });
            exit_now(i32::from(tried.is_err()))
        }
        child => {
            let mut status = 0;
            // SAFETY: waitpid on our own child, writing into `status`.
            unsafe { libc::waitpid(child, &mut status, 0) };
            if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                return Err(io::Error::other(
                    "the kernel refuses an unprivileged user or PID namespace",
                ));
            }
        }
    }
    enter_user_namespace(uid, gid)
}

/// Enters a user namespace of its own, as `uid`/`gid` still.
fn enter_user_namespace(uid: libc::uid_t, gid: libc::gid_t) -> io::Result<()> {
    // SAFETY: unshare with flags only; the caller has one thread.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // Ourselves as ourselves: files keep their owner; setgroups must be
    // refused before an unprivileged process may map its group.
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// Puts every child this process starts from now on into a PID namespace
/// that dies with it; where the kernel refuses (or [`prepare`] did not
/// run), makes this process a subreaper instead. Once in a namespace this
/// process can start no more threads (the kernel keeps a process's threads
/// in one namespace): call it when all threads are started.
///
/// Fails only when the namespace was made but its init could not be
/// started: then no child can be started at all.
pub fn enter() -> anyhow::Result<Containment> {
    let prepared = PREPARED
        .lock()
        .ok()
        .and_then(|state| state.clone())
        .unwrap_or_else(|| Err("not prepared at start".into()));
    let entered = match prepared {
        Ok(()) => enter_namespace(),
        Err(why) => Err(Failure::Refused(why)),
    };
    let containment = match entered {
        Ok(()) => Containment::PidNamespace,
        Err(Failure::NoInit(err)) => {
            anyhow::bail!("could not start the init of the children's PID namespace: {err}")
        }
        Err(Failure::Refused(why)) => {
            let _ = become_subreaper();
            Containment::Subreaper(why)
        }
    };
    Ok(containment.record())
}

/// Why there is no namespace.
enum Failure {
    /// Refused (by the kernel, or as asked): the subreaper does instead.
    Refused(String),
    /// Made, but its init could not be started: no child can start now.
    NoInit(io::Error),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        Failure::Refused(err.to_string())
    }
}

/// Whether `err`, from starting a thread, is the kernel refusing the
/// thread (EINVAL) to a process whose new processes go into a PID
/// namespace it is not in itself (as `unshare --pid` without `--fork`
/// leaves it).
pub fn is_thread_refused(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EINVAL)
}

/// Ends the namespace when dropped: whatever is still in it is killed, and
/// its init reaped.
pub struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        let Some(init) = INIT.lock().ok().and_then(|mut init| init.take()) else {
            return;
        };
        drop(init.control);
        let deadline = Instant::now() + Duration::from_secs(5);
        reap(init.pid, deadline);
    }
}

fn enter_namespace() -> Result<(), Failure> {
    if INIT.lock().map_or(true, |init| init.is_some()) {
        return Err(Failure::Refused("a namespace was made already".into()));
    }
    // Everything that can fail for want of a resource first: once the
    // namespace is made, new processes go into it, and the first must be
    // its init.
    let (ours, theirs) = UnixStream::pair()?;
    // SAFETY: unshare with flags only.
    if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: the child runs only `run_init`, which makes async-signal-safe
    // system calls only and allocates nothing, so forking while other
    // threads exist is sound; it never returns.
    match unsafe { libc::fork() } {
        // The namespace exists but has no init: no child could run in it.
        -1 => Err(Failure::NoInit(io::Error::last_os_error())),
        0 => run_init(theirs, ours.as_raw_fd()),
        pid => {
            drop(theirs);
            if let Ok(mut init) = INIT.lock() {
                *init = Some(Init {
                    pid,
                    control: ours,
                    requests: 0,
                });
            }
            Ok(())
        }
    }
}

/// The namespace's init: reaps orphans, kills every other process of the
/// namespace when asked (`k`, answered with `k` once they are gone), and
/// ends when orchestrate closes the socket, which the kernel does when
/// orchestrate dies, however it dies: then it kills everything in the
/// namespace and exits.
fn run_init(control: UnixStream, parents_end: libc::c_int) -> ! {
    // SAFETY: close with an integer argument only. Closing the parent's end
    // (ours is a copy of it) lets its closing be seen here.
    unsafe {
        libc::close(parents_end);
    }
    let fd = control.as_raw_fd();
    // Nothing of orchestrate's but the socket: no lock it holds (a run that
    // finds a killed run's folder must be able to take its lock at once),
    // no file, no handler writing to orchestrate's sockets.
    // SAFETY: close_range and signal with integer arguments only; every
    // descriptor closed is one this process does not use again.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3, fd - 1, 0);
        libc::syscall(libc::SYS_close_range, fd + 1, libc::c_uint::MAX, 0);
        for signal in [
            libc::SIGCHLD,
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
        ] {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    let mut control = control;
    loop {
        reap_all(None);
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own. The timeout bounds how long a zombie
        // orphan waits to be reaped.
        let ready = unsafe { libc::poll(&mut poll, 1, 100) };
        if ready == 0
            || (ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted)
        {
            continue;
        }
        let mut request = [0u8; 1];
        match control.read(&mut request) {
            Ok(1) => {
                // SAFETY: kill(-1) from a namespace's init reaches every
                // other process of the namespace, and nothing outside it.
                unsafe { libc::kill(-1, libc::SIGKILL) };
                reap_all(Some(Instant::now() + Duration::from_secs(2)));
                // The answer names the request it answers.
                let _ = control.write_all(&request);
            }
            // The end of file, or an error: orchestrate is done, or gone.
            _ => {
                // SAFETY: kill(-1) from a namespace's init reaches every
                // other process of the namespace, and nothing outside it.
                unsafe { libc::kill(-1, libc::SIGKILL) };
                reap_all(Some(Instant::now() + Duration::from_secs(2)));
                exit_now(0)
            }
        }
    }
}

/// Reaps every child that has ended; with `until`, every child, waiting
/// for them (after a SIGKILL to all of them) until then.
fn reap_all(until: Option<Instant>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only into `status`, which we own.
        let reaped = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if reaped > 0 {
            continue;
        }
        // None left (ECHILD), or some still dying.
        if reaped < 0 || until.is_none_or(|until| Instant::now() >= until) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Asks the namespace's init to kill every process of the namespace but
/// itself, and waits (a few seconds at most) until they are gone; false
/// when there is no namespace.
fn kill_namespace() -> bool {
    let Ok(mut init) = INIT.lock() else {
        return false;
    };
    let Some(init) = init.as_mut() else {
        return false;
    };
    init.requests = init.requests.wrapping_add(1);
    let request = [init.requests];
    let deadline = Instant::now() + Duration::from_secs(5);
    if init.control.write_all(&request).is_err() {
        return true;
    }
    // An answer to an earlier request that timed out is skipped: only this
    // one's says the namespace is empty now.
    let mut answer = [0u8; 1];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let _ = init
            .control
            .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match init.control.read_exact(&mut answer) {
            Ok(()) if answer == request => return true,
            Ok(()) => continue,
            Err(_) => break,
        }
    }
    true
}

/// Makes this process the subreaper of its descendants.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A child of this process that is no orphan (the janitor that removes
/// the run's folders), which the kill of orphans spares.
static SPARED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Spares `pid`, a child of this process, from [`kill_orphans`].
pub fn spare(pid: Pid) {
    SPARED.store(pid, std::sync::atomic::Ordering::SeqCst);
}

fn spared() -> libc::pid_t {
    SPARED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Gives every child `command` starts a PID namespace of its own, nested
/// in the run's, when the run has one: stopping the attempt then stops
/// everything it started, whatever process group or session that joined.
/// (This package's `reduce`, started directly, starts nothing and needs
/// none.) Where the run has no namespace, the command is left as it is.
///
/// The process orchestrate sees (a relay, in the run's namespace) forks the
/// attempt's init, which forks the program. The relay ends as the program
/// ended (its exit status or its signal), once everything the program
/// started is gone. A stop signal sent to the attempt's process group
/// reaches the init, which passes it on to every process of the attempt
/// (SIGTSTP as SIGSTOP, so nothing can ignore a pause); SIGKILL of the
/// group kills the relay and the init, and with the init the kernel kills
/// the whole namespace.
///
/// Returns whether it did: a stop signal for such a child is then sent to
/// the relay alone (which passes it to the init, which passes it to every
/// process of the attempt once), not to its process group.
pub fn contain_each(command: &mut std::process::Command) -> bool {
    use std::os::unix::process::CommandExt;
    if current() != Some(Containment::PidNamespace) {
        return false;
    }
    // SAFETY: `attempt_namespace` makes async-signal-safe system calls
    // only and allocates nothing; it returns only in the process that is
    // to exec the program.
    unsafe {
        command.pre_exec(attempt_namespace);
    }
    true
}

/// The attempt's init, as its relay knows it (each relay is a process of
/// its own, with its own copy of this).
static ATTEMPT_INIT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// The relay's handler: a stop signal goes on to the attempt's init.
extern "C" fn pass_to_init(signal: libc::c_int) {
    let init = ATTEMPT_INIT.load(std::sync::atomic::Ordering::SeqCst);
    if init > 0 {
        // SAFETY: kill is async-signal-safe; the init is our own child,
        // unreaped while this relay lives.
        unsafe { libc::kill(init, signal) };
    }
}

/// The signals an attempt's init passes on to the attempt's processes.
const PASSED_ON: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGTSTP,
    libc::SIGCONT,
];

/// Between fork and exec: see [`contain_each`]. Returns in the process
/// that becomes the program; the relay and the init never return.
fn attempt_namespace() -> io::Result<()> {
    let mut ends = [0 as libc::c_int; 2];
    // SAFETY: unshare with flags only; pipe2 writes two descriptors into
    // `ends`, which we own.
    unsafe {
        if libc::unshare(libc::CLONE_NEWPID) != 0 {
            // Too deep, or refused after all: the program runs as it would
            // without.
            return Ok(());
        }
        if libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let [status_in, status_out] = ends;
    // Held until each process has its handlers: a stop signal sent the
    // moment the spawn returns waits for them instead of meeting the
    // default action.
    mask_passed_on(libc::SIG_BLOCK);
    // SAFETY: this process has one thread (it was forked); the child runs
    // only async-signal-safe calls until it execs or exits.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => attempt_init(status_out, status_in),
        init => relay(init, status_in, status_out),
    }
}

/// The attempt's init (pid 1 of its namespace): starts the program (the
/// fork that returns), passes stop signals on to every process of the
/// namespace, reaps, and when the program has ended kills what it left,
/// tells the relay how the program ended, and exits.
fn attempt_init(status_out: libc::c_int, status_in: libc::c_int) -> io::Result<()> {
    // SAFETY: prctl, close and fork with integer arguments only; this
    // process has one thread.
    let program = unsafe {
        // Gone with the relay, and so with orchestrate.
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        libc::close(status_in);
        libc::fork()
    };
    match program {
        -1 => exit_now(127),
        0 => {
            // SAFETY: close with an integer argument only.
            unsafe { libc::close(status_out) };
            mask_passed_on(libc::SIG_UNBLOCK);
            return Ok(());
        }
        _ => {}
    }
    pass_stop_signals_on(status_out);
    let mut ended = None;
    while ended.is_none() {
        let mut status = 0;
        // SAFETY: waitpid writes only into `status`, which we own.
        let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
        if reaped == program {
            ended = Some(status);
        } else if reaped < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
            break;
        }
    }
    // SAFETY: kill(-1) from a namespace's init reaches every other process
    // of the namespace, and nothing outside it.
    unsafe { libc::kill(-1, libc::SIGKILL) };
    reap_all(Some(Instant::now() + Duration::from_secs(2)));
    if let Some(status) = ended {
        let bytes = status.to_ne_bytes();
        // SAFETY: write from a buffer we own; _exit runs nothing of the
        // parent's.
        unsafe { libc::write(status_out, bytes.as_ptr().cast(), bytes.len()) };
    }
    exit_now(0)
}

/// In an attempt's init: passes every stop signal on to the whole
/// namespace (a Ctrl+Z as SIGSTOP), and closes every descriptor but the
/// status pipe's `status_out`.
fn pass_stop_signals_on(status_out: libc::c_int) {
    extern "C" fn pass_on(signal: libc::c_int) {
        let signal = if signal == libc::SIGTSTP {
            libc::SIGSTOP
        } else {
            signal
        };
        // SAFETY: kill is async-signal-safe; -1 from a namespace's init
        // reaches every other process of the namespace and nothing else.
        unsafe { libc::kill(-1, signal) };
    }
    // SAFETY: sigaction with a handler that only calls kill, which is
    // async-signal-safe; close_range with integer arguments only (nothing
    // of orchestrate's is needed here but the status pipe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = pass_on as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in PASSED_ON {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        mask_passed_on(libc::SIG_UNBLOCK);
        if status_out > 0 {
            libc::syscall(libc::SYS_close_range, 0, status_out - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, status_out + 1, libc::c_uint::MAX, 0);
    }
}

/// The process orchestrate started, for an attempt in a namespace of its
/// own: waits for the init's word on how the program ended, and ends the
/// same way (by the same signal, or with the same status).
fn relay(init: libc::pid_t, status_in: libc::c_int, status_out: libc::c_int) -> io::Result<()> {
    ATTEMPT_INIT.store(init, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: sigaction, signal, close and close_range with integer
    // arguments and a handler that only calls kill. A stop signal sent to
    // the relay goes on to the init, which passes it to every process of
    // the attempt; the relay outlives it to say how the program ended. A
    // pause reaches the init through the group.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = pass_to_init as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in PASSED_ON {
            match signal {
                libc::SIGCONT => {}
                libc::SIGTSTP => {
                    libc::signal(signal, libc::SIG_IGN);
                }
                _ => {
                    libc::sigaction(signal, &action, std::ptr::null_mut());
                }
            }
        }
        mask_passed_on(libc::SIG_UNBLOCK);
        libc::close(status_out);
        if status_in > 0 {
            libc::syscall(libc::SYS_close_range, 0, status_in - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, status_in + 1, libc::c_uint::MAX, 0);
    }
    let mut bytes = [0u8; 4];
    let mut got = 0;
    while got < bytes.len() {
        // SAFETY: read into the part of `bytes` not yet filled.
        let n = unsafe {
            libc::read(
                status_in,
                bytes[got..].as_mut_ptr().cast(),
                bytes.len() - got,
            )
        };
        if n > 0 {
            got += n as usize;
        } else if n == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    let mut init_status = 0;
    // SAFETY: waitpid on our own child, writing into `init_status`.
    while unsafe { libc::waitpid(init, &mut init_status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
    let status = if got == bytes.len() {
        i32::from_ne_bytes(bytes)
    } else {
        init_status
    };
    end_as(status)
}

/// Blocks or unblocks (`how`) the signals an attempt's init passes on, for
/// this thread; async-signal-safe.
fn mask_passed_on(how: libc::c_int) {
    // SAFETY: the set is initialised by sigemptyset before use;
    // sigprocmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in PASSED_ON {
            libc::sigaddset(&mut set, signal);
        }
        libc::sigprocmask(how, &set, std::ptr::null_mut());
    }
}

/// Ends this process as a process with wait status `status` ended.
fn end_as(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: setrlimit, signal, sigprocmask and kill with values we
        // own: no core file for a signal passed on, the default action
        // back, the signal unblocked and sent to ourselves.
        unsafe {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), signal);
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    exit_now(code)
}

/// Kills every orphan: in a namespace, with `keep` empty (no child runs),
/// every process of it but its init; otherwise every child of this
/// process that is not in `keep` is killed and reaped, again and again (a
/// killed orphan's own children are re-parented here in turn), until none
/// is left or a few seconds have passed. Returns how many processes it
/// killed as a subreaper.
pub fn kill_orphans(keep: &[Pid]) -> usize {
    if keep.is_empty() && kill_namespace() {
        return 0;
    }
    // The namespace's init is a child too, and not an orphan.
    let init = INIT
        .lock()
        .ok()
        .and_then(|init| init.as_ref().map(|i| i.pid));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut killed = 0;
    loop {
        let orphans: Vec<libc::pid_t> = children()
            .into_iter()
            .filter(|pid| !keep.contains(pid) && Some(*pid) != init && *pid != spared())
            .collect();
        if orphans.is_empty() || Instant::now() >= deadline {
            return killed;
        }
        for &pid in &orphans {
            // Our own child, unreaped: its pid cannot have been reused.
            let _ = kill(pid, Signal::Kill);
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

/// Whether a subreaper can find the orphans it should kill: it lists this
/// process's children through `/proc`, which may not be mounted.
pub fn can_find_orphans() -> bool {
    std::path::Path::new("/proc/self").exists()
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
