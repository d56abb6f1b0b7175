//! Whether this process can tell its own files from others': in a user
//! namespace where its user is unmapped, it cannot.
//!
//! Not here: a file's owner (`unix::user`), or which files a run may
//! remove (`orchestrator::marker`).

use crate::sys::unix::user::Owner;

/// This process's user, when it can tell this user's files from others':
/// not in a user namespace where this user is unmapped (there every
/// unmapped owner reads as the same overflow id, ours included).
pub fn me() -> Option<Owner> {
    let me = Owner::effective();
    (me.id() != overflow_uid()).then_some(me)
}

/// The id the kernel shows for an owner unmapped in this user namespace.
fn overflow_uid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(65534)
}
