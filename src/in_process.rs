//! The in-process modes: the same per-letter work as a `reduce` child
//! (remove the letter from the reacted polymer, react the rest), run on a
//! pool of threads or on the caller's thread, with no processes or files.
//! They exist to compare against the process fan-out: same answer, same
//! report, without the cost of starting processes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::polymer::UnitType;
use crate::reaction;
use crate::report::{Attempt, Outcome};
use crate::signals::Signals;
use crate::supervisor::Supervision;

/// Reacts `reacted` without each of `letters`, on `threads` threads (the
/// caller's own when 1). A stop request ends the run between letters.
pub fn run(
    reacted: &[u8],
    letters: &[UnitType],
    threads: usize,
    signals: &Signals,
    epoch: Instant,
    progress: &(dyn Fn(&Attempt) + Sync),
) -> Supervision {
    let next = AtomicUsize::new(0);
    let attempts = Mutex::new(Vec::with_capacity(letters.len()));
    let worker = || {
        // One buffer per worker, reused: memory stays at threads x |P|.
        let mut buffer = Vec::with_capacity(reacted.len());
        while signals.stop_requests() == 0 {
            let Some(&letter) = letters.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let started = Instant::now();
            buffer.clear();
            buffer.extend(reacted.iter().filter(|&&unit| !letter.matches(unit)));
            let length = reaction::react_in_place(&mut buffer);
            let attempt = Attempt {
                letter,
                number: 1,
                spawned: started.duration_since(epoch),
                start: started.duration_since(epoch),
                duration: started.elapsed(),
                outcome: Outcome::Ok(length),
                stderr_tail: Vec::new(),
            };
            progress(&attempt);
            attempts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(attempt);
        }
    };
    if threads <= 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads.min(letters.len()) {
                scope.spawn(worker);
            }
        });
    }
    Supervision {
        attempts: attempts.into_inner().unwrap_or_else(|e| e.into_inner()),
        interrupted: signals.stop_signal(),
    }
}
