//! The reaction kernels.
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
        fn parallel_reaction_agrees_with_serial(units in long_polymer(), threads in 1usize..5) {
            prop_assert_eq!(parallel(&units, threads), fast(&units));
        }
    }
}
