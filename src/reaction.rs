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

/// One reaction step of a stack kept in the front of its own region.
///
/// The stack is `base[..len]` and `top` mirrors its last unit (or is the
/// sentinel when empty), so deciding whether `unit` reacts needs no load.
/// The unit is stored in the free slot above the stack whether it stays or
/// not, and `len` and `top` are updated by selects, not branches.
///
/// # Safety
/// `base[..=len]` and, when `len >= 2`, `base[len - 2]` must be valid for
/// reads and writes, and `unit` must already have been read: a caller that
/// reads unit `n` of a region at step `n` has `len <= n`.
#[inline(always)]
unsafe fn step(base: *mut u8, len: &mut usize, top: &mut u8, unit: u8) {
    // SAFETY: in bounds by the function's contract.
    unsafe {
        let below = *base.add(len.saturating_sub(2));
        let below = if *len >= 2 { below } else { SENTINEL };
        *base.add(*len) = unit;
        let reacts = *top ^ unit == CASE_BIT;
        *len = if reacts { *len - 1 } else { *len + 1 };
        *top = if reacts { below } else { unit };
    }
}

/// Reacts `region` in place with one stack; returns the reacted length.
fn react_region(region: &mut [u8]) -> usize {
    let base = region.as_mut_ptr();
    let (mut len, mut top) = (0, SENTINEL);
    for read in 0..region.len() {
        // SAFETY: `read < region.len()` and `len <= read` (one step adds at
        // most one unit), so every access of `step` is inside `region`, and
        // the unit at `read` is read before anything is written there.
        unsafe { step(base, &mut len, &mut top, *base.add(read)) };
    }
    len
}

/// Fully reacts `units` (ASCII letters) in place and returns the reacted
/// length; the reacted polymer is `units[..len]`.
pub fn react_in_place(units: &mut [u8]) -> usize {
    if units.len() < INTERLEAVE_FROM {
        return react_region(units);
    }
    // Four regions of `lane` units, reacted in lockstep: four independent
    // dependency chains, each state in registers. The last region also
    // holds the remainder of the division.
    let lane = units.len() / 4;
    let base = units.as_mut_ptr();
    // SAFETY: the four regions start `lane` apart inside `units`.
    let bases = unsafe { [base, base.add(lane), base.add(2 * lane), base.add(3 * lane)] };
    let (mut len0, mut len1, mut len2, mut len3) = (0, 0, 0, 0);
    let (mut top0, mut top1, mut top2, mut top3) = (SENTINEL, SENTINEL, SENTINEL, SENTINEL);
    for read in 0..lane {
        // SAFETY: each region is `lane` long (the last longer) and `read <
        // lane`; each stack has `len <= read`, as in `react_region`.
        unsafe {
            step(bases[0], &mut len0, &mut top0, *bases[0].add(read));
            step(bases[1], &mut len1, &mut top1, *bases[1].add(read));
            step(bases[2], &mut len2, &mut top2, *bases[2].add(read));
            step(bases[3], &mut len3, &mut top3, *bases[3].add(read));
        }
    }
    let last_len = units.len() - 3 * lane;
    for read in lane..last_len {
        // SAFETY: the last region is `last_len` long and `len3 <= read`.
        unsafe { step(bases[3], &mut len3, &mut top3, *bases[3].add(read)) };
    }
    join_reacted(
        units,
        &[0, lane, 2 * lane, 3 * lane],
        &[len0, len1, len2, len3],
    )
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
    let index = |unit: u8| usize::from((unit | CASE_BIT) - b'a');
    // Positions bucketed by letter (a counting sort), in one array.
    let mut counts = [0usize; 27];
    for &unit in reacted {
        counts[index(unit) + 1] += 1;
    }
    for k in 1..27 {
        counts[k] += counts[k - 1];
    }
    let bounds = counts;
    let mut fill = counts;
    let mut positions = vec![0usize; reacted.len()];
    for (position, &unit) in reacted.iter().enumerate() {
        let slot = &mut fill[index(unit)];
        positions[*slot] = position;
        *slot += 1;
    }

    let mut kept: Vec<(usize, usize)> = Vec::new();
    std::array::from_fn(|k| {
        kept.clear();
        let mut total = 0;
        let mut piece_start = 0;
        let cuts = positions[bounds[k]..bounds[k + 1]].iter().copied();
        for cut in cuts.chain(std::iter::once(reacted.len())) {
            let (mut from, end) = (piece_start, cut);
            while from < end {
                let Some(last) = kept.last_mut() else { break };
                if reacted[last.1 - 1] ^ reacted[from] != CASE_BIT {
                    break;
                }
                last.1 -= 1;
                from += 1;
                total -= 1;
                if last.0 == last.1 {
                    kept.pop();
                }
            }
            if from < end {
                kept.push((from, end));
                total += end - from;
            }
            piece_start = cut + 1;
        }
        total
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
