//! What a fully reacted polymer allows: removing a unit type reacts only
//! where its units were (the junctions), so one letter's removal is a
//! compaction, and every letter's length comes from one pass each.
//!
//! - [`is_reacted`]: whether a polymer is fully reacted (vectorised);
//! - [`remove_from_reacted`]: one letter removed from a reacted polymer,
//!   in place, reacting only at the junctions;
//! - [`lengths_without_each`]: all 26 lengths, without copying;
//! - [`length_without_in_place`]: one letter's length, reading the polymer
//!   in place (for a read-only mapping), with a bounded stack.

use super::unit::CASE_BIT;

/// Whether no two adjacent units of `units` are the same letter in opposite
/// cases. Whole blocks are checked without an early exit, so the compiler
/// vectorises them; a reacting pair ends the scan at its block.
pub fn is_reacted(units: &[u8]) -> bool {
    if units.len() < 2 {
        return true;
    }
    let (left, right) = (&units[..units.len() - 1], &units[1..]);
    let reacts = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .fold(false, |any, (&x, &y)| any | (x ^ y == CASE_BIT))
    };
    let mut lefts = left.chunks_exact(BLOCK);
    let mut rights = right.chunks_exact(BLOCK);
    for (a, b) in (&mut lefts).zip(&mut rights) {
        if reacts(a, b) {
            return false;
        }
    }
    !reacts(lefts.remainder(), rights.remainder())
}

/// Removes every unit of `letter` (lowercase) from `units`, which must be
/// fully reacted, and reacts what is left, in place; returns the new
/// length. The pieces between removed units are each still reacted, so
/// units can only cancel where two pieces meet: each piece is moved down
/// onto the kept part, cancelling at the seam first. (On input that is not
/// reacted the length means nothing, but nothing goes wrong.)
pub fn remove_from_reacted(units: &mut [u8], letter: u8) -> usize {
    let n = units.len();
    let mut kept = 0;
    let mut from = 0;
    let mut join = |units: &mut [u8], mut start: usize, end: usize| {
        while kept > 0 && start < end && units[kept - 1] ^ units[start] == CASE_BIT {
            kept -= 1;
            start += 1;
        }
        units.copy_within(start..end, kept);
        kept += end - start;
    };
    let whole_blocks = n / BLOCK * BLOCK;
    let mut offset = 0;
    while offset < whole_blocks {
        // The block's mask is taken before any of its bytes moves; pieces
        // only move down, onto bytes already read.
        let block: &[u8; BLOCK] = units[offset..offset + BLOCK]
            .try_into()
            .expect("a whole block");
        let mut mask = letter_mask(block, letter);
        while mask != 0 {
            let cut = offset + mask.trailing_zeros() as usize;
            join(units, from, cut);
            from = cut + 1;
            mask &= mask - 1;
        }
        offset += BLOCK;
    }
    for cut in whole_blocks..n {
        if units[cut] | CASE_BIT == letter {
            join(units, from, cut);
            from = cut + 1;
        }
    }
    join(units, from, n);
    kept
}

/// The reacted length of `reacted` (fully reacted) without the units of
/// `letter` (lowercase), read in place: nothing is copied, so a polymer
/// mapped read-only needs no memory of its own. `None` when the kept part
/// would need more than `max_segments` segments (see below), which takes
/// one junction after another that cancels part of its pieces; the caller
/// then compacts a copy instead. (Bytes other than a reacted polymer give a
/// length that means nothing, but never undefined behaviour or a panic.)
///
/// The kept part is a stack of *segments* of `reacted`, each standing for
/// its units other than `letter`'s. A piece that joins with no cancellation
/// extends the top segment over the removed unit before it, so the stack
/// grows only at a junction where units cancelled and the piece survived:
/// on real inputs a few per thousand units.
pub fn length_without_in_place(reacted: &[u8], letter: u8, max_segments: usize) -> Option<usize> {
    let mut kept = Segments {
        reacted,
        letter,
        below: Vec::new(),
        max_below: max_segments.saturating_sub(1),
        top: (0, 0),
        clean: true,
        cancelled: 0,
    };
    let n = reacted.len();
    let mut removed = 0;
    let mut from = 0;
    let mut blocks = reacted.chunks_exact(BLOCK);
    let mut offset = 0;
    for block in &mut blocks {
        let mut mask = letter_mask(block.try_into().expect("a whole block"), letter);
        removed += mask.count_ones() as usize;
        while mask != 0 {
            let cut = offset + mask.trailing_zeros() as usize;
            kept.join(from, cut)?;
            from = cut + 1;
            mask &= mask - 1;
        }
        offset += BLOCK;
    }
    for (i, &unit) in blocks.remainder().iter().enumerate() {
        if unit | CASE_BIT == letter {
            kept.join(from, offset + i)?;
            from = offset + i + 1;
            removed += 1;
        }
    }
    kept.join(from, n)?;
    Some(n - removed - 2 * kept.cancelled)
}

/// The kept part of a reacted polymer while one letter's units are taken
/// out of it, as segments of the polymer: see [`length_without_in_place`].
struct Segments<'a> {
    reacted: &'a [u8],
    letter: u8,
    /// The segments under the top one, each holding at least one kept unit.
    below: Vec<(usize, usize)>,
    max_below: usize,
    /// The top segment, half-open; when it is not empty, its last unit is a
    /// kept one (not `letter`'s).
    top: (usize, usize),
    /// Whether everything between the end of `top` and the next piece is
    /// removed units only, so that the piece can extend `top`.
    clean: bool,
    cancelled: usize,
}

impl Segments<'_> {
    /// Joins the piece `reacted[from..cut]` (no unit of the letter, reacted)
    /// to the kept part, cancelling at the seam first.
    #[inline(always)]
    fn join(&mut self, mut from: usize, cut: usize) -> Option<()> {
        let units = self.reacted;
        while from < cut
            && self.top.0 < self.top.1
            && units[self.top.1 - 1] ^ units[from] == CASE_BIT
        {
            self.cancelled += 1;
            self.clean = false;
            from += 1;
            self.top.1 -= 1;
            while self.top.0 < self.top.1 && units[self.top.1 - 1] | CASE_BIT == self.letter {
                self.top.1 -= 1;
            }
            if self.top.0 == self.top.1
                && let Some(below) = self.below.pop()
            {
                self.top = below;
            }
        }
        if from < cut {
            if self.top.0 == self.top.1 {
                self.top = (from, cut);
            } else if self.clean {
                self.top.1 = cut;
            } else {
                if self.below.len() >= self.max_below {
                    return None;
                }
                self.below.push(self.top);
                self.top = (from, cut);
            }
            self.clean = true;
        }
        Some(())
    }
}

/// The reacted length after removing each of the 26 unit types, from a
/// polymer that is already fully reacted. (Any other bytes give lengths
/// that mean nothing, but never undefined behaviour or a panic.)
///
/// Removing every unit of one type cuts the reacted polymer into pieces
/// that are each still reacted, so reactions can only happen where two
/// pieces meet. The kept part is a stack of slices of `reacted`; at each
/// junction, units cancel while the end of the kept part reacts with the
/// start of the next piece. One pass records every letter's positions, so
/// all 26 letters cost about `reacted.len()` plus the removed units and
/// cancellations, not 26 passes over the polymer.
pub fn lengths_without_each(reacted: &[u8]) -> [usize; 26] {
    let mut sweep = Sweep::new(reacted.len());
    std::array::from_fn(|k| sweep.length_without(reacted, b'a' + k as u8))
}

/// One letter's removal from a reacted polymer, swept junction by junction,
/// without copying the polymer: reusable from letter to letter, one per
/// thread.
pub struct Sweep {
    /// The letter's positions, then the polymer's length as a last cut;
    /// with slack for the unconditional writes of `find_cuts`.
    cuts: Vec<usize>,
    /// The kept part below its last range: half-open ranges of the polymer.
    ranges: Vec<(usize, usize)>,
}

impl Sweep {
    /// A sweep for reacted polymers of up to `len` units. (Its buffers are
    /// reserved for the worst case but filled only as a letter needs.)
    pub fn new(len: usize) -> Self {
        Sweep {
            cuts: vec![0; len + 8],
            ranges: Vec::with_capacity(len),
        }
    }

    /// The reacted length of `reacted` (fully reacted, at most the length
    /// this sweep was made for) without the units of `unit_type`.
    pub fn length_of(&mut self, reacted: &[u8], unit_type: super::UnitType) -> usize {
        if self.cuts.len() < reacted.len() + 8 {
            *self = Sweep::new(reacted.len());
        }
        self.length_without(reacted, unit_type.letter() as u8)
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

#[cfg(test)]
mod tests {
    use super::super::testing::{adversarial, naive_react, nested, polymer};
    use super::super::{Polymer, UnitType};
    use super::*;
    use proptest::prelude::*;

    fn reacted(units: &[u8]) -> Vec<u8> {
        let mut polymer = Polymer::parse(units.to_vec()).unwrap();
        polymer.react();
        polymer.into_units()
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

    #[test]
    fn adversarial_inputs_agree_with_removal_and_the_plain_stack() {
        for units in adversarial() {
            let polymer = Polymer::parse(reacted(&units)).unwrap();
            let lengths = lengths_without_each(polymer.units());
            for (letter, &length) in UnitType::all().zip(&lengths) {
                let mut copy = polymer.clone();
                copy.remove(letter);
                assert_eq!(
                    length,
                    crate::polymer::react_with_plain_stack(copy.units()).len(),
                    "letter {letter}"
                );
            }
        }
    }

    #[test]
    fn removing_from_a_reacted_polymer_reacts_only_at_the_junctions() {
        let nothing_reacts: Vec<u8> = (0..5_000).map(|i| b'a' + (i % 26) as u8).collect();
        let everything_reacts: Vec<u8> = b"aA".repeat(2_500);
        let deep = nested(26, 300);
        let letter_everywhere = b"qQ"
            .repeat(10)
            .into_iter()
            .chain(b"q".repeat(500))
            .collect();
        for units in [nothing_reacts, everything_reacts, deep, letter_everywhere] {
            let polymer = reacted(&units);
            assert!(is_reacted(&polymer));
            for letter in [b'a', b'b', b'q', b'z'] {
                let mut copy = polymer.clone();
                let len = remove_from_reacted(&mut copy, letter);
                let kept: Vec<u8> = units
                    .iter()
                    .copied()
                    .filter(|&u| u | CASE_BIT != letter)
                    .collect();
                assert_eq!(
                    &copy[..len],
                    &naive_react(&kept)[..],
                    "letter {}",
                    letter as char
                );
            }
        }
    }

    #[test]
    fn in_place_lengths_agree_on_adversarial_inputs() {
        for units in adversarial() {
            let polymer = reacted(&units);
            // The sweep of every letter, itself checked against removal and
            // the plain stack above.
            for (k, &expected) in lengths_without_each(&polymer).iter().enumerate() {
                let letter = b'a' + k as u8;
                assert_eq!(
                    length_without_in_place(&polymer, letter, usize::MAX),
                    Some(expected),
                    "letter {}",
                    letter as char
                );
            }
        }
    }

    #[test]
    fn in_place_removal_gives_up_past_its_segment_budget() {
        // Each "xaXb" after the first cancels an x across a removed a and
        // leaves part of its piece: one more segment each time.
        let units = b"xaXb".repeat(100);
        let polymer = reacted(&units);
        let expected = naive_lengths(&units)[0];
        assert_eq!(length_without_in_place(&polymer, b'a', 10), None);
        assert_eq!(length_without_in_place(&polymer, b'a', 100), Some(expected));
        // Junctions that cancel nothing never add a segment.
        let calm = reacted(&b"xayb".repeat(1_000));
        assert_eq!(length_without_in_place(&calm, b'a', 1), Some(3_000));
    }

    #[track_caller]
    fn reacted_case(units: &[u8], expected: bool) {
        assert_eq!(
            is_reacted(units),
            expected,
            "{:?}",
            units.escape_ascii().to_string()
        );
    }

    #[test]
    fn a_reacting_pair_anywhere_is_seen() {
        reacted_case(b"", true);
        reacted_case(b"a", true);
        reacted_case(b"aA", false);
        reacted_case(b"ab", true);
        reacted_case(b"aa", true);
        let mut long = b"ab".repeat(100);
        reacted_case(&long, true);
        for at in [0, 62, 63, 64, 127, 198] {
            long = b"ab".repeat(100);
            long[at + 1] = long[at] ^ CASE_BIT;
            reacted_case(&long, false);
        }
    }

    #[test]
    fn the_worked_example_lengths_for_every_letter() {
        let lengths = lengths_without_each(&reacted(b"dabAcCaCBAcCcaDA"));
        assert_eq!(&lengths[..5], &[6, 8, 4, 6, 10]);
        assert!(lengths[4..].iter().all(|&l| l == 10));
    }

    proptest! {
        #[test]
        fn every_letter_length_agrees_with_the_naive_reference(units in polymer(200)) {
            prop_assert_eq!(lengths_without_each(&reacted(&units)), naive_lengths(&units));
        }

        #[test]
        fn every_letter_length_agrees_on_wide_alphabets(
            units in prop::collection::vec(prop::sample::select(b"aAbBcCdDeEzZ".to_vec()), 0..400)
        ) {
            prop_assert_eq!(lengths_without_each(&reacted(&units)), naive_lengths(&units));
        }

        #[test]
        fn removal_from_a_reacted_polymer_agrees_with_the_naive_reference(
            units in polymer(300),
            letter in prop::sample::select(b"abcdz".to_vec()),
        ) {
            let mut polymer = reacted(&units);
            prop_assert!(is_reacted(&polymer));
            let len = remove_from_reacted(&mut polymer, letter);
            let kept: Vec<u8> = units.iter().copied().filter(|&u| u | CASE_BIT != letter).collect();
            prop_assert_eq!(&polymer[..len], &naive_react(&kept)[..]);
        }

        #[test]
        fn in_place_lengths_agree_with_the_naive_reference(
            units in prop::collection::vec(prop::sample::select(b"aAbBcCdDeEzZ".to_vec()), 0..400),
            letter in prop::sample::select(b"abcz".to_vec()),
            budget in 0usize..6,
        ) {
            let polymer = reacted(&units);
            let expected = naive_lengths(&units)[usize::from(letter - b'a')];
            prop_assert_eq!(length_without_in_place(&polymer, letter, usize::MAX), Some(expected));
            let bounded = length_without_in_place(&polymer, letter, budget);
            prop_assert!(bounded.is_none() || bounded == Some(expected));
        }

        #[test]
        fn reactedness_agrees_with_a_plain_scan(units in polymer(300)) {
            prop_assert_eq!(is_reacted(&units), units.windows(2).all(|w| w[0] ^ w[1] != CASE_BIT));
        }

        #[test]
        fn the_sweep_takes_any_bytes_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = lengths_without_each(&bytes);
            let _ = is_reacted(&bytes);
            let _ = remove_from_reacted(&mut bytes.clone(), b'a');
            let _ = length_without_in_place(&bytes, b'a', 3);
        }
    }
}
