//! The in-process modes: the same per-letter work as a `reduce` child
//! (remove the letter from the reacted polymer, react the rest), run on a
//! pool of threads, or one letter after another on one, with no processes
//! or files. They exist to compare against the process fan-out: same
//! answer, same report, without the cost of starting processes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::background::{self, Emit};
use crate::polymer::{Polymer, UnitType};
use crate::signals::Signals;
use crate::supervise::{Attempt, Outcome};

/// Reacts `reacted` without each of `letters`, on `threads` worker threads,
/// handing each attempt to `progress` as it ends. A stop signal ends the
/// run at once ([`super::Interrupted`]).
pub fn run(
    reacted: Polymer,
    letters: &[UnitType],
    threads: usize,
    signals: &Signals,
    epoch: Instant,
    progress: &dyn Fn(&Attempt),
) -> anyhow::Result<Vec<Attempt>> {
    let reacted = Arc::new(reacted);
    let letters: Arc<[UnitType]> = letters.into();
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..threads.clamp(1, letters.len().max(1)))
        .map(|_| {
            let (reacted, letters, next) = (reacted.clone(), letters.clone(), next.clone());
            let work: Box<dyn FnOnce(Emit<Attempt>) + Send> =
                Box::new(move |emit| work_on(&reacted, &letters, &next, epoch, &emit));
            work
        })
        .collect();
    let mut attempts = Vec::with_capacity(letters.len());
    background::run(signals, workers, |attempt: Attempt| {
        progress(&attempt);
        attempts.push(attempt);
    })?;
    Ok(attempts)
}

/// One worker: takes the next letter until none is left or the run stops.
fn work_on(
    reacted: &Polymer,
    letters: &[UnitType],
    next: &AtomicUsize,
    epoch: Instant,
    emit: &Emit<Attempt>,
) {
    // One buffer per worker, reused: memory stays at threads x |P|.
    let mut scratch = Polymer::default();
    while !emit.cancelled() {
        let Some(&letter) = letters.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return;
        };
        let started = Instant::now();
        let length = reacted.reacted_len_without(letter, &mut scratch);
        emit.send(Attempt {
            letter,
            number: 1,
            spawned: started.duration_since(epoch),
            started: started.duration_since(epoch),
            duration: started.elapsed(),
            outcome: Outcome::Ok(length),
            stderr_tail: Vec::new(),
        });
    }
}
