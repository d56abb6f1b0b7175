//! The platform layer: everything this crate asks of the operating system
//! that the standard library does not say portably, behind one API in the
//! terms of the domain (a child's process group, a file's identity, a lock,
//! a stop signal), so that nothing above it names a `libc` item or has a
//! `#[cfg(...)]` about the system.
//!
//! The API is the public modules below; each system has a part that
//! provides it: `unix` for what every Unix has (POSIX calls, signals,
//! `flock`), `linux` for what only Linux has (PID namespaces, sealed
//! in-memory files, `/proc`, `prctl`, `O_PATH`, huge pages). A port to
//! another system adds its part (a `windows` one, say) and chooses it here;
//! nothing above this layer changes.
//!
//! Not here: what the domain decides with these calls (when to stop a
//! child, which folder is whose, what a signal means for a run), and
//! `memory`'s allocator, which the standard library's `System` serves.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(unix)]
mod unix;

#[cfg(not(target_os = "linux"))]
compile_error!("the platform layer has a part for Linux only; a port adds its own to src/sys/");

pub use linux::{contain, sealed};
pub use unix::process::Pid;

pub mod fs {
    //! Files: opening them without following a symlink or waiting on a
    //! FIFO, a file's identity, owner and change time, writing and renaming
    //! through a folder's descriptor, the descriptors a path may name,
    //! in-memory files.
    //!
    //! Not here: what the files hold, or when they are written (`files`,
    //! `protocol`, `orchestrator`).

    pub use super::linux::fs::*;
    pub use super::unix::fs::*;
}

pub mod process {
    //! Processes: signalling one or its group, seeing whether a child has
    //! exited, a child's process group and its death with its parent, and
    //! forking a helper that runs this program's code.
    //!
    //! Not here: when a child is stopped, or what its end means
    //! (`supervise`).

    pub use super::linux::process::*;
    pub use super::unix::process::*;
}

pub mod signals {
    //! Signals: their names, handlers and masks, and the wake-up that
    //! handlers ring for the thread that waits on them.
    //!
    //! Not here: which signals stop a run, and what stopping does
    //! (`signals`, `supervise`).

    pub use super::unix::signals::*;
}

pub mod lock {
    //! Locks on files that a process holds for as long as it lives, and who
    //! holds one.
    //!
    //! Not here: what a lock means (`orchestrator::marker`,
    //! `orchestrator::workspace`).

    pub use super::linux::lock::*;
    pub use super::unix::lock::*;
}

pub mod host {
    //! The machine: its name, and the boot it is in.
    //!
    //! Not here: Slurm's name for a node (`protocol`).

    pub use super::linux::host::*;
    pub use super::unix::host::*;
}

pub mod user {
    //! Who owns a file, and whether that is this process's user.
    //!
    //! Not here: which files a run may remove (`orchestrator::marker`).

    pub use super::linux::user::*;
    pub use super::unix::user::*;
}

pub mod memory {
    //! Advice on how memory this process owns is backed.
    //!
    //! Not here: which buffers get it (`memory`).

    pub use super::linux::memory::*;
}

pub mod time {
    //! A clock that a signal handler may read.
    //!
    //! Not here: timeouts and the time a run spends paused (`supervise`,
    //! `signals`).

    pub use super::unix::time::*;
}
