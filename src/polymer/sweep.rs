//! Every letter's reacted length from one fully reacted polymer.

use super::unit::CASE_BIT;

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

#[cfg(test)]
mod tests {
    use super::super::testing::{naive_react, nested, polymer};
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
        fn the_sweep_takes_any_bytes_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = lengths_without_each(&bytes);
        }
    }
}
