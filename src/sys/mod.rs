//! The platform layer: everything this crate asks of the operating system
//! that the standard library does not say portably, behind one API in the
//! terms of the domain (a child's process group, a file's identity, a lock,
//! a stop signal), so that nothing above it names a `libc` item or has a
//! `#[cfg(...)]` about the system.
//!
//! The API is the public modules below; each system has a part that
//! provides it: `unix` for what every Unix has (POSIX calls, signals,
//! `flock`), `linux` for what only Linux has (PID namespaces, sealed
//! in-memory files, `/proc`, `prctl`, `O_PATH`, huge pages), `macos` for
//! what macOS has instead, and `windows` for all of it the Windows way
//! (job objects, console events, `LockFileEx`, share modes). A port to
//! another system adds its part and chooses it here; nothing above this
//! layer changes.
//!
//! Not here: what the domain decides with these calls (when to stop a
//! child, which folder is whose, what a signal means for a run), and
//! `memory`'s allocator, which the standard library's `System` serves.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

/// The part for this system: beside `unix`, what it has that not every
/// Unix has, or what it has instead; on Windows, all of it.
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(windows)]
use windows as os;

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
compile_error!(
    "the platform layer has parts for Linux, macOS and Windows only; a port adds its own to src/sys/"
);

pub use os::contain;
#[cfg(target_os = "linux")]
pub use os::sealed;
pub use process::Pid;

/// Sealed in-memory files, which only Linux has: elsewhere, the calls that
/// say there are none.
#[cfg(not(target_os = "linux"))]
#[path = "unsealed.rs"]
pub mod sealed;

/// Whether Slurm can run children from here: it runs on Linux only.
pub const SLURM_RUNS_HERE: bool = cfg!(target_os = "linux");

/// Splits a command prefix into words by this system's rules: a POSIX
/// shell's on Unix (quotes and backslashes), Windows' own on Windows
/// (`CommandLineToArgvW`, which keeps the backslashes of a path such as
/// `"C:\Program Files\tool.exe"`).
pub use os::split_command_line;

/// How a run contains what its children start, as far as the system
/// allows (`contain::enter` decides, `contain::current` tells).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Containment {
    /// A PID namespace whose init dies with orchestrate (Linux).
    PidNamespace,
    /// The subreaper only, because the kernel refused a namespace (why).
    Subreaper(String),
    /// Process groups alone: what leaves its child's group is out of
    /// reach (why: the system has nothing more).
    ProcessGroups(String),
    /// A job object per attempt, killed with orchestrate (Windows).
    JobObject,
}

/// What `contain::enter` decided, for reports.
static CONTAINMENT: std::sync::Mutex<Option<Containment>> = std::sync::Mutex::new(None);

impl Containment {
    /// How this run contains its children, once `contain::enter` recorded
    /// it (`contain::current` tells).
    fn recorded() -> Option<Containment> {
        CONTAINMENT.lock().map_or(None, |c| c.clone())
    }

    /// Records this as how the run contains its children, and returns it.
    fn record(self) -> Containment {
        if let Ok(mut current) = CONTAINMENT.lock() {
            *current = Some(self.clone());
        }
        self
    }

    /// Its name in reports: `pid-namespace`, `subreaper`,
    /// `process-groups` or `job-object`.
    pub fn name(&self) -> &'static str {
        match self {
            Containment::PidNamespace => "pid-namespace",
            Containment::Subreaper(_) => "subreaper",
            Containment::ProcessGroups(_) => "process-groups",
            Containment::JobObject => "job-object",
        }
    }
}

pub mod fs {
    //! Files: opening them without following a symlink or waiting on a
    //! FIFO, a file's identity, owner and change time, writing and renaming
    //! through a folder's descriptor, the descriptors a path may name,
    //! in-memory files.
    //!
    //! Not here: what the files hold, or when they are written (`files`,
    //! `protocol`, `orchestrator`).

    pub use super::os::fs::*;
    #[cfg(unix)]
    pub use super::unix::fs::*;

    /// What opening a file that someone else wrote found.
    #[derive(Debug)]
    pub enum Opened {
        Missing,
        /// Not a regular file: a symlink, a FIFO, a device, a folder.
        NotRegular(&'static str),
        Regular(std::fs::File),
    }

    /// What kind of thing is under a name in a folder.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum EntryKind {
        Regular,
        Symlink,
        Folder,
        /// A FIFO, a device, a socket, a pipe.
        Other,
    }
}

pub mod process {
    //! Processes: signalling one or its group, seeing whether a child has
    //! exited, a child's process group and its death with its parent, and
    //! forking a helper that runs this program's code.
    //!
    //! Not here: when a child is stopped, or what its end means
    //! (`supervise`).

    pub use super::os::process::*;
    #[cfg(unix)]
    pub use super::unix::process::*;
}

pub mod signals {
    //! Signals: their names, handlers and masks, and the wake-up that
    //! handlers ring for the thread that waits on them.
    //!
    //! Not here: which signals stop a run, and what stopping does
    //! (`signals`, `supervise`).

    #[cfg(unix)]
    pub use super::unix::signals::*;
    #[cfg(windows)]
    pub use super::windows::signals::*;

    /// A signal this program sends or hears, by its Unix name. On Windows
    /// only an interrupt (Ctrl+C, Ctrl+Break) and a hang-up (the console's
    /// close) arrive, a stop or a kill sent is the termination of a job,
    /// and the numbers are Linux's, so exit statuses are the same.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Signal {
        /// SIGHUP: the terminal (the console) was closed.
        Hangup,
        /// SIGINT: Ctrl-C (on Windows, Ctrl+Break too).
        Interrupt,
        /// SIGQUIT: Ctrl-\.
        Quit,
        /// SIGTERM: asked to end.
        Terminate,
        /// SIGKILL: ended, without a chance to answer.
        Kill,
        /// SIGCHLD: a child ended.
        Child,
        /// SIGTSTP: Ctrl-Z, a pause that can be caught.
        Pause,
        /// SIGCONT: go on after a pause.
        Continue,
        /// SIGPIPE: a write into a pipe or socket that nobody reads.
        BrokenPipe,
        /// SIGXFSZ: a write past the file size limit (`ulimit -f`).
        FileSizeLimit,
    }
}

pub mod lock {
    //! Locks on files that a process holds for as long as it lives, and who
    //! holds one.
    //!
    //! Not here: what a lock means (`orchestrator::marker`,
    //! `orchestrator::workspace`).

    pub use super::os::lock::*;

    /// Who holds a folder's lock, as far as the system tells.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Holder {
        /// No process holds it.
        Free,
        /// This process (on this machine) holds it.
        Process(u32),
        /// Some process holds it; the system does not say which.
        Unknown,
    }
    #[cfg(unix)]
    pub use super::unix::lock::*;
}

pub mod host {
    //! The machine: its name, and the boot it is in.
    //!
    //! Not here: Slurm's name for a node (`protocol`).

    pub use super::os::host::*;
    #[cfg(unix)]
    pub use super::unix::host::*;
}

pub mod user {
    //! Who owns a file, and whether that is this process's user.
    //!
    //! Not here: which files a run may remove (`orchestrator::marker`).

    pub use super::os::user::*;
    #[cfg(unix)]
    pub use super::unix::user::*;
}

pub mod memory {
    //! Advice on how memory this process owns is backed.
    //!
    //! Not here: which buffers get it (`memory`).

    pub use super::os::memory::*;
}

pub mod time {
    //! A clock that a signal handler may read.
    //!
    //! Not here: timeouts and the time a run spends paused (`supervise`,
    //! `signals`).

    #[cfg(unix)]
    pub use super::unix::time::*;
    #[cfg(windows)]
    pub use super::windows::time::*;
}
