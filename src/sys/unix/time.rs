//! A monotonic clock that a signal handler may read (`Instant::now` is not
//! documented to be async-signal-safe).
//!
//! Not here: what is timed (`signals`, `supervise`).

/// CLOCK_MONOTONIC in ns; never 0. Async-signal-safe.
pub fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime writes only into `now`, which we own.
    let now = unsafe {
        let mut now: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
        now
    };
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
        .max(1)
}
