//! The in-process modes: each letter's length from the reacted polymer, on
//! a pool of threads (or one), with no processes or files. `thread` and
//! `serial` do the same per-letter work as a `reduce` child (remove the
//! letter, react what is left) to compare processes against threads;
//! `sweep` takes each letter's length from the junctions where its units
//! were, without copying the polymer: the better algorithm, same report.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::background::{self, Emit};
use crate::polymer::sweep::Limits;
use crate::polymer::{Polymer, Sweep, UnitType, react_without_into};
use crate::signals::Signals;
use crate::supervise::{Attempt, Outcome};

/// Finds the length of `reacted` without each of `letters`, on `threads`
/// worker threads, handing each attempt to `progress` as it ends. A stop
/// signal ends the run at once ([`super::Interrupted`]).
///
/// Each worker copies the polymer, removes the letter and reacts what is
/// left (what a child does); with `sweep`, it sweeps the junctions of the
/// reacted polymer instead, copying nothing, with at most `sweep` segments
/// (a letter that needs more is done the other way).
pub fn run(
    reacted: Polymer,
    letters: &[UnitType],
    threads: usize,
    sweep: Option<usize>,
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
                Box::new(move |emit| work_on(&reacted, &letters, &next, sweep, epoch, &emit));
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
    sweep: Option<usize>,
    epoch: Instant,
    emit: &Emit<Attempt>,
) {
    // One buffer per worker, reused: memory stays at threads x |P| (for
    // the sweep, the segments of the kept part, and a copy only for a
    // letter that needs more than its budget).
    let mut scratch = Polymer::default();
    let mut sweep = sweep.map(|max_segments| {
        Sweep::with_limits(Limits {
            max_segments,
            give_up_when_busy: true,
        })
    });
    let mut into = Vec::new();
    while !emit.cancelled() {
        let Some(&letter) = letters.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return;
        };
        let started = Instant::now();
        // A letter whose sweep would hold too many segments, or look at too
        // many junctions, is reacted into a buffer of the worker's instead.
        let length = match &mut sweep {
            Some(sweep) => sweep.length_of(reacted.units(), letter).unwrap_or_else(|| {
                react_without_into(reacted.units(), Some(letter), &mut into);
                into.len()
            }),
            None => reacted.reacted_len_without(letter, &mut scratch),
        };
        emit.send(Attempt {
            letter,
            number: 1,
            spawned: started.duration_since(epoch),
            started: started.duration_since(epoch),
            duration: started.elapsed(),
            host: None,
            outcome: Outcome::Ok(length),
            stderr_tail: Vec::new(),
        });
    }
}
