//! Whether this process can tell its own files from others': always on
//! macOS, which has no user namespaces.
//!
//! Not here: a file's owner (`unix::user`), or which files a run may
//! remove (`orchestrator::marker`).

use crate::sys::unix::user::Owner;

/// This process's user.
pub fn me() -> Option<Owner> {
    Some(Owner::effective())
}
