//! Containment of what children leave behind, as far as macOS allows:
//! stopping a child signals its process group, which reaches what it
//! started in that group. macOS has no PID namespace and no subreaper, so
//! a process that left the group (`setsid`, `setpgid`) or was orphaned by
//! a double fork is re-parented to `launchd` and cannot be found or killed
//! by this process: that is the guarantee that is missing here.
//!
//! Not here: when a child is stopped (`supervise`).

use std::io;

pub use crate::sys::Containment;
use crate::sys::unix::process::Pid;

/// The environment variable that, on Linux, keeps children out of a PID
/// namespace; here there is none to keep them out of.
pub const CONTAINMENT_ENV: &str = "POLYMER_FANOUT_CONTAINMENT";

/// How this run contains its children, once [`enter`] was called.
pub fn current() -> Option<Containment> {
    Containment::recorded()
}

/// The pid children see as their parent's: this process's.
pub fn parent_pid_for_children() -> Pid {
    std::process::id() as Pid
}

/// Nothing to prepare: the guard it returns does nothing when dropped.
pub fn prepare() -> Teardown {
    Teardown
}

/// Ends nothing when dropped (there is no namespace to end).
pub struct Teardown;

/// Records that children are contained by their process groups alone.
pub fn enter() -> anyhow::Result<Containment> {
    let why = "macOS has neither PID namespaces nor subreapers";
    Ok(Containment::ProcessGroups(why.to_string()).record())
}

/// Never: threads are refused only by a Linux PID namespace.
pub fn is_thread_refused(_err: &io::Error) -> bool {
    false
}

/// Nothing to spare: [`kill_orphans`] kills nothing here.
pub fn spare(_pid: Pid) {}

/// Leaves `command` as it is (there is no namespace to give it); returns
/// false, so a stop signal goes to the child's process group.
pub fn contain_each(_command: &mut std::process::Command) -> bool {
    false
}

/// Kills nothing: an orphan is re-parented to `launchd`, out of this
/// process's reach. Returns 0.
pub fn kill_orphans(_keep: &[Pid]) -> usize {
    0
}

/// Whether orphans can be found: never, here.
pub fn can_find_orphans() -> bool {
    false
}
