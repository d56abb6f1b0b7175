//! What macOS has instead of Linux's: no PID namespace, subreaper, sealed
//! in-memory file, `/proc` or `prctl`, so this part gives the weaker
//! guarantees that remain, each one said where it is made: children are
//! contained by their process groups alone, a child learns of its parent's
//! death by watching for it, and the polymer goes to children as a private
//! file (`docs/guarantees.md` has the table).
//!
//! Not here: what any Unix has (`unix`), or the API this part provides
//! (`sys`, which re-exports it).

pub mod contain;
pub mod fs;
pub mod host;
pub mod lock;
pub mod memory;
pub mod process;
pub mod user;

pub use super::unix::split_command_line;
