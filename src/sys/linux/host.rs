//! The boot this machine is in, which tells a file made before it from one
//! made since.
//!
//! Not here: the host's name (`unix::host`), or what a boot proves
//! (`orchestrator::marker`).

/// This boot's id (`/proc/sys/kernel/random/boot_id`), which changes at
/// every boot; `None` where it cannot be read.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|id| id.trim().to_string())
        .ok()
}
