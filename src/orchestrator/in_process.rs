//! The in-process modes: each letter's length from the reacted polymer, on
//! a pool of threads (or one), with no processes or files. `thread` and
//! `serial` do the same per-letter work as a `reduce` child (follow the
//! junctions the letter's removal leaves, in place; where that would take
//! too much memory or time, remove it from a copy and react what is left)
//! to compare processes against threads;
//! `sweep` takes every letter's length from the junctions where its units
//! were, in one pass over the polymer for all of them, without copying it:
//! the better algorithm, same report.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::background::{self, Emit};
use crate::polymer::sweep::{self, Limits};
use crate::polymer::{Polymer, UnitType, joined_length, react_without_into, react_without_onto};
use crate::signals::Signals;
use crate::supervise::{Attempt, Outcome};

/// Finds the length of `reacted` without each of `letters`, on `threads`
/// worker threads, handing each attempt to `progress` as it ends. A stop
/// signal ends the run at once ([`super::Interrupted`]).
///
/// Each worker does for a letter what a child does (see the module's
/// docs), with one copy of its own reused letter after letter; with
/// `sweep`, see [`sweep_all`].
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
    let threads = threads.clamp(1, letters.len().max(1));
    let workers = match sweep {
        Some(segments) => sweep_all(&reacted, &letters, threads, segments, PIECE_FROM, epoch),
        None => {
            let next = Arc::new(AtomicUsize::new(0));
            (0..threads)
                .map(|_| {
                    let (reacted, letters, next) = (reacted.clone(), letters.clone(), next.clone());
                    let work: Worker =
                        Box::new(move |emit| work_on(&reacted, &letters, &next, epoch, &emit));
                    work
                })
                .collect()
        }
    };
    let mut attempts = Vec::with_capacity(letters.len());
    let mut failed = None;
    background::run(signals, workers, |found: Found| match found {
        Ok(attempt) => {
            progress(&attempt);
            attempts.push(attempt);
        }
        Err(err) => {
            failed.get_or_insert(err);
        }
    })?;
    match failed {
        Some(err) => Err(err.into()),
        None => Ok(attempts),
    }
}

/// What a worker finds of a letter: its attempt, or that there was no
/// memory to react it.
type Found = std::io::Result<Attempt>;

type Worker = Box<dyn FnOnce(Emit<Found>) + Send>;

/// The error for a letter that found no memory for its copy of the
/// polymer.
fn no_memory_for(letter: UnitType, units: usize) -> std::io::Error {
    crate::memory::exhausted(format_args!(
        "for a copy of the {units} reacted units to react without {letter}"
    ))
}

/// The workers of the sweep. The first sweeps every letter at once, over
/// the polymer (with at most `segments` segments in all). A letter it
/// gives up on (one that needs more than its share of the segments, or
/// cancels so much that following it junction by junction is slower) is
/// cut into pieces that are handed at once to the others, which react each
/// piece without the letter into a buffer while the pass goes on (a worker
/// reacts the piece after its last onto the same buffer: see
/// [`Pool::work`]); the first joins them once its pass is done, and the
/// worker that reacts a letter's last piece joins its pieces into its
/// length.
fn sweep_all(
    reacted: &Arc<Polymer>,
    letters: &Arc<[UnitType]>,
    threads: usize,
    segments: usize,
    piece_from: usize,
    epoch: Instant,
) -> Vec<Worker> {
    let pool = Arc::new(Pool::new());
    let limits = Limits {
        max_segments: segments / letters.len().max(1),
        give_up_when_busy: true,
    };
    let pieces_per_letter = if threads == 1 {
        1
    } else {
        (reacted.len() / piece_from.max(1)).clamp(1, 4 * threads)
    };
    let mut workers = Vec::with_capacity(threads);
    let (polymer, wanted, first) = (reacted.clone(), letters.clone(), pool.clone());
    workers.push(Box::new(move |emit: Emit<Found>| {
        let started = Instant::now();
        let mut asked = [false; 26];
        for letter in wanted.iter() {
            asked[letter.index()] = true;
        }
        // However the pass ends, even by a panic, the other workers stop
        // waiting for it.
        let sweeping = Sweeping(&first);
        let lengths = sweep::lengths_of_each(polymer.units(), &asked, limits, |k| {
            if let Some(letter) = UnitType::from_index(k) {
                first.hand_over(letter, polymer.len(), pieces_per_letter);
            }
        });
        drop(sweeping);
        for (letter, length) in wanted
            .iter()
            .filter_map(|&l| Some((l, lengths[l.index()]?)))
        {
            emit.send(Ok(attempt(letter, epoch, started, length)));
        }
        first.work(&polymer, epoch, &emit);
    }) as Worker);
    for _ in 1..threads {
        let (polymer, pool) = (reacted.clone(), pool.clone());
        workers.push(Box::new(move |emit: Emit<Found>| {
            pool.work(&polymer, epoch, &emit)
        }));
    }
    workers
}

/// While it lives, the sweep may still hand letters over; its drop says it
/// will not.
struct Sweeping<'a>(&'a Pool);

impl Drop for Sweeping<'_> {
    fn drop(&mut self) {
        self.0.swept();
    }
}

/// A letter given up on by the sweep is cut into pieces of at least this
/// many units, so that every worker can take a share.
const PIECE_FROM: usize = 1 << 20;

/// The pieces of the letters the sweep gave up on, waiting for a worker.
struct Pool {
    state: Mutex<PoolState>,
    ready: Condvar,
    /// Buffers of letters whose length was found, to react later pieces
    /// into: memory the kernel zeroed once, never again.
    spare: Mutex<Vec<Vec<u8>>>,
}

struct PoolState {
    pieces: VecDeque<Piece>,
    /// The pieces being reacted now: (letter, index). A letter is handed
    /// over at most once.
    reacting: Vec<(UnitType, usize)>,
    /// Whether the sweep may still give up on letters.
    sweeping: bool,
}

impl PoolState {
    /// The piece a worker whose last piece was `after` (reacted now) takes
    /// next, if any is queued: see [`Pool::next`].
    fn take(&mut self, after: Option<(UnitType, usize)>) -> Option<Piece> {
        if let Some(done) = after {
            self.reacting.retain(|&other| other != done);
        }
        let at = self.choose(after)?;
        let mut piece = self.pieces.remove(at)?;
        // The pieces queued right after it: as far as its run can go.
        piece.reach = self
            .pieces
            .range(at..)
            .take_while(|next| next.letter.letter == piece.letter.letter)
            .scan(piece.range.end, |end, next| {
                (next.range.start == *end).then(|| {
                    *end = next.range.end;
                    *end
                })
            })
            .last()
            .unwrap_or(piece.range.end);
        self.reacting.push((piece.letter.letter, piece.index));
        Some(piece)
    }

    /// Which piece [`take`](PoolState::take) takes.
    fn choose(&self, after: Option<(UnitType, usize)>) -> Option<usize> {
        let follows = |piece: &Piece, (letter, index): (UnitType, usize)| {
            piece.letter.letter == letter && piece.index == index + 1
        };
        after
            .and_then(|after| self.pieces.iter().position(|p| follows(p, after)))
            .or_else(|| {
                self.pieces
                    .iter()
                    .position(|p| !self.reacting.iter().any(|&other| follows(p, other)))
            })
            .or(if self.pieces.is_empty() {
                None
            } else {
                Some(0)
            })
    }
}

/// One piece of the polymer to react without `letter`.
struct Piece {
    letter: Arc<GivenUp>,
    index: usize,
    range: std::ops::Range<usize>,
    /// Once taken, the end of the pieces of the letter queued right after
    /// it: as far as a run that starts with it can go.
    reach: usize,
}

/// A letter given up on by the sweep: its pieces, as each is reacted.
struct GivenUp {
    letter: UnitType,
    started: Instant,
    reacted: Mutex<Vec<Vec<u8>>>,
    left: AtomicUsize,
}

impl Pool {
    /// An empty pool, the sweep still on.
    fn new() -> Pool {
        Pool {
            state: Mutex::new(PoolState {
                pieces: VecDeque::new(),
                reacting: Vec::new(),
                sweeping: true,
            }),
            ready: Condvar::new(),
            spare: Mutex::new(Vec::new()),
        }
    }

    /// Cuts the polymer of `len` units into `count` pieces to react without
    /// `letter`, and wakes the workers.
    fn hand_over(&self, letter: UnitType, len: usize, count: usize) {
        let given_up = Arc::new(GivenUp {
            letter,
            started: Instant::now(),
            reacted: Mutex::new(vec![Vec::new(); count]),
            left: AtomicUsize::new(count),
        });
        let size = len / count;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.pieces.extend((0..count).map(|index| {
            let end = if index + 1 == count {
                len
            } else {
                (index + 1) * size
            };
            Piece {
                letter: given_up.clone(),
                index,
                range: index * size..end,
                reach: end,
            }
        }));
        drop(state);
        self.ready.notify_all();
    }

    /// The sweep is done: no more letters will be handed over.
    fn swept(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sweeping = false;
        self.ready.notify_all();
    }

    /// Reacts pieces until the sweep is done and none is left (or the run
    /// stops), and reports each letter whose last piece it reacted. A piece
    /// that comes right after the one this worker reacted last is reacted
    /// onto the same buffer: the run's units that cancel across the seam
    /// are never held, and memory grows only with what the run keeps.
    fn work(&self, polymer: &Polymer, epoch: Instant, emit: &Emit<Found>) {
        // The piece reacted last, and the slot its run's buffer is in.
        let mut last: Option<(Arc<GivenUp>, usize, usize)> = None;
        let after = |last: &Option<(Arc<GivenUp>, usize, usize)>| {
            last.as_ref()
                .map(|(given_up, index, _)| (given_up.letter, *index))
        };
        while let Some(piece) = self.next(after(&last), emit) {
            let units = &polymer.units()[piece.range.clone()];
            let given_up = &piece.letter;
            let (letter, lock) = (Some(given_up.letter), || {
                given_up.reacted.lock().unwrap_or_else(|e| e.into_inner())
            });
            let run = match &last {
                Some((before, index, slot))
                    if Arc::ptr_eq(before, given_up) && index + 1 == piece.index =>
                {
                    Some(*slot)
                }
                _ => None,
            };
            let (slot, out, reacted) = match run {
                Some(slot) => {
                    // No other worker touches a slot before the letter's
                    // last piece is reacted, and this one is not yet.
                    let mut out = std::mem::take(&mut lock()[slot]);
                    let reacted = react_without_onto(units, letter, &mut out);
                    (slot, out, reacted)
                }
                None => {
                    let mut out = self.run_buffer(units.len(), piece.reach - piece.range.start);
                    let reacted = react_without_into(units, letter, &mut out);
                    (piece.index, out, reacted)
                }
            };
            if reacted.is_err() {
                self.reacted(&piece);
                emit.send(Err(no_memory_for(given_up.letter, units.len())));
                return;
            }
            lock()[slot] = out;
            last = Some((given_up.clone(), piece.index, slot));
            if given_up.left.fetch_sub(1, Ordering::AcqRel) == 1 {
                let reacted = std::mem::take(&mut *lock());
                let pieces: Vec<&[u8]> = reacted.iter().map(Vec::as_slice).collect();
                let length = joined_length(&pieces);
                // The slots of pieces reacted onto another's hold nothing.
                self.spare
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(reacted.into_iter().filter(|buffer| buffer.capacity() > 0));
                emit.send(Ok(attempt(
                    given_up.letter,
                    epoch,
                    given_up.started,
                    length,
                )));
            }
        }
    }

    /// A buffer for a run of pieces that starts with one of `piece` units
    /// and may go on over `reach` units in all (the pieces queued right
    /// after it): a spare one with room for them (memory touched once
    /// already), else a new one reserved for them, so that the run's later
    /// pieces do not move it (only what the run keeps is ever touched).
    /// Where there is no memory for that, a spare one with room for the
    /// piece, or none: the pieces grow it as they need
    /// ([`react_without_onto`]).
    fn run_buffer(&self, piece: usize, reach: usize) -> Vec<u8> {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match spare {
            Some(buffer) if buffer.capacity() >= reach => buffer,
            spare => {
                let mut buffer = Vec::new();
                match crate::memory::reserve_exact(&mut buffer, reach) {
                    Ok(()) => buffer,
                    Err(_) => spare.filter(|s| s.capacity() >= piece).unwrap_or_default(),
                }
            }
        }
    }

    /// The next piece, waiting while the sweep may still hand one over:
    /// the one right `after` the piece this worker reacted last if it is
    /// there, else the first that does not come right after a piece
    /// another worker is reacting (that worker's run goes on with it), else
    /// the first.
    fn next(&self, after: Option<(UnitType, usize)>, emit: &Emit<Found>) -> Option<Piece> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if emit.cancelled() {
                return None;
            }
            if let Some(piece) = state.take(after) {
                return Some(piece);
            }
            if !state.sweeping {
                return None;
            }
            // Woken by a hand-over or the sweep's end; the timeout only
            // lets a stopped run's workers end.
            state = self
                .ready
                .wait_timeout(state, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// `piece`, which a worker gives up on, is no longer being reacted.
    fn reacted(&self, piece: &Piece) {
        let id = (piece.letter.letter, piece.index);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.reacting.retain(|&other| other != id);
    }
}

/// A letter's length, found in-process between `started` and now.
fn attempt(letter: UnitType, epoch: Instant, started: Instant, length: usize) -> Attempt {
    Attempt {
        letter,
        attempt: 1,
        spawned: started.duration_since(epoch),
        started: started.duration_since(epoch),
        duration: started.elapsed(),
        host: None,
        outcome: Outcome::Ok(length),
        stderr_tail: Vec::new(),
    }
}

/// One worker: takes the next letter until none is left or the run stops.
fn work_on(
    reacted: &Polymer,
    letters: &[UnitType],
    next: &AtomicUsize,
    epoch: Instant,
    emit: &Emit<Found>,
) {
    // One copy per worker, made only for a letter whose pass gives up, and
    // reused: memory stays at threads x (|P| + the segments of one pass,
    // at most 16 MiB).
    let mut scratch = Polymer::default();
    while !emit.cancelled() {
        let Some(&letter) = letters.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return;
        };
        let started = Instant::now();
        let limits = Limits {
            max_segments: sweep::MAX_SEGMENTS,
            give_up_when_busy: true,
        };
        let found = sweep::length_without_in_place(reacted.units(), letter.letter() as u8, limits)
            .map_or_else(|| reacted.reacted_len_without(letter, &mut scratch), Ok)
            .map(|length| attempt(letter, epoch, started, length))
            .map_err(|_| no_memory_for(letter, reacted.len()));
        let failed = found.is_err();
        emit.send(found);
        if failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polymer::generate;
    use crate::signals::Signals;

    /// Every letter's length from the sweep's workers, for `units` reacted.
    fn swept(
        units: &[u8],
        threads: usize,
        segments: usize,
        piece_from: usize,
    ) -> Vec<(UnitType, usize)> {
        let mut polymer = Polymer::parse(units.to_vec()).unwrap();
        polymer.react();
        let letters: Arc<[UnitType]> = UnitType::all().collect();
        let workers = sweep_all(
            &Arc::new(polymer),
            &letters,
            threads,
            segments,
            piece_from,
            Instant::now(),
        );
        let signals = Signals::detached().unwrap();
        let mut lengths = Vec::new();
        background::run(&signals, workers, |found: Found| {
            let attempt = found.unwrap();
            match attempt.outcome {
                Outcome::Ok(length) => lengths.push((attempt.letter, length)),
                other => panic!("{other:?}"),
            }
        })
        .unwrap();
        lengths.sort();
        lengths
    }

    fn expected(units: &[u8]) -> Vec<(UnitType, usize)> {
        let mut polymer = Polymer::parse(units.to_vec()).unwrap();
        polymer.react();
        let mut scratch = Polymer::default();
        UnitType::all()
            .map(|l| (l, polymer.reacted_len_without(l, &mut scratch).unwrap()))
            .collect()
    }

    #[test]
    fn letters_given_up_and_cut_into_pieces_get_the_same_lengths() {
        let units = generate::polymer(60_000, 7);
        let want = expected(&units);
        for threads in 1..=3 {
            // No segments at all: every letter that cancels anything is
            // given up on and reacted in pieces of about 100 units.
            assert_eq!(
                swept(&units, threads, 0, 100),
                want,
                "{threads} threads, in pieces"
            );
            // Segments enough: only a busy letter is given up on.
            assert_eq!(
                swept(&units, threads, usize::MAX, 1000),
                want,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn a_letters_pieces_are_reacted_onto_one_buffer_which_the_next_letter_reuses() {
        let mut polymer = Polymer::parse(generate::polymer(30_000, 3)).unwrap();
        polymer.react();
        let polymer = Arc::new(polymer);
        let pool = Arc::new(Pool::new());
        for letter in [b'a', b'b', b'c'] {
            pool.hand_over(UnitType::from_ascii(letter).unwrap(), polymer.len(), 3);
        }
        pool.swept();
        let (worker, reacted) = (pool.clone(), polymer.clone());
        let workers: Vec<Worker> = vec![Box::new(move |emit| {
            worker.work(&reacted, Instant::now(), &emit)
        })];
        let mut lengths = Vec::new();
        let signals = Signals::detached().unwrap();
        background::run(&signals, workers, |found: Found| {
            let attempt = found.unwrap();
            lengths.push((attempt.letter, attempt.outcome));
        })
        .unwrap();
        assert_eq!(lengths.len(), 3);
        let mut scratch = Polymer::default();
        for (letter, outcome) in lengths {
            let want = polymer.reacted_len_without(letter, &mut scratch).unwrap();
            assert_eq!(outcome, Outcome::Ok(want), "{letter}");
        }
        // One worker reacts each letter's pieces one after another onto one
        // buffer, and the next letter's into the same.
        let spare = pool.spare.lock().unwrap();
        assert_eq!(
            spare.len(),
            1,
            "one buffer, for three letters in nine pieces"
        );
    }

    #[test]
    fn a_worker_goes_on_with_the_piece_after_its_last_and_leaves_others_theirs() {
        let pool = Pool::new();
        let (a, b) = (
            UnitType::from_ascii(b'a').unwrap(),
            UnitType::from_ascii(b'b').unwrap(),
        );
        pool.hand_over(a, 400, 4);
        pool.hand_over(b, 400, 2);
        let mut state = pool.state.lock().unwrap();
        let mut take = |after| {
            let piece = state.take(after).unwrap();
            // A run may go on over the pieces queued right after it (a's
            // are 100 units each, b's 200).
            (
                piece.letter.letter,
                piece.index,
                piece.reach - piece.range.start,
            )
        };
        // The first worker starts at the front; the second leaves it the
        // piece after its own and takes the next one no one's run reaches.
        assert_eq!(take(None), (a, 0, 400));
        assert_eq!(take(None), (a, 2, 200));
        // Each goes on with the piece after its last, as long as there is one.
        assert_eq!(take(Some((a, 0))), (a, 1, 100));
        assert_eq!(take(Some((a, 2))), (a, 3, 100));
        // A letter's last piece taken, the next letter's first is next; with
        // every piece left right after one being reacted, the first.
        assert_eq!(take(Some((a, 3))), (b, 0, 400));
        assert_eq!(take(Some((a, 1))), (b, 1, 200));
        assert!(state.take(Some((b, 0))).is_none());
        assert_eq!(state.reacting, [(b, 1)], "the piece still being reacted");
    }

    #[test]
    fn workers_waiting_for_the_sweep_end_even_when_it_panics() {
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pool = Arc::new(Pool::new());
            let polymer = Arc::new(Polymer::default());
            let (sweeper, waiter) = (pool.clone(), pool.clone());
            let workers: Vec<Worker> = vec![
                Box::new(move |_emit| {
                    let _sweeping = Sweeping(&sweeper);
                    panic!("the sweep failed");
                }),
                Box::new(move |emit| waiter.work(&polymer, Instant::now(), &emit)),
            ];
            let signals = Signals::detached().unwrap();
            let _ = background::run(&signals, workers, |_| {});
            let _ = done.send(());
        });
        ended
            .recv_timeout(Duration::from_secs(20))
            .expect("the waiting worker ended");
    }

    /// Every letter's length from thread mode's workers.
    fn threaded(units: &[u8], threads: usize) -> Vec<(UnitType, usize)> {
        let mut polymer = Polymer::parse(units.to_vec()).unwrap();
        polymer.react();
        let letters: Vec<UnitType> = UnitType::all().collect();
        let signals = Signals::detached().unwrap();
        let attempts = run(
            polymer,
            &letters,
            threads,
            None,
            &signals,
            Instant::now(),
            &|_| {},
        )
        .unwrap();
        let mut lengths: Vec<(UnitType, usize)> = attempts
            .iter()
            .map(|attempt| match attempt.outcome {
                Outcome::Ok(length) => (attempt.letter, length),
                ref other => panic!("{other:?}"),
            })
            .collect();
        lengths.sort();
        lengths
    }

    #[test]
    fn thread_mode_follows_junctions_in_place_or_copies_and_gets_the_same_lengths() {
        // Random, and one whose `a`s, once removed, let whole runs cancel:
        // following those junctions is too busy, so that letter is removed
        // from a copy instead.
        let busy = b"bcdefgaGFEDCBh".repeat(6000);
        for units in [
            generate::polymer(60_000, 7),
            busy,
            b"dabAcCaCBAcCcaDA".to_vec(),
        ] {
            for threads in 1..=3 {
                assert_eq!(
                    threaded(&units, threads),
                    expected(&units),
                    "{threads} threads"
                );
            }
        }
    }

    #[test]
    fn an_empty_polymer_and_the_worked_example() {
        for units in [&b""[..], b"dabAcCaCBAcCcaDA"] {
            assert_eq!(swept(units, 2, 0, 1), expected(units));
        }
    }
}
