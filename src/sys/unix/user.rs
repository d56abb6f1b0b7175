//! Who owns a file: a user id, compared with this process's.
//!
//! Not here: whether this process can tell its own files from others'
//! (`linux::user`), or which files a run may remove
//! (`orchestrator::marker`).

use std::os::unix::fs::MetadataExt;

/// A user, as the owner of files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner(u32);

impl Owner {
    /// The owner of the file `metadata` describes.
    pub fn of(metadata: &std::fs::Metadata) -> Owner {
        Owner(metadata.uid())
    }

    /// This process's (effective) user.
    pub(in crate::sys) fn effective() -> Owner {
        // SAFETY: geteuid has no preconditions.
        Owner(unsafe { libc::geteuid() })
    }

    /// The user's id.
    #[cfg(target_os = "linux")]
    pub(in crate::sys) fn id(self) -> u32 {
        self.0
    }
}
