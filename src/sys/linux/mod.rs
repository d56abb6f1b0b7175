//! What only Linux has: PID and user namespaces, `prctl`, sealed in-memory
//! files (`memfd`), `O_PATH`, `renameat2`, `fallocate`, `close_range`,
//! huge pages, and what `/proc` tells (a process's children, threads and
//! state, the table of locks, the boot id, the overflow user id).
//!
//! Not here: what any Unix has (`unix`), or the API this part provides
//! (`sys`, which re-exports it).

pub mod contain;
pub mod fs;
pub mod host;
pub mod lock;
pub mod memory;
pub mod process;
pub mod sealed;
pub mod user;

pub use super::unix::split_command_line;
