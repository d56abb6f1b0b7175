//! A monotonic clock for the console-event handlers (which run on a thread
//! of their own here, so any clock will do).
//!
//! Not here: what is timed (`signals`, `supervise`).

use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds on a monotonic clock; never 0.
pub fn monotonic_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}
