//! What every Unix has: POSIX calls on files, processes and signals,
//! `flock`, the host name.
//!
//! Not here: what only Linux has (`linux`), or the API this part provides
//! (`sys`, which re-exports it).

pub mod fs;
pub mod host;
pub mod lock;
pub mod process;
pub mod signals;
pub mod time;
pub mod user;
