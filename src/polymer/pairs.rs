//! A vectorised first step of the reaction: adjacent pairs that react are
//! cancelled 64 units at a time, before the stack kernel sees the polymer.
//!
//! Cancelling a reacting pair anywhere never changes what the polymer
//! reacts to (the full reaction is the same in whatever order pairs
//! cancel), so any set of reacting pairs that do not overlap can go at
//! once. On real inputs about a quarter of adjacent pairs react: one step
//! leaves about 53% of the units and a second about 38%, at a fraction of
//! the stack kernel's cost per unit, which is bound by the number of
//! instructions it takes per unit.

/// Cancels, in place, reacting pairs of adjacent units of `units`, a block
/// of 64 at a time (in each run of pairs that overlap, every other one from
/// the first); returns how many units are left, at the front of `units`.
/// What is left reacts to what `units` reacts to; the bytes after it are
/// unspecified. Where the processor has no AVX2 (or is not x86_64) nothing
/// is cancelled and the length is returned as it is. Sound for any bytes:
/// bytes are only moved, never read outside `units`.
pub fn cancel_pairs(units: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the processor has AVX2 (which implies SSSE3) and
        // POPCNT, as just checked.
        return unsafe { cancel_pairs_avx2(units) };
    }
    units.len()
}

/// Of the 63 pairs that start in a block (bit `i`: the units at `i` and
/// `i + 1` react; bit 63 clear), the ones to cancel: in each run of
/// overlapping pairs, the first and every other one after it.
#[cfg(any(test, target_arch = "x86_64"))]
fn pairs_to_cancel(reacting: u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let starts = reacting & !(reacting << 1);
    // Adding a run's lowest bit carries through the run and out of it (into
    // the clear bit after it), so the bits that change, within `reacting`,
    // are the runs that start at an even position.
    let even_runs = (reacting ^ reacting.wrapping_add(starts & EVEN)) & reacting;
    (even_runs & EVEN) | (reacting & !even_runs & !EVEN)
}

/// For each byte mask, the shuffle that moves the bytes it keeps to the
/// front (in order), the rest zero.
#[cfg(target_arch = "x86_64")]
const fn shuffles() -> [[u8; 16]; 256] {
    let mut table = [[0x80u8; 16]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut to, mut from) = (0, 0);
        while from < 8 {
            if mask & (1 << from) != 0 {
                table[mask][to] = from as u8;
                to += 1;
            }
            from += 1;
        }
        mask += 1;
    }
    table
}

#[cfg(target_arch = "x86_64")]
static SHUFFLES: [[u8; 16]; 256] = shuffles();

/// [`cancel_pairs`] with AVX2 (the reacting pairs of a block) and SSSE3
/// (the kept bytes moved down eight at a time).
///
/// # Safety
/// The processor must have AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn cancel_pairs_avx2(units: &mut [u8]) -> usize {
    use std::arch::x86_64::{
        _mm_loadl_epi64, _mm_loadu_si128, _mm_shuffle_epi8, _mm_storel_epi64, _mm256_cmpeq_epi8,
        _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8, _mm256_xor_si256,
    };
    let n = units.len();
    let ptr = units.as_mut_ptr();
    let (mut read, mut write) = (0, 0);
    // SAFETY: every access is through `ptr` within `units`. A block's
    // loads reach `read + 64` (the unit after the block, for its last
    // pair), within `n` by the loop's condition. Stores move bytes down:
    // `write <= read` when a block starts, and each group of eight adds at
    // most eight to `write`, so the eight bytes stored for group `g` lie
    // below `read + 8 * (g + 1)`, on bytes already loaded, never on a later
    // group's or block's. The tail is moved with `copy` (which allows
    // overlap), `n - read` bytes from `read` to `write <= read`.
    unsafe {
        let case = _mm256_set1_epi8(super::unit::CASE_BIT as i8);
        let reacts = |at: usize| {
            let here = _mm256_loadu_si256(ptr.add(at).cast());
            let next = _mm256_loadu_si256(ptr.add(at + 1).cast());
            let pairs = _mm256_cmpeq_epi8(_mm256_xor_si256(here, next), case);
            u64::from(_mm256_movemask_epi8(pairs) as u32)
        };
        while read + 64 < n {
            // The pair of the block's last unit and the next block's first
            // is left to the stack kernel.
            let reacting = (reacts(read) | reacts(read + 32) << 32) & !(1 << 63);
            let cancelled = pairs_to_cancel(reacting);
            let kept = !(cancelled | cancelled << 1);
            for group in 0..8 {
                let mask = (kept >> (8 * group)) as u8;
                let bytes = _mm_loadl_epi64(ptr.add(read + 8 * group).cast());
                let shuffle = _mm_loadu_si128(SHUFFLES[usize::from(mask)].as_ptr().cast());
                _mm_storel_epi64(ptr.add(write).cast(), _mm_shuffle_epi8(bytes, shuffle));
                write += mask.count_ones() as usize;
            }
            read += 64;
        }
        std::ptr::copy(ptr.add(read), ptr.add(write), n - read);
    }
    write + n - read
}

#[cfg(test)]
mod tests {
    use super::super::testing::{naive_react, polymer};
    use super::*;
    use proptest::prelude::*;

    /// The pairs a run of overlapping reacting pairs gives, one by one.
    fn cancelled_one_by_one(reacting: u64) -> u64 {
        let mut cancelled = 0;
        for i in 0..64 {
            let before = i > 0 && cancelled >> (i - 1) & 1 == 1;
            if reacting >> i & 1 == 1 && !before {
                cancelled |= 1 << i;
            }
        }
        cancelled
    }

    #[test]
    fn runs_of_overlapping_pairs_cancel_every_other_one_from_their_first() {
        for reacting in [
            0,
            1,
            0b11,
            0b111,
            0b0110,
            0b1110_1110,
            u64::MAX >> 1,
            0x5555 << 7,
        ] {
            assert_eq!(
                pairs_to_cancel(reacting),
                cancelled_one_by_one(reacting),
                "{reacting:#b}"
            );
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn a_block_of_reacting_pairs_is_cancelled_where_the_processor_can() {
        let mut units = b"aA".repeat(64);
        units.push(b'b');
        let len = cancel_pairs(&mut units);
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            assert_eq!(&units[..len], b"b");
        } else {
            assert_eq!(len, 129);
        }
    }

    #[test]
    fn every_length_around_a_block_keeps_what_the_polymer_reacts_to() {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for len in [0, 1, 2, 63, 64, 65, 66, 127, 128, 129, 130, 192, 193] {
            for _ in 0..20 {
                let units: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        b"aAbBcC"[(state % 6) as usize]
                    })
                    .collect();
                let mut left = units.clone();
                let kept = cancel_pairs(&mut left);
                assert!(kept <= len);
                assert_eq!(
                    naive_react(&left[..kept]),
                    naive_react(&units),
                    "{len} units"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn any_reacting_pattern_cancels_the_same_pairs_as_one_by_one(reacting in any::<u64>()) {
            let reacting = reacting & !(1 << 63);
            prop_assert_eq!(pairs_to_cancel(reacting), cancelled_one_by_one(reacting));
        }

        #[test]
        fn what_is_left_reacts_to_what_the_polymer_reacts_to(
            units in prop_oneof![
                polymer(400),
                prop::collection::vec(prop::sample::select(b"aAbB".to_vec()), 0..400),
            ],
            passes in 1usize..4,
        ) {
            let mut left = units.clone();
            let mut len = left.len();
            for _ in 0..passes {
                let before = len;
                len = cancel_pairs(&mut left[..len]);
                prop_assert!(len <= before);
            }
            prop_assert_eq!(naive_react(&left[..len]), naive_react(&units));
        }

        #[test]
        fn any_bytes_are_moved_without_a_fault(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut moved = bytes.clone();
            let len = cancel_pairs(&mut moved);
            prop_assert!(len <= bytes.len());
        }
    }
}
