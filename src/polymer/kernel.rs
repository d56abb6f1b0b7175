//! The reaction kernels.
//!
//! - [`react_in_place`]: the full reaction, in the buffer the input was read
//!   into. A plain stack is bound by a load-compare-branch chain on every
//!   unit, and the branch is a coin toss on real inputs. This kernel keeps
//!   the top of the stack in a register, pushes and pops without branches,
//!   and reacts several chunks of the input interleaved in one loop, so
//!   the processor works on independent dependency chains at once; the
//!   reacted chunks are then joined, cancelling at the seams (the reaction of
//!   a concatenation is the reaction of the concatenated reactions). Before
//!   it, vectorised steps cancel most adjacent reacting pairs
//!   ([`super::pairs`]), so the kernel sees about 38% of the units.
//! - [`react_in_place_parallel`]: the same, one part of the input per thread.
//! - [`react_with_plain_stack`]: the textbook `Vec` stack, kept as the
//!   baseline that benchmarks compare against.
//! - [`remove_in_place`]: the one way a unit type is removed.
//!
//! The fast kernels trust their input: a byte that reacts with the sentinel
//! would walk a stack below its buffer. So they are `unsafe fn`s whose
//! precondition (every byte an ASCII letter) only `Polymer` discharges.

use super::unit::{CASE_BIT, UnitType};

/// Stands below the bottom of every stack: it reacts with no letter.
const SENTINEL: u8 = 0;

/// Below this many units one chain is as fast and simpler.
const INTERLEAVE_FROM: usize = 1 << 12;

/// One stack, kept in place at the front of its own region of the buffer.
///
/// Layout: `base[0]` holds the sentinel, the units under the top of the
/// stack follow in `base[1..=under]`, and the top itself lives in a register
/// (the sentinel when the stack is empty, with `under == -1`). Deciding
/// whether a unit reacts then needs no load, and a step is the same few
/// instructions whichever way it goes: the old top is stored above the
/// stack (kept on a push, dead on a pop), and `under` and `top` change by
/// selects, not branches.
///
/// A region reacts in place because its stack never outgrows what it has
/// read: before the unit at index `i` is read, the stack holds at most `i`
/// units, so the store at `base[under + 1]` lands at or before index `i`.
struct Lane {
    /// Points at `base[under]`: the unit under the top, or the sentinel
    /// (or, when the stack is empty, the byte before the region).
    under: *mut u8,
    top: u8,
}

impl Lane {
    /// Starts a stack on the region at `base`, whose first unit it takes.
    ///
    /// # Safety
    /// `base` must point into a buffer with at least one byte before it
    /// (read, never used, when the stack is empty) and one unit at `base`.
    #[inline(always)]
    unsafe fn start(base: *mut u8) -> Lane {
        // SAFETY: `base` points at the region's first unit (caller).
        let top = unsafe { std::ptr::replace(base, SENTINEL) };
        Lane { under: base, top }
    }

    /// Reacts `unit`, the next unit of the region, which has been read.
    ///
    /// # Safety
    /// The region must have been read up to `unit` (see the struct docs);
    /// `under` and `under + 1` are then inside the buffer.
    #[inline(always)]
    unsafe fn step(&mut self, unit: u8) {
        // SAFETY: `under` is at least `base - 1`, which exists (see
        // `start`); `under + 1` is at most the slot of `unit`, already read.
        unsafe {
            let below = *self.under;
            *self.under.add(1) = self.top;
            let reacts = self.top ^ unit == CASE_BIT;
            self.under = if reacts {
                self.under.sub(1)
            } else {
                self.under.add(1)
            };
            self.top = if reacts { below } else { unit };
        }
    }

    /// Stores the top and returns the stack as (offset from `base`, length).
    ///
    /// # Safety
    /// As for `step`, after the last unit of the region, which starts at
    /// `base` and is `region_len` long.
    unsafe fn finish(self, base: *mut u8, region_len: usize) -> (usize, usize) {
        if self.top == SENTINEL {
            return (1, 0);
        }
        // SAFETY: `under` points into the region (the stack is not empty).
        let len = unsafe { self.under.offset_from(base) } as usize + 1;
        // SAFETY: the stack is `base[1..len]` plus the top, and `len <=
        // region_len`. When `len < region_len` the slot after it is in the
        // region; otherwise nothing reacted and the stack moves down one
        // slot, over the sentinel, to make room for the top.
        unsafe {
            if len < region_len {
                *base.add(len) = self.top;
                (1, len)
            } else {
                std::ptr::copy(base.add(1), base, len - 1);
                *base.add(len - 1) = self.top;
                (0, len)
            }
        }
    }
}

/// Fully reacts `units` in place and returns the reacted length; the
/// reacted polymer is `units[..len]`.
///
/// # Safety
/// Every byte of `units` must be an ASCII letter. Any other byte may react
/// with [`SENTINEL`] and move a stack pointer before the buffer.
pub unsafe fn react_in_place(units: &mut [u8]) -> usize {
    // Two vectorised steps cancel most adjacent pairs (on real inputs
    // about 62% of the units) for less than the stack kernel would take.
    let n = super::pairs::cancel_pairs(units);
    let n = super::pairs::cancel_pairs(&mut units[..n]);
    // SAFETY: what is left is some of `units`' bytes: letters (caller).
    unsafe { react_in_lanes(&mut units[..n]) }
}

/// [`react_in_place`] by the stack kernel alone.
///
/// # Safety
/// As for [`react_in_place`].
unsafe fn react_in_lanes(units: &mut [u8]) -> usize {
    let n = units.len();
    if n < 2 {
        return n;
    }
    // The first unit stays where it is as a part of its own, so every
    // region has a byte before it for `Lane::start`.
    let ptr = units.as_mut_ptr();
    if n < INTERLEAVE_FROM {
        // SAFETY: the region `units[1..]` is non-empty and has `units[0]`
        // before it; `i < n` reads each unit once, in order.
        let (offset, len) = unsafe {
            let mut lane = Lane::start(ptr.add(1));
            for i in 2..n {
                lane.step(*ptr.add(i));
            }
            lane.finish(ptr.add(1), n - 1)
        };
        return join_reacted(units, &[0, 1 + offset], &[1, len]);
    }
    // Four regions reacted in lockstep: four independent dependency
    // chains, each one's state in registers. The regions are `units[1..q]`,
    // `[q..2q]`, `[2q..3q]` and `[3q..n]`.
    let q = n / 4;
    let starts = [1, q, 2 * q, 3 * q];
    // SAFETY: every region is non-empty (q >= 1024) and has a byte before
    // it. In the lockstep loop, `i` runs over the indices that all four
    // regions have (the first region is one shorter, hence `q - 1`), and
    // each region's units are read in order before any step stores at
    // that index; the last region then finishes on its own.
    let parts = unsafe {
        let mut a = Lane::start(ptr.add(starts[0]));
        let mut b = Lane::start(ptr.add(starts[1]));
        let mut c = Lane::start(ptr.add(starts[2]));
        let mut d = Lane::start(ptr.add(starts[3]));
        for i in 1..q - 1 {
            a.step(*ptr.add(starts[0] + i));
            b.step(*ptr.add(starts[1] + i));
            c.step(*ptr.add(starts[2] + i));
            d.step(*ptr.add(starts[3] + i));
        }
        b.step(*ptr.add(starts[1] + q - 1));
        c.step(*ptr.add(starts[2] + q - 1));
        for i in starts[3] + q - 1..n {
            d.step(*ptr.add(i));
        }
        [
            a.finish(ptr.add(starts[0]), q - 1),
            b.finish(ptr.add(starts[1]), q),
            c.finish(ptr.add(starts[2]), q),
            d.finish(ptr.add(starts[3]), n - 3 * q),
        ]
    };
    let mut part_starts = [0; 5];
    let mut part_lens = [1; 5];
    for (k, (offset, len)) in parts.into_iter().enumerate() {
        part_starts[k + 1] = starts[k] + offset;
        part_lens[k + 1] = len;
    }
    join_reacted(units, &part_starts, &part_lens)
}

/// Joins reacted parts `units[starts[k]..starts[k] + lens[k]]` (in order,
/// the first starting at 0) into one reacted polymer at the front of
/// `units`, and returns its length.
///
/// Each part is already reacted, so reactions can only happen at a seam,
/// between the end of what is kept so far and the start of the next part.
fn join_reacted(units: &mut [u8], starts: &[usize], lens: &[usize]) -> usize {
    debug_assert_eq!(starts.first(), Some(&0));
    let mut len = lens[0];
    for (&start, &part_len) in starts.iter().zip(lens).skip(1) {
        let (mut from, end) = (start, start + part_len);
        while len > 0 && from < end && units[len - 1] ^ units[from] == CASE_BIT {
            len -= 1;
            from += 1;
        }
        units.copy_within(from..end, len);
        len += end - from;
    }
    len
}

/// The length of `pieces`, each already reacted, joined in order: units can
/// only cancel at a seam, between the end of what is kept so far (which
/// may reach back over several pieces) and the start of the next piece.
/// Nothing is copied. (Bytes other than letters give a length that means
/// nothing, but never a panic.)
pub fn joined_length(pieces: &[&[u8]]) -> usize {
    // What is kept so far, from the bottom: (piece, start, end) each.
    let mut kept: Vec<(usize, usize, usize)> = Vec::with_capacity(pieces.len());
    for (index, piece) in pieces.iter().enumerate() {
        let mut from = 0;
        while let (Some(top), Some(&next)) = (kept.last_mut(), piece.get(from)) {
            let (below, start, end) = *top;
            if pieces[below][end - 1] ^ next != CASE_BIT {
                break;
            }
            from += 1;
            top.2 -= 1;
            if start == end - 1 {
                kept.pop();
            }
        }
        if from < piece.len() {
            kept.push((index, from, piece.len()));
        }
    }
    kept.iter().map(|&(_, start, end)| end - start).sum()
}

/// [`react_in_place`] with the input split into `threads` parts reacted at
/// once, then joined at the seams. A part whose thread cannot be started
/// (the process is at its thread limit) is reacted on the caller's thread:
/// slower, never wrong.
///
/// # Safety
/// As for [`react_in_place`]: every byte must be an ASCII letter.
pub unsafe fn react_in_place_parallel(units: &mut [u8], threads: usize) -> usize {
    let threads = threads.clamp(1, (units.len() / INTERLEAVE_FROM).max(1));
    if threads == 1 {
        // SAFETY: the caller's precondition.
        return unsafe { react_in_place(units) };
    }
    let part = units.len() / threads;
    let starts: Vec<usize> = (0..threads).map(|k| k * part).collect();
    let ends: Vec<usize> = (1..threads)
        .map(|k| k * part)
        .chain([units.len()])
        .collect();
    // Each part on a thread of its own; `None` where none could be started.
    let reacted: Vec<Option<usize>> = std::thread::scope(|scope| {
        let mut rest = &mut units[..];
        let mut handles = Vec::with_capacity(threads);
        for (&start, &end) in starts.iter().zip(&ends) {
            let (mine, others) = rest.split_at_mut(end - start);
            rest = others;
            // SAFETY: `mine` is a part of `units`: letters only (caller).
            let work = move || unsafe { react_in_place(mine) };
            handles.push(std::thread::Builder::new().spawn_scoped(scope, work).ok());
        }
        handles
            .into_iter()
            .map(|handle| handle.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))))
            .collect()
    });
    let lens: Vec<usize> = reacted
        .into_iter()
        .zip(starts.iter().zip(&ends))
        .map(|(len, (&start, &end))| {
            // SAFETY: a part of `units`: letters only (caller).
            len.unwrap_or_else(|| unsafe { react_in_place(&mut units[start..end]) })
        })
        .collect();
    join_reacted(units, &starts, &lens)
}

/// Reacts `units` without the units of `without` into `out` (replacing
/// what it held): the units are only read, so a polymer shared by threads,
/// or mapped read-only, needs no copy of its own. When they are reacted
/// already, only the units kept are written, reacting at the junctions
/// alone ([`super::sweep::remove_from_reacted_into`]): of `out`, only as
/// much memory is touched as the kept part ever holds. Else they are
/// copied without the unit type, checked to be letters and reacted whole
/// in place ([`react_in_place`]). `out` is reused as it is when it has
/// room for all of `units`, so a worker that reacts letter after letter
/// takes fresh memory once. Sound for any bytes; on letters, the same as
/// removing the unit type and reacting what is left (other bytes give a
/// length that means nothing).
///
/// Fails, leaving `out` empty, when there is no memory for it.
pub fn react_without_into(
    units: &[u8],
    without: Option<UnitType>,
    out: &mut Vec<u8>,
) -> Result<(), std::collections::TryReserveError> {
    out.clear();
    if out.capacity() < units.len() {
        // Given back first: growing it would copy what it held.
        *out = Vec::new();
    }
    react_without_onto(units, without, out)
}

/// [`react_without_into`] onto what `out` holds, a reacted polymer: `out`
/// ends up as the reaction of its units followed by `units` without the
/// unit type, so that pieces of a polymer reacted one after another onto
/// one buffer hold only what the whole keeps. Where `out` has no room for
/// `units` past what it holds, it grows by as much as it holds (or by
/// `units.len()`, if more, or if there is no memory for that), so that a
/// run of pieces moves it a few times at most. Sound for any bytes.
///
/// Fails, leaving what `out` held, when there is no memory for it.
pub fn react_without_onto(
    units: &[u8],
    without: Option<UnitType>,
    out: &mut Vec<u8>,
) -> Result<(), std::collections::TryReserveError> {
    if out.capacity() - out.len() < units.len()
        && crate::memory::reserve_exact(out, units.len().max(out.len())).is_err()
    {
        crate::memory::reserve_exact(out, units.len())?;
    }
    crate::memory::advise_huge_pages(out.spare_capacity_mut());
    let reacted = super::sweep::is_reacted(units);
    if let (Some(unit_type), true) = (without, reacted) {
        // Three times faster than reacting the whole again, and no copy of
        // what the removal cancels.
        super::sweep::remove_from_reacted_onto(units, unit_type.letter() as u8, out);
        return Ok(());
    }
    let held = out.len();
    out.extend_from_slice(units);
    let part = &mut out[held..];
    let kept = match without {
        Some(unit_type) => remove_in_place(part, unit_type),
        None => part.len(),
    };
    let part = &mut part[..kept];
    let len = if reacted {
        kept
    } else if part.iter().all(u8::is_ascii_alphabetic) {
        // SAFETY: every byte of `part` has just been checked to be a letter.
        unsafe { react_in_place(part) }
    } else {
        react_any_in_place(part)
    };
    let len = join_reacted(out, &[0, held], &[held, len]);
    out.truncate(len);
    Ok(())
}

/// The reacted length of `units` without the units of `without`, found on
/// up to `threads` threads: the units are cut into that many pieces, each
/// reacted without the unit type into a buffer of its own at once
/// ([`react_without_into`]), and the pieces' lengths joined at the seams
/// ([`joined_length`]). A piece whose thread cannot be started (the
/// process is at its thread limit) is reacted on the caller's thread.
/// Sound for any bytes, like [`react_without_into`].
///
/// Fails when there is no memory for the pieces.
pub fn reacted_len_without_parallel(
    units: &[u8],
    without: UnitType,
    threads: usize,
) -> Result<usize, std::collections::TryReserveError> {
    // Pieces are big enough that a thread is worth starting for each.
    let count = threads.clamp(1, (units.len() / PIECE_FROM).max(1));
    reacted_len_without_in_pieces(units, without, count)
}

/// [`reacted_len_without_parallel`] cuts pieces of at least this many units.
const PIECE_FROM: usize = 1 << 20;

/// [`reacted_len_without_parallel`] in `count` pieces (at least one), each
/// but the first on a thread of its own.
fn reacted_len_without_in_pieces(
    units: &[u8],
    without: UnitType,
    count: usize,
) -> Result<usize, std::collections::TryReserveError> {
    let count = count.max(1);
    let size = units.len() / count;
    let pieces: Vec<&[u8]> = (0..count)
        .map(|k| {
            let end = if k + 1 == count {
                units.len()
            } else {
                (k + 1) * size
            };
            &units[k * size..end]
        })
        .collect();
    let react = |piece: &[u8]| {
        let mut out = Vec::new();
        react_without_into(piece, Some(without), &mut out).map(|()| out)
    };
    let reacted: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces[1..]
            .iter()
            .map(|&piece| {
                let work = move || react(piece);
                std::thread::Builder::new().spawn_scoped(scope, work).ok()
            })
            .collect();
        let first = react(pieces[0]);
        std::iter::once(first)
            .chain(
                handles
                    .into_iter()
                    .zip(&pieces[1..])
                    .map(|(handle, &piece)| match handle {
                        Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                        None => react(piece),
                    }),
            )
            .collect::<Result<_, _>>()
    })?;
    let reacted: Vec<&[u8]> = reacted.iter().map(Vec::as_slice).collect();
    Ok(joined_length(&reacted))
}

/// The plain stack, in place, for bytes that may not be letters: sound for
/// any, and what it gives means nothing unless they are letters.
fn react_any_in_place(units: &mut [u8]) -> usize {
    let mut len = 0;
    for read in 0..units.len() {
        let unit = units[read];
        if len > 0 && units[len - 1] ^ unit == CASE_BIT {
            len -= 1;
        } else {
            units[len] = unit;
            len += 1;
        }
    }
    len
}

/// The textbook reaction: a `Vec` used as a stack, one branch per unit.
/// Kept as the baseline for benchmarks and as an independent check.
pub fn react_with_plain_stack(units: &[u8]) -> Vec<u8> {
    let mut stack: Vec<u8> = Vec::with_capacity(units.len());
    for &unit in units {
        match stack.last() {
            Some(&top) if top ^ unit == CASE_BIT => {
                stack.pop();
            }
            _ => stack.push(unit),
        }
    }
    stack
}

/// Removes every unit of `unit_type` from `units` in place (keeping order)
/// and returns how many are left.
pub fn remove_in_place(units: &mut [u8], unit_type: UnitType) -> usize {
    let mut len = 0;
    for read in 0..units.len() {
        let unit = units[read];
        units[len] = unit;
        len += usize::from(!unit_type.matches(unit));
    }
    len
}

#[cfg(test)]
mod tests {
    use super::super::testing::{adversarial, naive_react, polymer};
    use super::*;
    use proptest::prelude::*;

    /// Letters only, so the kernels' precondition holds.
    fn letters(units: &[u8]) -> Vec<u8> {
        assert!(units.iter().all(u8::is_ascii_alphabetic));
        units.to_vec()
    }

    fn fast(units: &[u8]) -> Vec<u8> {
        let mut copy = letters(units);
        // SAFETY: `letters` checked every byte.
        let len = unsafe { react_in_place(&mut copy) };
        copy.truncate(len);
        copy
    }

    fn parallel(units: &[u8], threads: usize) -> Vec<u8> {
        let mut copy = letters(units);
        // SAFETY: `letters` checked every byte.
        let len = unsafe { react_in_place_parallel(&mut copy, threads) };
        copy.truncate(len);
        copy
    }

    /// Long polymers (past the interleaving threshold) built from a few
    /// letters, so they react a lot and across chunk seams.
    fn long_polymer() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"aAbBcC".to_vec()), 0..20_000)
    }

    #[test]
    fn adversarial_inputs_agree_with_the_plain_stack() {
        for units in adversarial() {
            let expected = react_with_plain_stack(&units);
            assert_eq!(fast(&units), expected);
            assert_eq!(parallel(&units, 3), expected);
        }
    }

    fn without_into(units: &[u8], letter: Option<u8>) -> Vec<u8> {
        let mut out = b"left over".to_vec();
        react_without_into(units, letter.and_then(UnitType::from_ascii), &mut out).unwrap();
        out
    }

    fn removed_then_reacted(units: &[u8], letter: Option<u8>) -> Vec<u8> {
        let kept: Vec<u8> = units
            .iter()
            .copied()
            .filter(|&u| letter.is_none_or(|l| u | CASE_BIT != l))
            .collect();
        react_with_plain_stack(&kept)
    }

    #[test]
    fn reacting_into_a_buffer_agrees_with_removal_and_the_plain_stack_on_adversarial_inputs() {
        for units in adversarial() {
            for letter in [None, Some(b'a'), Some(b'b'), Some(b'z')] {
                assert_eq!(
                    without_into(&units, letter),
                    removed_then_reacted(&units, letter)
                );
            }
        }
    }

    #[test]
    fn a_buffer_with_room_is_reused_letter_after_letter() {
        let reacted = react_with_plain_stack(&crate::polymer::generate::polymer(100_000, 2));
        let mut out = Vec::new();
        react_without_into(&reacted, UnitType::from_ascii(b'a'), &mut out).unwrap();
        let buffer = out.as_ptr();
        for letter in b'b'..=b'z' {
            react_without_into(&reacted, UnitType::from_ascii(letter), &mut out).unwrap();
            assert_eq!(out, removed_then_reacted(&reacted, Some(letter)));
            assert_eq!(
                out.as_ptr(),
                buffer,
                "the same buffer for {}",
                letter as char
            );
        }
    }

    #[test]
    fn removal_keeps_the_order_of_the_other_units() {
        let mut units = b"dabAcCaCBAcCcaDA".to_vec();
        let kept = remove_in_place(&mut units, UnitType::from_ascii(b'c').unwrap());
        assert_eq!(&units[..kept], b"dabAaBAaDA");
    }

    proptest! {
        #[test]
        fn the_fast_kernel_agrees_with_the_naive_reference(units in polymer(300)) {
            prop_assert_eq!(fast(&units), naive_react(&units));
        }

        #[test]
        fn the_fast_kernel_agrees_with_the_plain_stack_on_long_inputs(units in long_polymer()) {
            prop_assert_eq!(fast(&units), react_with_plain_stack(&units));
        }

        #[test]
        fn reacting_into_a_buffer_agrees_with_removal_and_the_plain_stack(
            units in long_polymer(),
            letter in prop::option::of(prop::sample::select(b"abz".to_vec())),
        ) {
            prop_assert_eq!(without_into(&units, letter), removed_then_reacted(&units, letter));
        }

        /// A reacted polymer (what the children and the sweep's given-up
        /// letters hand it) takes the junctions-only path: the same as the
        /// naive reaction of what is left.
        #[test]
        fn reacting_a_reacted_polymer_into_a_buffer_agrees_with_the_naive_reaction(
            units in polymer(400),
            letter in prop::option::of(prop::sample::select(b"abcd".to_vec())),
        ) {
            let reacted = naive_react(&units);
            let kept: Vec<u8> = units
                .iter()
                .copied()
                .filter(|&u| letter.is_none_or(|l| u | CASE_BIT != l))
                .collect();
            prop_assert_eq!(without_into(&reacted, letter), naive_react(&kept));
        }

        /// Any bytes at all, letters or not: no out-of-bounds access (the
        /// test runs under the same checks as the rest), and letters-only
        /// inputs among them react right.
        #[test]
        fn reacting_into_a_buffer_takes_any_bytes(
            bytes in prop::collection::vec(
                prop_oneof![4 => prop::sample::select(b"aA \0".to_vec()), 1 => any::<u8>()],
                0..10_000,
            ),
        ) {
            let out = without_into(&bytes, Some(b'a'));
            prop_assert!(out.len() <= bytes.len());
            if bytes.iter().all(u8::is_ascii_alphabetic) {
                prop_assert_eq!(out, removed_then_reacted(&bytes, Some(b'a')));
            }
        }

        #[test]
        fn parallel_reaction_agrees_with_serial(units in long_polymer(), threads in 1usize..5) {
            prop_assert_eq!(parallel(&units, threads), fast(&units));
        }

        /// Pieces cut anywhere (empty ones, whole pieces that cancel into
        /// several before them), each reacted, join to the whole's length.
        #[test]
        fn reacted_pieces_join_to_the_length_of_the_whole(
            units in polymer(400),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(units.len() + 1)).collect();
            cuts.extend([0, units.len()]);
            cuts.sort_unstable();
            let pieces: Vec<Vec<u8>> = cuts.windows(2).map(|w| naive_react(&units[w[0]..w[1]])).collect();
            let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(joined_length(&pieces), naive_react(&units).len());
        }

        /// A reacted polymer (what a child is handed) or any polymer, in
        /// any number of pieces, more pieces than units included: the naive
        /// reaction of what is left without the letter.
        #[test]
        fn the_length_without_a_letter_in_pieces_is_the_naive_one(
            units in polymer(400),
            reacted_first in any::<bool>(),
            letter in prop::sample::select(b"abcd".to_vec()),
            count in 1usize..12,
        ) {
            let units = if reacted_first { naive_react(&units) } else { units };
            let without = UnitType::from_ascii(letter).unwrap();
            prop_assert_eq!(
                reacted_len_without_in_pieces(&units, without, count).unwrap(),
                removed_then_reacted(&units, Some(letter)).len()
            );
        }

        /// A polymer cut anywhere, reacted or not, its pieces reacted one
        /// after another onto one buffer (each cancelling into what the
        /// ones before left): the whole's reaction without the letter.
        #[test]
        fn pieces_reacted_onto_one_buffer_are_the_whole_reacted(
            units in polymer(400),
            reacted_first in any::<bool>(),
            letter in prop::option::of(prop::sample::select(b"abcd".to_vec())),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let units = if reacted_first { naive_react(&units) } else { units };
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(units.len() + 1)).collect();
            cuts.extend([0, units.len()]);
            cuts.sort_unstable();
            let without = letter.and_then(UnitType::from_ascii);
            let mut out = Vec::new();
            for cut in cuts.windows(2) {
                react_without_onto(&units[cut[0]..cut[1]], without, &mut out).unwrap();
            }
            prop_assert_eq!(out, removed_then_reacted(&units, letter));
        }

        #[test]
        fn joining_takes_any_bytes(
            pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..8),
        ) {
            let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            prop_assert!(joined_length(&pieces) <= pieces.iter().map(|p| p.len()).sum());
        }
    }

    #[test]
    fn a_long_polymer_is_cut_into_a_piece_per_thread_and_joined() {
        // Without c, "aBcbCA" cancels to nothing, and the long "ab...c...BA"
        // around the middle cancels across the seam between the two pieces
        // (the property test cuts many more).
        let n = PIECE_FROM / 2;
        let mut units = b"xaBcbCAy".repeat(PIECE_FROM / 32);
        units.extend(b"ab".repeat(n).iter().chain(b"c").chain(&b"BA".repeat(n)));
        units.extend(b"xaBcbCAy".repeat(PIECE_FROM / 32));
        assert_eq!(react_with_plain_stack(&units), units, "reacted");
        let expected = removed_then_reacted(&units, Some(b'c')).len();
        let without = UnitType::from_ascii(b'c').unwrap();
        // Two pieces at most: the seam falls in the run that cancels.
        for threads in [1, 2, 8] {
            assert_eq!(
                reacted_len_without_parallel(&units, without, threads).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn a_piece_cancels_back_over_several_before_it() {
        // "ab" + "c" + "CBA": the last piece cancels everything.
        assert_eq!(joined_length(&[b"ab", b"c", b"CBA"]), 0);
        assert_eq!(joined_length(&[b"ab", b"", b"c", b"CBAd"]), 1);
        assert_eq!(joined_length(&[b"aB", b"bA"]), 0);
        assert_eq!(joined_length(&[b"aB", b"Ab"]), 4);
        assert_eq!(joined_length(&[]), 0);
    }
}
