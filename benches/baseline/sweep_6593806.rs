//! The whole job as it stood before junctions were looked at only where
//! their neighbours react (`polymer::solve` of commit 6593806): the same
//! validation and reaction, then one pass per letter to find its cuts and a
//! stack of ranges pushed at every junction. Kept here, unchanged, as the
//! baseline the whole-job benchmark measures the current `solve` against.

use polymer_fanout::polymer::Polymer;

const CASE_BIT: u8 = 0x20;

/// The reacted length and every letter's length, as `solve` gave them.
pub fn solve(raw: Vec<u8>) -> (usize, [usize; 26]) {
    let mut polymer = Polymer::parse(raw).expect("valid input");
    polymer.react();
    (polymer.len(), lengths_without_each(polymer.units()))
}

fn lengths_without_each(reacted: &[u8]) -> [usize; 26] {
    let mut sweep = Sweep::new(reacted.len());
    std::array::from_fn(|k| sweep.length_without(reacted, b'a' + k as u8))
}

/// One letter's removal from a reacted polymer, swept junction by junction,
/// without copying the polymer: reusable from letter to letter, one per
/// thread.
struct Sweep {
    /// The letter's positions, then the polymer's length as a last cut;
    /// with slack for the unconditional writes of `find_cuts`.
    cuts: Vec<usize>,
    /// The kept part below its last range: half-open ranges of the polymer.
    ranges: Vec<(usize, usize)>,
}

impl Sweep {
    /// A sweep for reacted polymers of up to `len` units. (Its buffers are
    /// reserved for the worst case but filled only as a letter needs.)
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
