//! The reaction kernels and the all-letters sweep.
//!
//! - [`react_in_place`]: the full reaction, in the buffer the input was read
//!   into. A plain stack is bound by a load-compare-branch chain on every
//!   unit, and the branch is a coin toss on real inputs. This kernel keeps
//!   the top of the stack in a register, pushes and pops without branches,
//!   and reacts several chunks of the input interleaved in one loop, so
//!   the processor works on independent dependency chains at once; the
//!   reacted chunks are then joined, cancelling at the seams (the reaction of
//!   a concatenation is the reaction of the concatenated reactions).
//! - [`react_in_place_parallel`]: the same, one part of the input per thread.
//! - [`lengths_without_each`]: every letter's reacted length from one fully
//!   reacted polymer, in time proportional to what changes.
//! - [`react_with_plain_stack`]: the textbook `Vec` stack, kept as the
//!   baseline that benchmarks compare against.

use crate::polymer::{InvalidUnit, Polymer, UnitType};

const CASE_BIT: u8 = 0x20;

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

/// Fully reacts `units` (ASCII letters) in place and returns the reacted
/// length; the reacted polymer is `units[..len]`.
pub fn react_in_place(units: &mut [u8]) -> usize {
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

/// [`react_in_place`] with the input split into `threads` parts reacted at
/// once, then joined at the seams.
pub fn react_in_place_parallel(units: &mut [u8], threads: usize) -> usize {
    let threads = threads.clamp(1, (units.len() / INTERLEAVE_FROM).max(1));
    if threads == 1 {
        return react_in_place(units);
    }
    let part = units.len() / threads;
    let starts: Vec<usize> = (0..threads).map(|k| k * part).collect();
    let lens: Vec<usize> = std::thread::scope(|scope| {
        let mut rest = &mut units[..];
        let mut handles = Vec::with_capacity(threads);
        for k in 0..threads {
            let take = if k + 1 == threads { rest.len() } else { part };
            let (mine, others) = rest.split_at_mut(take);
            rest = others;
            handles.push(scope.spawn(move || react_in_place(mine)));
        }
        handles
            .into_iter()
            .map(|handle| handle.join().expect("reaction threads do not panic"))
            .collect()
    });
    join_reacted(units, &starts, &lens)
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

/// The reacted length after removing each of the 26 unit types, from a
/// polymer that is already fully reacted.
///
/// Removing every unit of one type cuts the reacted polymer into pieces
/// that are each still reacted, so reactions can only happen where two
/// pieces meet. The kept part is a stack of slices of `reacted`; at each
/// junction, units cancel while the end of the kept part reacts with the
/// start of the next piece. One pass records every letter's positions, so
/// all 26 letters cost about `reacted.len()` plus the removed units and
/// cancellations, not 26 passes over the polymer.
pub fn lengths_without_each(reacted: &[u8]) -> [usize; 26] {
    debug_assert!(
        reacted.windows(2).all(|w| w[0] ^ w[1] != CASE_BIT),
        "input must be reacted"
    );
    let mut sweep = Sweep::new(reacted.len());
    std::array::from_fn(|k| sweep.length_without(reacted, b'a' + k as u8))
}

/// One letter's removal from a reacted polymer, swept junction by junction.
struct Sweep {
    /// The letter's positions, then the polymer's length as a last cut;
    /// with slack for the unconditional writes of `find_cuts`.
    cuts: Vec<usize>,
    /// The kept part below its last range: half-open ranges of the polymer.
    ranges: Vec<(usize, usize)>,
}

impl Sweep {
    fn new(len: usize) -> Self {
        Sweep {
            cuts: vec![0; len + 8],
            ranges: Vec::with_capacity(len),
        }
    }

    /// Writes the positions of `letter`'s units into `cuts`, returns how many.
    ///
    /// Each 64-unit block becomes a bit mask; its first four positions are
    /// written whether or not they exist (the count moves on by the real
    /// number), so the common block costs no unpredictable branch.
    fn find_cuts(&mut self, reacted: &[u8], letter: u8) -> usize {
        let cuts = &mut self.cuts;
        let mut count = 0;
        let mut blocks = reacted.chunks_exact(BLOCK);
        let mut offset = 0;
        for block in &mut blocks {
            let mut mask = letter_mask(block.try_into().expect("a whole block"), letter);
            let found = mask.count_ones() as usize;
            for slot in &mut cuts[count..count + 4] {
                *slot = offset + mask.trailing_zeros() as usize;
                mask &= mask.wrapping_sub(1);
            }
            let mut extra = count + 4;
            while mask != 0 {
                cuts[extra] = offset + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                extra += 1;
            }
            count += found;
            offset += BLOCK;
        }
        for (i, &unit) in blocks.remainder().iter().enumerate() {
            if unit | CASE_BIT == letter {
                cuts[count] = offset + i;
                count += 1;
            }
        }
        count
    }

    /// The reacted length of `reacted` without the units of `letter`
    /// (lowercase).
    ///
    /// The kept part is a stack of ranges; its last range lives in
    /// registers (`last`), because every junction compares its end with the
    /// start of the next piece, and cancellations eat into it.
    fn length_without(&mut self, reacted: &[u8], letter: u8) -> usize {
        let removed = self.find_cuts(reacted, letter);
        self.cuts[removed] = reacted.len();
        let ranges = &mut self.ranges;
        ranges.clear();
        let mut last = (0, 0);
        let mut cancelled = 0;
        let mut from_next = 0;
        for &cut in &self.cuts[..=removed] {
            // The piece `reacted[from..cut]` joins the kept part.
            let mut from = from_next;
            // Most junctions cancel nothing: one comparison decides.
            while from < cut && last.0 < last.1 && reacted[last.1 - 1] ^ reacted[from] == CASE_BIT {
                last.1 -= 1;
                from += 1;
                cancelled += 1;
                if last.0 == last.1
                    && let Some(below) = ranges.pop()
                {
                    last = below;
                }
            }
            if from < cut {
                if last.0 < last.1 {
                    ranges.push(last);
                }
                last = (from, cut);
            }
            from_next = cut + 1;
        }
        reacted.len() - removed - 2 * cancelled
    }
}

const BLOCK: usize = 64;

/// Bit `i` is set when `block[i]` is a unit of `letter` (lowercase).
#[cfg(target_arch = "x86_64")]
fn letter_mask(block: &[u8; BLOCK], letter: u8) -> u64 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are
    // always available; each load reads 16 bytes of `block`, and loadu has
    // no alignment requirement.
    unsafe {
        let case = _mm_set1_epi8(CASE_BIT as i8);
        let wanted = _mm_set1_epi8(letter as i8);
        let mut mask = 0;
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let units = _mm_loadu_si128(lane.as_ptr().cast());
            let hits = _mm_cmpeq_epi8(_mm_or_si128(units, case), wanted);
            mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * k);
        }
        mask
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn letter_mask(block: &[u8; BLOCK], letter: u8) -> u64 {
    block.iter().enumerate().fold(0, |mask, (i, &unit)| {
        mask | (u64::from(unit | CASE_BIT == letter) << i)
    })
}

/// The answer to the whole job for one polymer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Solution {
    pub input_length: usize,
    pub full_length: usize,
    /// The reacted length without each unit type, `a` to `z`.
    pub lengths: [usize; 26],
}

impl Solution {
    /// The shortest length and its unit type (alphabetically first on ties).
    pub fn minimum(&self) -> (UnitType, usize) {
        UnitType::all()
            .zip(self.lengths)
            .min_by_key(|&(letter, length)| (length, letter))
            .expect("there are 26 unit types")
    }
}

/// The whole job in one thread: validate raw input, react it once, then
/// every letter's length by the junction sweep.
pub fn solve(raw: Vec<u8>) -> Result<Solution, InvalidUnit> {
    let mut polymer = Polymer::parse(raw)?;
    let input_length = polymer.len();
    polymer.react();
    Ok(Solution {
        input_length,
        full_length: polymer.len(),
        lengths: lengths_without_each(polymer.units()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::polymer::tests::{naive_react, polymer};
    use proptest::prelude::*;

    fn fast(units: &[u8]) -> Vec<u8> {
        let mut copy = units.to_vec();
        let len = react_in_place(&mut copy);
        copy.truncate(len);
        copy
    }

    fn parallel(units: &[u8], threads: usize) -> Vec<u8> {
        let mut copy = units.to_vec();
        let len = react_in_place_parallel(&mut copy, threads);
        copy.truncate(len);
        copy
    }

    /// Reference for every letter: remove it, react naively.
    fn naive_lengths(units: &[u8]) -> [usize; 26] {
        std::array::from_fn(|k| {
            let letter = b'a' + k as u8;
            let kept: Vec<u8> = units
                .iter()
                .copied()
                .filter(|&u| u | CASE_BIT != letter)
                .collect();
            naive_react(&kept).len()
        })
    }

    /// Long polymers (past the interleaving threshold) built from a few
    /// letters, so they react a lot and across chunk seams.
    fn long_polymer() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"aAbBcC".to_vec()), 0..20_000)
    }

    /// Deep nesting: `abc...CBA` everywhere, so whole chunks cancel across seams.
    fn nested(depth: usize, copies: usize) -> Vec<u8> {
        let open: Vec<u8> = (0..depth).map(|i| b'a' + (i % 26) as u8).collect();
        let close: Vec<u8> = open.iter().rev().map(|u| u ^ CASE_BIT).collect();
        let mut units = Vec::new();
        for _ in 0..copies {
            units.extend(&open);
        }
        for _ in 0..copies {
            units.extend(&close);
        }
        units
    }

    #[test]
    fn adversarial_inputs_agree_with_the_plain_stack() {
        let nothing_reacts: Vec<u8> = (0..50_000).map(|i| b'a' + (i % 26) as u8).collect();
        let everything_reacts: Vec<u8> = b"aA".repeat(25_000);
        let all_cancel_across_seams = nested(26, 2_000);
        let half_cancel = [nested(7, 3_000), nothing_reacts.clone()].concat();
        for units in [
            nothing_reacts,
            everything_reacts,
            all_cancel_across_seams,
            half_cancel,
        ] {
            let expected = react_with_plain_stack(&units);
            assert_eq!(fast(&units), expected);
            assert_eq!(parallel(&units, 3), expected);
            let reacted = fast(&units);
            let lengths = lengths_without_each(&reacted);
            for (k, &length) in lengths.iter().enumerate() {
                let letter = UnitType::from_ascii(b'a' + k as u8).unwrap();
                let mut copy = reacted.clone();
                let kept = remove_in_place(&mut copy, letter);
                assert_eq!(
                    length,
                    react_with_plain_stack(&copy[..kept]).len(),
                    "letter {letter}"
                );
            }
        }
    }

    #[test]
    fn the_whole_job_solves_the_shipped_inputs() {
        let example = solve(b"dabAcCaCBAcCcaDA\n".to_vec()).unwrap();
        assert_eq!((example.input_length, example.full_length), (16, 10));
        assert_eq!(example.minimum(), (UnitType::from_ascii(b'c').unwrap(), 4));
        let raw = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/inputs/polymer-50k.txt"
        ))
        .unwrap();
        let solution = solve(raw).unwrap();
        assert_eq!(solution.full_length, 9848);
        assert_eq!(
            solution.minimum(),
            (UnitType::from_ascii(b't').unwrap(), 3190)
        );
        assert_eq!(
            solve(b"ab1".to_vec()),
            Err(InvalidUnit {
                offset: 2,
                byte: b'1'
            })
        );
    }

    #[test]
    fn the_worked_example_lengths_for_every_letter() {
        let reacted = fast(b"dabAcCaCBAcCcaDA");
        let lengths = lengths_without_each(&reacted);
        assert_eq!(&lengths[..5], &[6, 8, 4, 6, 10]);
        assert!(lengths[4..].iter().all(|&l| l == 10));
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
        fn parallel_reaction_agrees_with_serial(units in long_polymer(), threads in 1usize..5) {
            prop_assert_eq!(parallel(&units, threads), fast(&units));
        }

        #[test]
        fn every_letter_length_agrees_with_the_naive_reference(units in polymer(200)) {
            let reacted = fast(&units);
            prop_assert_eq!(lengths_without_each(&reacted), naive_lengths(&units));
        }

        #[test]
        fn every_letter_length_agrees_on_wide_alphabets(
            units in prop::collection::vec(prop::sample::select(b"aAbBcCdDeEzZ".to_vec()), 0..400)
        ) {
            let reacted = fast(&units);
            prop_assert_eq!(lengths_without_each(&reacted), naive_lengths(&units));
        }
    }
}
