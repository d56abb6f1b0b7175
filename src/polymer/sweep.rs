//! What a fully reacted polymer allows: removing a unit type reacts only
//! where its units were (the junctions), so one letter's removal is a
//! compaction, and every letter's length comes from one shared pass.
//!
//! - [`is_reacted`]: whether a polymer is fully reacted (vectorised);
//! - [`remove_from_reacted`]: one letter removed from a reacted polymer,
//!   in place, reacting only at the junctions;
//! - [`lengths_without_each`]: all 26 lengths, without copying;
//!   [`lengths_of_each`] the same for some letters, within limits;
//! - [`length_without_in_place`]: one letter's length, reading the polymer
//!   in place (for a read-only mapping), with a bounded stack.

use super::unit::{CASE_BIT, is_unit};

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
    // Each block's cuts are found before any of its bytes moves; pieces
    // only move down, onto bytes already read.
    let mut cuts = Cuts::default();
    while let Some(cut) = cuts.next(units, letter) {
        join(units, from, cut);
        from = cut + 1;
    }
    join(units, from, n);
    kept
}

/// [`remove_from_reacted`] of `units` (fully reacted), written into `out`
/// (cleared first) instead of in place: only what is kept is written, so
/// of a buffer reserved at `units.len()`, only as much memory is touched as
/// the kept part ever holds (a third, for a letter whose removal cancels
/// two thirds). Reserve before: without room for all of `units`, `out`
/// grows as a `Vec` does, a slower way.
pub fn remove_from_reacted_into(units: &[u8], letter: u8, out: &mut Vec<u8>) {
    out.clear();
    remove_from_reacted_onto(units, letter, out);
}

/// [`remove_from_reacted_into`] onto what `out` holds (a reacted polymer,
/// which the first piece of `units` may cancel into): `out` ends up as the
/// reaction of its units followed by those of `units` without `letter`.
/// Reserve room for `units.len()` more before, as for
/// [`remove_from_reacted_into`].
pub fn remove_from_reacted_onto(units: &[u8], letter: u8, out: &mut Vec<u8>) {
    #[cfg(target_arch = "x86_64")]
    if out.capacity() - out.len() >= units.len()
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("bmi1")
    {
        // SAFETY: the processor has AVX2 and BMI1, as just checked, and
        // `out` has room for `units` past what it holds.
        unsafe { remove_into_avx2(units, letter, out) };
        return;
    }
    remove_into_by_units(units, letter, out);
}

/// [`remove_from_reacted_onto`] a unit at a time, onto a `Vec`.
fn remove_into_by_units(units: &[u8], letter: u8, out: &mut Vec<u8>) {
    let join = |out: &mut Vec<u8>, mut start: usize, end: usize| {
        while start < end
            && out
                .last()
                .is_some_and(|&last| last ^ units[start] == CASE_BIT)
        {
            out.pop();
            start += 1;
        }
        out.extend_from_slice(&units[start..end]);
    };
    let mut from = 0;
    let mut cuts = Cuts::default();
    while let Some(cut) = cuts.next(units, letter) {
        join(out, from, cut);
        from = cut + 1;
    }
    join(out, from, units.len());
}

/// [`remove_from_reacted_into`] with AVX2: at a junction, 32 units of the
/// kept part (read backwards from its end) are matched against 32 of the
/// piece at once, and a short piece is copied with one 32-byte store. A
/// letter whose removal cancels much (on the shipped inputs, the answer's:
/// about nine pairs at each junction) takes a few steps per junction
/// instead of one per cancelled pair.
///
/// # Safety
/// The processor must have AVX2 and BMI1, and `out` room for `units.len()`
/// bytes past those it holds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1")]
unsafe fn remove_into_avx2(units: &[u8], letter: u8, out: &mut Vec<u8>) {
    use std::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_permute2x128_si256,
        _mm256_set1_epi8, _mm256_setr_epi8, _mm256_shuffle_epi8, _mm256_storeu_si256,
        _mm256_xor_si256,
    };
    const WIDE: usize = 32;
    let (n, room) = (units.len(), out.capacity());
    let (from_ptr, to_ptr) = (units.as_ptr(), out.as_mut_ptr());
    let held = out.len();
    let mut len = held;
    // SAFETY: reads of `units` are within `0..n`: a wide read at `start`
    // only when `start + WIDE <= n`, else `copy_nonoverlapping` of
    // `start..end` (`end <= n`). Reads of `out` are below `len`, of bytes
    // it held or written since: a wide read of `len - WIDE..len` only when
    // `len >= WIDE`. Writes to `out` are within its capacity `room`: a wide
    // store at `len` only when `len + WIDE <= room`, else exactly the piece,
    // and the kept part never outgrows what `out` held and `units` together
    // (`len + piece <= held + n <= room`: each unit is copied at most
    // once). `units` and `out` do not overlap (one is borrowed shared, the
    // other exclusively). `set_len` comes last, and every byte below `len`
    // has been written (or was held).
    unsafe {
        let case = _mm256_set1_epi8(CASE_BIT as i8);
        let reverse = _mm256_setr_epi8(
            15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7,
            6, 5, 4, 3, 2, 1, 0,
        );
        let mut join = |mut start: usize, end: usize| {
            // Cancel while the end of the kept part reacts with the piece.
            while len > 0 && start < end {
                if len >= WIDE && start + WIDE <= n {
                    let kept = _mm256_loadu_si256(to_ptr.add(len - WIDE).cast());
                    // Its last unit first: bytes reversed in each half, then
                    // the halves swapped.
                    let kept = _mm256_shuffle_epi8(kept, reverse);
                    let kept = _mm256_permute2x128_si256::<1>(kept, kept);
                    let piece = _mm256_loadu_si256(from_ptr.add(start).cast());
                    let reacts = _mm256_cmpeq_epi8(_mm256_xor_si256(kept, piece), case);
                    let matched =
                        (!(_mm256_movemask_epi8(reacts) as u32)).trailing_zeros() as usize;
                    let cancelled = matched.min(end - start);
                    len -= cancelled;
                    start += cancelled;
                    if cancelled < WIDE {
                        break;
                    }
                } else if *to_ptr.add(len - 1) ^ *from_ptr.add(start) == CASE_BIT {
                    len -= 1;
                    start += 1;
                } else {
                    break;
                }
            }
            let piece = end - start;
            if piece <= WIDE && start + WIDE <= n && len + WIDE <= room {
                let bytes = _mm256_loadu_si256(from_ptr.add(start).cast());
                _mm256_storeu_si256(to_ptr.add(len).cast(), bytes);
            } else {
                std::ptr::copy_nonoverlapping(from_ptr.add(start), to_ptr.add(len), piece);
            }
            len += piece;
        };
        let mut from = 0;
        let mut cuts = Cuts::default();
        while let Some(cut) = cuts.next(units, letter) {
            join(from, cut);
            from = cut + 1;
        }
        join(from, n);
        out.set_len(len);
    }
}

/// The positions of a letter's units, in order, a block's worth found at
/// once: the bytes of a block are read when its first position is asked
/// for, and not again, so a caller may change what it has been given.
#[derive(Default)]
struct Cuts {
    /// The block to read next.
    offset: usize,
    /// The found positions not yet given, as bits from `base`.
    mask: u64,
    base: usize,
}

impl Cuts {
    /// The next position of a unit of `letter` (lowercase) in `units`.
    fn next(&mut self, units: &[u8], letter: u8) -> Option<usize> {
        let whole_blocks = units.len() / BLOCK * BLOCK;
        while self.mask == 0 {
            if self.offset >= units.len() {
                return None;
            }
            self.base = self.offset;
            if self.offset < whole_blocks {
                let block: &[u8; BLOCK] = units[self.offset..self.offset + BLOCK]
                    .try_into()
                    .expect("a whole block");
                self.mask = letter_mask(block, letter);
                self.offset += BLOCK;
            } else {
                self.mask = units[self.offset..]
                    .iter()
                    .enumerate()
                    .fold(0, |mask, (i, &unit)| {
                        mask | (u64::from(unit | CASE_BIT == letter) << i)
                    });
                self.offset = units.len();
            }
        }
        let cut = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(cut)
    }
}

/// The reacted length of `reacted` (fully reacted) without the units of
/// `letter` (lowercase), read in place: nothing is copied, so a polymer
/// mapped read-only needs no memory of its own. `None` when the kept part
/// would need more than `max_segments` segments (see below; one is always
/// allowed), which takes
/// one junction after another that cancels part of its pieces; the caller
/// then compacts a copy instead. (Bytes other than a reacted polymer give a
/// length that means nothing, but never undefined behaviour or a panic.)
///
/// The kept part is a stack of *segments* of `reacted`, each standing for
/// its units other than `letter`'s. A piece that joins with no cancellation
/// extends the top segment over the removed unit before it, so the stack
/// grows only at a junction where units cancelled and the piece survived:
/// on real inputs a few per thousand units.
pub fn length_without_in_place(reacted: &[u8], letter: u8, limits: Limits) -> Option<usize> {
    let mut kept = Remains::default();
    kept.pass::<false>(reacted, letter, limits).0
}

/// When a pass gives up, so that its caller takes another way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Past this many segments (memory; one is always allowed).
    pub max_segments: usize,
    /// When junctions need a look more often than one unit in
    /// [`BUSY_RATE`] (past the first [`BUSY_FLOOR`] looks): a letter whose
    /// removal cancels that much is faster removed from a copy of its own
    /// ([`super::react_without_into`]) than followed through segments.
    pub give_up_when_busy: bool,
}

impl Limits {
    /// No limit: the pass always finishes.
    pub const NONE: Limits = Limits {
        max_segments: usize::MAX,
        give_up_when_busy: false,
    };
}

/// See [`Limits::give_up_when_busy`].
pub const BUSY_RATE: usize = 64;

/// See [`Limits::give_up_when_busy`].
pub const BUSY_FLOOR: usize = 4096;

/// A letter's length read in place, with the polymer checked in the same
/// pass (see [`length_checked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// The reacted length without the letter.
    Length(usize),
    /// A byte is not a letter (find it with `validate`).
    NotAPolymer,
    /// The polymer is not fully reacted: a pass does not apply.
    NotReacted,
    /// Past the limits: take another way. The bytes may not all have
    /// been checked.
    GaveUp,
}

/// [`length_without_in_place`] of `units`, which in the same pass over
/// memory are checked to be letters only and fully reacted (the rules the
/// sweep relies on), as a child handed a polymer it maps checks them.
pub fn length_checked(units: &[u8], letter: u8, limits: Limits) -> Checked {
    let mut kept = Remains::default();
    let (length, checks) = kept.pass::<true>(units, letter, limits);
    if !checks.complete {
        return Checked::GaveUp;
    }
    match (checks.letters_only, checks.reacted, length) {
        (false, _, _) => Checked::NotAPolymer,
        (true, false, _) => Checked::NotReacted,
        (true, true, Some(length)) => Checked::Length(length),
        (true, true, None) => Checked::GaveUp,
    }
}

/// The reacted length after removing each of the 26 unit types, from a
/// polymer that is already fully reacted. (Any other bytes give lengths
/// that mean nothing, but never undefined behaviour or a panic.)
///
/// Removing every unit of one type cuts the reacted polymer into pieces
/// that are each still reacted, so reactions can only happen where two
/// pieces meet (see [`length_without_in_place`]), and most junctions can be
/// seen not to react from their two neighbours alone (see [`Remains`]). One
/// vectorised pass finds the few that need a look, each is handed to its
/// own letter's kept part, and a count of each letter does the rest: all
/// 26 letters for about two passes over the polymer.
pub fn lengths_without_each(reacted: &[u8]) -> [usize; 26] {
    let lengths = lengths_of_each(reacted, &[true; 26], Limits::NONE, |_| {});
    // Unbounded: never `None`.
    lengths.map(|length| length.unwrap_or_default())
}

/// [`lengths_without_each`] for the letters `wanted` (`a` to `z`) under
/// `limits`, each letter's own: a letter past them is given up on as soon
/// as that is seen, `gave_up` is called with its index (0 for `a`), so
/// that another thread can take it another way while the pass goes on,
/// and its length is `None` (as is every length not wanted). The letters
/// share one pass over the polymer, so the memory read is the same for 1
/// letter or 26.
pub fn lengths_of_each(
    reacted: &[u8],
    wanted: &[bool; 26],
    limits: Limits,
    mut gave_up: impl FnMut(usize),
) -> [Option<usize>; 26] {
    let mut kept: [Remains; 27] = Default::default();
    // Index 26 (any byte other than a letter) is never followed.
    let mut active: [bool; 27] = std::array::from_fn(|k| k < 26 && wanted[k]);
    let mut looks = [0usize; 27];
    let max_below = limits.max_segments.saturating_sub(1);
    let mut give_up = |k: usize, kept: &mut Remains, active: &mut [bool; 27]| {
        active[k] = false;
        kept.below = Vec::new();
        gave_up(k);
    };
    for_each_junction_to_look_at(reacted, |at| {
        let unit = reacted[at];
        let k = letter_index(unit);
        if !active[k] {
            return;
        }
        looks[k] += 1;
        let busy = limits.give_up_when_busy && looks[k] > BUSY_FLOOR + at / BUSY_RATE;
        if busy
            || kept[k]
                .look(reacted, unit | CASE_BIT, at, max_below)
                .is_none()
        {
            give_up(k, &mut kept[k], &mut active);
        }
    });
    let counts = letter_counts(reacted);
    std::array::from_fn(|k| {
        if !active[k] {
            return None;
        }
        let letter = &mut kept[k];
        letter.removed = counts[k];
        match letter.finish(reacted, b'a' + k as u8, max_below) {
            Some(()) => Some(letter.length(reacted.len())),
            None => {
                give_up(k, letter, &mut active);
                None
            }
        }
    })
}

/// How many units of each letter `units` holds (either case), `a` to `z`,
/// then how many other bytes.
fn letter_counts(units: &[u8]) -> [usize; 27] {
    let mut counts = [0usize; 27];
    // Every byte value counted as it is (no arithmetic per byte), in four
    // tables taking turns, so that a run of one letter does not wait on
    // its own last count; a slice at a time, so no table count overflows.
    for slice in units.chunks(1 << 31) {
        let mut tables = [[0u32; 256]; 4];
        let mut words = slice.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            for k in 0..8 {
                tables[k % 4][((word >> (8 * k)) & 0xFF) as usize] += 1;
            }
        }
        for &unit in words.remainder() {
            tables[0][usize::from(unit)] += 1;
        }
        for byte in 0..=255u8 {
            let count: u32 = tables.iter().map(|t| t[usize::from(byte)]).sum();
            counts[letter_index(byte)] += count as usize;
        }
    }
    counts
}

/// 0 to 25 for a letter (either case), 26 for any other byte.
fn letter_index(unit: u8) -> usize {
    usize::from((unit | CASE_BIT).wrapping_sub(b'a').min(26))
}

/// The segments a sweep may hold before its caller takes another way, at
/// the least: a child's pass for its letter, or orchestrate's sweep of every
/// letter together (16 bytes each: 16 MiB).
pub const MAX_SEGMENTS: usize = 1 << 20;

/// The memory one segment of a sweep takes.
pub const SEGMENT_BYTES: usize = std::mem::size_of::<(usize, usize)>();

/// The kept part of a reacted polymer while one letter's units are taken
/// out of it, as a stack of *segments* of the polymer, each standing for
/// its units other than the letter's; the polymer from `from` on is still
/// to come.
///
/// A removed unit is a junction between what is kept before it and what
/// follows it. When the unit before it is kept (not the letter, not
/// cancelled) and the unit after it is not the letter, the junction reacts
/// exactly when those two neighbours do, which a vectorised pass can tell
/// for all junctions at once. So only the junctions where the neighbours
/// react (around a run of two removed units, the units around the run),
/// or inside a longer run, need a [`look`] (see [`needs_look`]); the others
/// join the kept part as they are. The one other way a neighbour is not
/// the true end of the kept part, a cancellation that reached past it, is
/// followed through by `look` itself.
///
/// [`look`]: Remains::look
struct Remains {
    /// The segments under the top one, each holding at least one kept unit.
    below: Vec<(usize, usize)>,
    /// The top segment, half-open; when it is not empty, its last unit is a
    /// kept one (not the letter's).
    top: (usize, usize),
    /// Whether everything between the end of `top` and `from` is removed
    /// units only, so that what follows can extend `top`.
    clean: bool,
    /// Where the polymer not yet joined starts.
    from: usize,
    cancelled: usize,
    removed: usize,
}

impl Default for Remains {
    fn default() -> Self {
        Remains {
            below: Vec::new(),
            top: (0, 0),
            clean: true,
            from: 0,
            cancelled: 0,
            removed: 0,
        }
    }
}

impl Remains {
    /// Takes `letter` (lowercase) out of `reacted` from scratch; `None`
    /// past the limits. Also says what the pass saw of the bytes (checked
    /// whole only when it did not stop early).
    fn pass<const CHECK: bool>(
        &mut self,
        reacted: &[u8],
        letter: u8,
        limits: Limits,
    ) -> (Option<usize>, Checks) {
        let below = std::mem::take(&mut self.below);
        *self = Remains {
            below,
            ..Remains::default()
        };
        self.below.clear();
        let max_below = limits.max_segments.saturating_sub(1);
        let mut looks = 0usize;
        let mut gave_up = false;
        let pass = for_each_junction_of::<CHECK>(reacted, letter, |at| {
            looks += 1;
            let busy = limits.give_up_when_busy && looks > BUSY_FLOOR + at / BUSY_RATE;
            gave_up = busy || self.look(reacted, letter, at, max_below).is_none();
            !gave_up
        });
        if gave_up {
            return (None, pass.checks);
        }
        self.removed = pass.count;
        let length = self
            .finish(reacted, letter, max_below)
            .map(|()| self.length(reacted.len()));
        (length, pass.checks)
    }

    /// The reacted length, once the whole polymer of `len` units has
    /// joined and `removed` holds the letter's count.
    fn length(&self, len: usize) -> usize {
        len - self.removed - 2 * self.cancelled
    }

    /// Looks at the junction at `at` (a unit of `letter`): first joins the
    /// polymer before it, then cancels while the end of the kept part
    /// reacts with what follows (skipping units of the letter). Junctions
    /// must come in order; one already passed by a cancellation is skipped.
    /// `None` past `max_below` segments under the top.
    #[inline]
    fn look(&mut self, units: &[u8], letter: u8, at: usize, max_below: usize) -> Option<()> {
        if at < self.from {
            return Some(());
        }
        self.append(units, letter, at, max_below)?;
        let mut next = at + 1;
        loop {
            while next < units.len() && units[next] | CASE_BIT == letter {
                next += 1;
            }
            if next == units.len()
                || self.top.0 == self.top.1
                || units[self.top.1 - 1] ^ units[next] != CASE_BIT
            {
                break;
            }
            self.cancelled += 1;
            self.clean = false;
            next += 1;
            self.top.1 -= 1;
            while self.top.0 < self.top.1 && units[self.top.1 - 1] | CASE_BIT == letter {
                self.top.1 -= 1;
            }
            if self.top.0 == self.top.1
                && let Some(below) = self.below.pop()
            {
                self.top = below;
            }
        }
        self.from = next;
        Some(())
    }

    /// Joins the rest of the polymer.
    fn finish(&mut self, units: &[u8], letter: u8, max_below: usize) -> Option<()> {
        self.append(units, letter, units.len(), max_below)
    }

    /// Joins `units[from..to]` to the kept part as it is: every junction in
    /// it is known not to react.
    fn append(&mut self, units: &[u8], letter: u8, to: usize, max_below: usize) -> Option<()> {
        let mut end = to;
        while end > self.from && units[end - 1] | CASE_BIT == letter {
            end -= 1;
        }
        if end > self.from {
            if self.top.0 == self.top.1 {
                self.top = (self.from, end);
            } else if self.clean {
                self.top.1 = end;
            } else {
                if self.below.len() >= max_below {
                    return None;
                }
                // Grown fallibly: out of memory, the letter is given up
                // like one past its share of segments (and reacted into a
                // buffer, which reports it).
                let room = self.below.capacity().max(64);
                if self.below.len() == self.below.capacity()
                    && crate::memory::reserve_exact(&mut self.below, room).is_err()
                {
                    return None;
                }
                self.below.push(self.top);
                self.top = (self.from, end);
            }
            self.clean = true;
        }
        self.from = to;
        Some(())
    }
}

/// Whether the junction at `at` needs a look (see [`Remains`]). With `b` and
/// `d` the units on either side and `a` the one before `b`: when `b` is
/// another letter, when `b` and `d` react; when `b` is the same letter (a
/// run of removed units), when `a` and `d` react, or `a` is the same
/// letter too (a longer run: always looked at). A run that goes on past
/// `at` is left to its last unit.
fn needs_look(units: &[u8], at: usize) -> bool {
    let unit = |i: usize| units.get(i).copied();
    let (Some(c), Some(b)) = (unit(at), at.checked_sub(1).and_then(unit)) else {
        return false;
    };
    let a = at.checked_sub(2).and_then(unit);
    let d = unit(at + 1);
    let same = |x: u8| x | CASE_BIT == c | CASE_BIT;
    let react =
        |x: Option<u8>, y: Option<u8>| matches!((x, y), (Some(x), Some(y)) if x ^ y == CASE_BIT);
    if same(b) {
        a.is_some_and(same) || react(a, d)
    } else {
        react(Some(b), d)
    }
}

/// Calls `look` with every position of `units` that needs a look, in order.
fn for_each_junction_to_look_at(units: &[u8], mut look: impl FnMut(usize)) {
    let mut at = 1;
    if needs_look(units, at) {
        look(at);
    }
    at += 1;
    while at + BLOCK < units.len() {
        let mut mask = looks_mask(window(units, at));
        while mask != 0 {
            look(at + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        at += BLOCK;
    }
    (at..units.len())
        .filter(|&i| needs_look(units, i))
        .for_each(look);
}

/// What one pass over the bytes for one letter saw.
struct Pass {
    /// How many units of the letter there are.
    count: usize,
    checks: Checks,
}

/// What a pass saw of the bytes, all of them unless it stopped early.
#[derive(Clone, Copy, Debug)]
struct Checks {
    /// Every byte is an ASCII letter.
    letters_only: bool,
    /// No two adjacent bytes react.
    reacted: bool,
    /// What the pass says of the bytes holds: it went through every byte,
    /// or stopped at a block that breaks a rule (which it says).
    complete: bool,
}

/// Calls `look` with every position of a unit of `letter` that needs a
/// look, in order, until it returns false; counts the units of `letter`
/// and, with `CHECK`, checks the bytes on the way (one pass over memory
/// for all three; without it, what it says of them means nothing). With
/// `CHECK`, the pass ends at the first block that breaks a rule: the sweep
/// cannot be used then, and what is wrong is enough to say so.
// One pass over memory for three things at once, as one loop; split, it
// would read the polymer three times.
fn for_each_junction_of<const CHECK: bool>(
    units: &[u8],
    letter: u8,
    look: impl FnMut(usize) -> bool,
) -> Pass {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
    {
        // SAFETY: the processor has AVX2, POPCNT and BMI1, as just checked.
        return unsafe { junctions_with_avx2::<CHECK>(units, letter, look) };
    }
    // SAFETY: without AVX2, nothing is asked of the processor.
    unsafe { junctions_of::<CHECK, false>(units, letter, look) }
}

/// [`for_each_junction_of`] compiled for AVX2, 32 bytes a step, with a
/// count and a trailing-zero count of one instruction each.
///
/// # Safety
/// The processor must have AVX2, POPCNT and BMI1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1")]
unsafe fn junctions_with_avx2<const CHECK: bool>(
    units: &[u8],
    letter: u8,
    look: impl FnMut(usize) -> bool,
) -> Pass {
    // SAFETY: AVX2 is there (caller).
    unsafe { junctions_of::<CHECK, true>(units, letter, look) }
}

/// The body of [`for_each_junction_of`], inlined into each of its builds.
///
/// # Safety
/// With `AVX2`, the processor must have AVX2.
#[allow(clippy::too_many_lines)]
#[inline(always)]
unsafe fn junctions_of<const CHECK: bool, const AVX2: bool>(
    units: &[u8],
    letter: u8,
    mut look: impl FnMut(usize) -> bool,
) -> Pass {
    let mut count = 0;
    let mut bad = 0u64;
    let mut scalar = |i: usize, look: &mut dyn FnMut(usize) -> bool| {
        let Some(&unit) = units.get(i) else {
            return true;
        };
        let reacts = units
            .get(i + 1)
            .is_some_and(|&next| unit ^ next == CASE_BIT);
        bad |= u64::from(!is_unit(unit)) | u64::from(reacts) << 1;
        if unit | CASE_BIT != letter {
            return true;
        }
        count += 1;
        !needs_look(units, i) || look(i)
    };
    let stopped = |count, bad| Pass {
        count,
        checks: Checks::from(bad, false),
    };
    let broken = |count, bad| Pass {
        count,
        checks: Checks::from(bad, true),
    };
    if !scalar(0, &mut look) || !scalar(1, &mut look) {
        return stopped(count, bad);
    }
    let mut at = 2;
    let mut counted = 0;
    let mut bad_blocks = 0u64;
    while at + BLOCK < units.len() {
        // SAFETY: AVX2 only where the processor has it (caller).
        let block = unsafe { LetterBlock::of::<AVX2>(window(units, at), letter) };
        counted += block.ours.count_ones() as usize;
        if CHECK {
            bad_blocks |= u64::from(block.invalid != 0) | u64::from(block.reacting != 0) << 1;
            if bad_blocks != 0 {
                return broken(count + counted, bad | bad_blocks);
            }
        }
        let mut mask = block.looks;
        while mask != 0 {
            if !look(at + mask.trailing_zeros() as usize) {
                return stopped(count + counted, bad | bad_blocks);
            }
            mask &= mask - 1;
        }
        at += BLOCK;
    }
    for i in at..units.len() {
        if !scalar(i, &mut look) {
            return stopped(count + counted, bad | bad_blocks);
        }
    }
    Pass {
        count: count + counted,
        checks: Checks::from(bad | bad_blocks, true),
    }
}

impl Checks {
    /// From the bits a pass gathered: 1 for a non-letter, 2 for a
    /// reacting pair.
    fn from(bad: u64, complete: bool) -> Checks {
        Checks {
            letters_only: bad & 1 == 0,
            reacted: bad & 2 == 0,
            complete,
        }
    }
}

/// The block at `at` with two units before it and one after (needs
/// `at >= 2` and `at + BLOCK < units.len()`).
fn window(units: &[u8], at: usize) -> &[u8; BLOCK + 3] {
    units[at - 2..at + BLOCK + 1]
        .try_into()
        .expect("a block and its neighbours")
}

/// Bit `i` is set when the junction at `window[i + 2]` needs a look: the
/// rule of [`needs_look`], 16 junctions at a time.
#[cfg(target_arch = "x86_64")]
fn looks_mask(window: &[u8; BLOCK + 3]) -> u64 {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8, _mm_xor_si128,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are
    // always available; each load reads 16 bytes starting at `k` to `k + 3`
    // for `k <= 48`, so within the 67 bytes of `window`; loadu has no
    // alignment requirement.
    unsafe {
        let case = _mm_set1_epi8(CASE_BIT as i8);
        let load = |i: usize| _mm_loadu_si128(window[i..i + 16].as_ptr().cast());
        let mut mask = 0;
        for k in (0..BLOCK).step_by(16) {
            let (a, b, c, d) = (load(k), load(k + 1), load(k + 2), load(k + 3));
            let letter = _mm_or_si128(c, case);
            let b_same = _mm_cmpeq_epi8(_mm_or_si128(b, case), letter);
            let a_same = _mm_cmpeq_epi8(_mm_or_si128(a, case), letter);
            let a_d = _mm_cmpeq_epi8(_mm_xor_si128(a, d), case);
            let b_d = _mm_cmpeq_epi8(_mm_xor_si128(b, d), case);
            let in_run = _mm_and_si128(b_same, _mm_or_si128(a_same, a_d));
            let looks = _mm_or_si128(in_run, _mm_andnot_si128(b_same, b_d));
            mask |= u64::from(_mm_movemask_epi8(looks) as u16) << k;
        }
        mask
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn looks_mask(window: &[u8; BLOCK + 3]) -> u64 {
    (0..BLOCK).fold(0, |mask, i| {
        let (a, b, c, d) = (window[i], window[i + 1], window[i + 2], window[i + 3]);
        let same = |x: u8| x | CASE_BIT == c | CASE_BIT;
        let looks = if same(b) {
            same(a) || a ^ d == CASE_BIT
        } else {
            b ^ d == CASE_BIT
        };
        mask | (u64::from(looks) << i)
    })
}

/// What one block says to one letter's pass: bit `i` of each mask is of
/// the unit at `window[i + 2]`.
#[derive(Clone, Copy, Default)]
struct LetterBlock {
    /// It is a unit of the letter.
    ours: u64,
    /// It is a unit of the letter whose junction needs a look (the rule of
    /// [`needs_look`]).
    looks: u64,
    /// It is not a letter.
    invalid: u64,
    /// It reacts with the unit after it.
    reacting: u64,
}

/// Byte-wise comparisons of a block: bit `i` of each is of `window[i + 2]`
/// (called `c`, with `a`, `b` before it and `d` after it).
#[derive(Clone, Copy, Default)]
struct Compared {
    /// `c` is a unit of the letter.
    ours: u64,
    /// `a` and `d` react.
    a_d: u64,
    /// `b` and `d` react.
    b_d: u64,
    /// `c` is a letter.
    letters: u64,
    /// `c` and `d` react.
    c_d: u64,
}

impl LetterBlock {
    /// The masks of the block in `window` for `letter` (lowercase).
    ///
    /// # Safety
    /// With `AVX2`, the processor must have AVX2.
    #[inline(always)]
    unsafe fn of<const AVX2: bool>(window: &[u8; BLOCK + 3], letter: u8) -> LetterBlock {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 only where the processor has it (caller).
        let compared = if AVX2 {
            unsafe { compare_avx2(window, letter) }
        } else {
            compare_sse2(window, letter)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let compared = compare_bytes(window, letter);
        // Where `c` is the letter, `b` is too when the unit before is ours,
        // and `a` when the one before that is: the letter's own mask,
        // shifted, with the two units before the block.
        let same = |x: u8| u64::from(x | CASE_BIT == letter);
        let ours = compared.ours;
        let b_same = ours << 1 | same(window[1]);
        let a_same = ours << 2 | same(window[1]) << 1 | same(window[0]);
        let looks = ours & ((b_same & (a_same | compared.a_d)) | (!b_same & compared.b_d));
        LetterBlock {
            ours,
            looks,
            invalid: !compared.letters,
            reacting: compared.c_d,
        }
    }
}

/// [`Compared`], 16 bytes a step.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn compare_sse2(window: &[u8; BLOCK + 3], letter: u8) -> Compared {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8, _mm_xor_si128,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are
    // always available; each load reads 16 bytes starting at `k` to `k + 3`
    // for `k <= 48`, so within the 67 bytes of `window`; loadu has no
    // alignment requirement.
    unsafe {
        let case = _mm_set1_epi8(CASE_BIT as i8);
        let wanted = _mm_set1_epi8(letter as i8);
        let first = _mm_set1_epi8(b'a' as i8);
        let last = _mm_set1_epi8(25);
        let load = |i: usize| _mm_loadu_si128(window[i..i + 16].as_ptr().cast());
        let bits = |v: __m128i| u64::from(_mm_movemask_epi8(v) as u16);
        let react = |x, y| _mm_cmpeq_epi8(_mm_xor_si128(x, y), case);
        let mut compared = Compared::default();
        for k in (0..BLOCK).step_by(16) {
            let (a, b, c, d) = (load(k), load(k + 1), load(k + 2), load(k + 3));
            let folded = _mm_or_si128(c, case);
            // A letter, either case, is 0..=25 once folded and shifted.
            let index = _mm_sub_epi8(folded, first);
            let letter = _mm_cmpeq_epi8(_mm_min_epu8(index, last), index);
            compared.ours |= bits(_mm_cmpeq_epi8(folded, wanted)) << k;
            compared.a_d |= bits(react(a, d)) << k;
            compared.b_d |= bits(react(b, d)) << k;
            compared.letters |= bits(letter) << k;
            compared.c_d |= bits(react(c, d)) << k;
        }
        compared
    }
}

/// [`Compared`], 32 bytes a step.
///
/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn compare_avx2(window: &[u8; BLOCK + 3], letter: u8) -> Compared {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8, _mm256_sub_epi8, _mm256_xor_si256,
    };
    // SAFETY: AVX2 is there (caller); each load reads 32 bytes starting at
    // `k` to `k + 3` for `k <= 32`, so within the 67 bytes of `window`;
    // loadu has no alignment requirement.
    unsafe {
        let case = _mm256_set1_epi8(CASE_BIT as i8);
        let wanted = _mm256_set1_epi8(letter as i8);
        let first = _mm256_set1_epi8(b'a' as i8);
        let last = _mm256_set1_epi8(25);
        let load = |i: usize| _mm256_loadu_si256(window[i..i + 32].as_ptr().cast());
        let bits = |v: __m256i| u64::from(_mm256_movemask_epi8(v) as u32);
        let react = |x, y| _mm256_cmpeq_epi8(_mm256_xor_si256(x, y), case);
        let mut compared = Compared::default();
        for k in (0..BLOCK).step_by(32) {
            let (a, b, c, d) = (load(k), load(k + 1), load(k + 2), load(k + 3));
            let folded = _mm256_or_si256(c, case);
            let index = _mm256_sub_epi8(folded, first);
            let letter = _mm256_cmpeq_epi8(_mm256_min_epu8(index, last), index);
            compared.ours |= bits(_mm256_cmpeq_epi8(folded, wanted)) << k;
            compared.a_d |= bits(react(a, d)) << k;
            compared.b_d |= bits(react(b, d)) << k;
            compared.letters |= bits(letter) << k;
            compared.c_d |= bits(react(c, d)) << k;
        }
        compared
    }
}

/// [`Compared`], a byte at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn compare_bytes(window: &[u8; BLOCK + 3], letter: u8) -> Compared {
    let reacts = |x: u8, y: u8| x ^ y == CASE_BIT;
    (0..BLOCK).fold(Compared::default(), |mut compared, i| {
        let (a, b, c, d) = (window[i], window[i + 1], window[i + 2], window[i + 3]);
        compared.ours |= u64::from(c | CASE_BIT == letter) << i;
        compared.a_d |= u64::from(reacts(a, d)) << i;
        compared.b_d |= u64::from(reacts(b, d)) << i;
        compared.letters |= u64::from(is_unit(c)) << i;
        compared.c_d |= u64::from(reacts(c, d)) << i;
        compared
    })
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

    fn segments(max_segments: usize) -> Limits {
        Limits {
            max_segments,
            give_up_when_busy: false,
        }
    }

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
    fn a_junction_can_cancel_the_whole_kept_part_in_wide_steps_held_or_not() {
        let letters: Vec<u8> = (0..96).map(|i| b"abcdefgh"[i % 8]).collect();
        for k in [31, 32, 33, 64, 96] {
            let head = &letters[..k];
            let inverse: Vec<u8> = head.iter().rev().map(|u| u ^ CASE_BIT).collect();
            // With no tail, the piece after the junction ends the polymer.
            for tail in [&b""[..], b"xyz"] {
                let units = [head, b"q", &inverse, tail].concat();
                assert!(is_reacted(&units));
                let mut out = Vec::with_capacity(units.len());
                remove_from_reacted_into(&units, b'q', &mut out);
                assert_eq!(out, tail, "{k} pairs cancel");
                let mut by_units = Vec::new();
                remove_into_by_units(&units, b'q', &mut by_units);
                assert_eq!(by_units, tail, "{k} pairs cancel, a unit at a time");
                // The head held already in the buffer, and the first piece
                // cancelling it whole; the tail stored wide up to its end.
                let rest = &units[k..];
                let mut onto = Vec::with_capacity(units.len());
                onto.extend_from_slice(head);
                remove_from_reacted_onto(rest, b'q', &mut onto);
                assert_eq!(onto, tail, "{k} held units cancel");
                let mut by_units = head.to_vec();
                remove_into_by_units(rest, b'q', &mut by_units);
                assert_eq!(by_units, tail, "{k} held units cancel, a unit at a time");
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
                let mut out = Vec::with_capacity(polymer.len());
                remove_from_reacted_into(&polymer, letter, &mut out);
                let kept: Vec<u8> = units
                    .iter()
                    .copied()
                    .filter(|&u| u | CASE_BIT != letter)
                    .collect();
                let want = naive_react(&kept);
                assert_eq!(&copy[..len], &want[..], "letter {}", letter as char);
                assert_eq!(out, want, "letter {}, into a buffer", letter as char);
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
                    length_without_in_place(&polymer, letter, Limits::NONE),
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
        assert_eq!(length_without_in_place(&polymer, b'a', segments(10)), None);
        assert_eq!(
            length_without_in_place(&polymer, b'a', segments(100)),
            Some(expected)
        );
        // Junctions that cancel nothing never add a segment.
        let calm = reacted(&b"xayb".repeat(1_000));
        assert_eq!(
            length_without_in_place(&calm, b'a', segments(1)),
            Some(3_000)
        );
    }

    #[test]
    fn a_busy_letter_gives_up_early_and_the_others_finish() {
        // Removing q lets every pair around it cancel: a look per junction.
        let busy = reacted(&b"xqXyqY".repeat(10_000));
        let limits = Limits {
            max_segments: usize::MAX,
            give_up_when_busy: true,
        };
        assert_eq!(length_without_in_place(&busy, b'q', limits), None);
        assert_eq!(length_without_in_place(&busy, b'q', Limits::NONE), Some(0));
        assert_eq!(length_checked(&busy, b'q', limits), Checked::GaveUp);
        assert_eq!(length_checked(&busy, b'x', limits), Checked::Length(40_000));
        // A few busy junctions under the floor are followed through.
        let few = reacted(&b"xqXyqY".repeat(BUSY_FLOOR / 4));
        assert_eq!(length_without_in_place(&few, b'q', limits), Some(0));
        // In a shared pass, q is given up on as soon as it is busy, and the
        // other letters finish.
        let mut given_up = Vec::new();
        let lengths = lengths_of_each(&busy, &[true; 26], limits, |k| given_up.push(k));
        assert_eq!(given_up, [usize::from(b'q' - b'a')]);
        assert_eq!(lengths[usize::from(b'q' - b'a')], None);
        assert_eq!(lengths[usize::from(b'x' - b'a')], Some(40_000));
    }

    #[test]
    fn the_checked_sweep_refuses_what_it_relies_on() {
        let polymer = reacted(b"dabAcCaCBAcCcaDA");
        assert_eq!(
            length_checked(&polymer, b'c', Limits::NONE),
            Checked::Length(4)
        );
        for bad_at in [0, 5, 70, 198] {
            let mut long = reacted(&b"abcd".repeat(50));
            long[bad_at] = b'1';
            assert_eq!(
                length_checked(&long, b'a', Limits::NONE),
                Checked::NotAPolymer,
                "{bad_at}"
            );
            long[bad_at] = long[bad_at + 1] ^ CASE_BIT;
            assert_eq!(
                length_checked(&long, b'a', Limits::NONE),
                Checked::NotReacted,
                "{bad_at}"
            );
        }
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
            // Into a buffer that held something else, read in place.
            let mut out = b"leftover".to_vec();
            out.reserve(polymer.len());
            remove_from_reacted_into(&polymer, letter, &mut out);
            let mut by_units = Vec::new();
            remove_into_by_units(&polymer, letter, &mut by_units);
            let len = remove_from_reacted(&mut polymer, letter);
            let kept: Vec<u8> = units.iter().copied().filter(|&u| u | CASE_BIT != letter).collect();
            let want = naive_react(&kept);
            prop_assert_eq!(&polymer[..len], &want[..]);
            prop_assert_eq!(&out, &want);
            prop_assert_eq!(by_units, want);
        }

        #[test]
        fn junctions_that_cancel_across_many_units_agree_with_the_naive_reference(
            cancels in prop::collection::vec(0usize..80, 1..40),
            seed in any::<u64>(),
        ) {
            // Each junction: units, a `q`, then the inverse of the last
            // `cancel` units before it, so that removing `q` cancels that
            // many pairs there (and maybe more, on to the junction before).
            let mut units = Vec::new();
            let mut state = seed | 1;
            for &cancel in &cancels {
                for _ in 0..cancel + 3 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let unit = b"abcdefABCDEF"[(state % 12) as usize];
                    units.push(unit);
                }
                let inverse: Vec<u8> = units[units.len() - cancel..]
                    .iter()
                    .rev()
                    .map(|u| u ^ CASE_BIT)
                    .collect();
                units.push(b'q');
                units.extend(inverse);
            }
            let polymer = reacted(&units);
            let kept: Vec<u8> = units.iter().copied().filter(|&u| u | CASE_BIT != b'q').collect();
            let want = naive_react(&kept);
            let mut out = Vec::with_capacity(polymer.len());
            remove_from_reacted_into(&polymer, b'q', &mut out);
            prop_assert_eq!(&out, &want);
            let mut by_units = Vec::new();
            remove_into_by_units(&polymer, b'q', &mut by_units);
            prop_assert_eq!(by_units, want);
        }

        #[test]
        fn in_place_lengths_agree_with_the_naive_reference(
            units in prop::collection::vec(prop::sample::select(b"aAbBcCdDeEzZ".to_vec()), 0..400),
            letter in prop::sample::select(b"abcz".to_vec()),
            budget in 0usize..6,
        ) {
            let polymer = reacted(&units);
            let expected = naive_lengths(&units)[usize::from(letter - b'a')];
            prop_assert_eq!(length_without_in_place(&polymer, letter, Limits::NONE), Some(expected));
            let bounded = length_without_in_place(&polymer, letter, segments(budget));
            prop_assert!(bounded.is_none() || bounded == Some(expected));
        }

        /// The letters of one shared pass: a wanted letter's length is
        /// right, or it was given up on and said so exactly once; a letter
        /// not wanted is neither.
        #[test]
        fn a_shared_pass_gives_each_wanted_letter_its_length_or_gives_it_up_once(
            units in prop::collection::vec(prop::sample::select(b"aAbBcCdDeEzZ".to_vec()), 0..400),
            wanted in prop::array::uniform26(any::<bool>()),
            budget in 0usize..6,
        ) {
            let polymer = reacted(&units);
            let expected = naive_lengths(&units);
            let unbounded = lengths_of_each(&polymer, &wanted, Limits::NONE, |k| panic!("gave up {k}"));
            let mut given_up = Vec::new();
            let bounded = lengths_of_each(&polymer, &wanted, segments(budget), |k| given_up.push(k));
            for k in 0..26 {
                let gave_up = given_up.iter().filter(|&&g| g == k).count();
                if wanted[k] {
                    prop_assert_eq!(unbounded[k], Some(expected[k]));
                    prop_assert!(bounded[k] == Some(expected[k]) && gave_up == 0
                        || bounded[k].is_none() && gave_up == 1, "{} {:?} {}", k, bounded[k], gave_up);
                } else {
                    prop_assert_eq!((unbounded[k], bounded[k], gave_up), (None, None, 0));
                }
            }
        }

        #[test]
        fn the_vectorised_pass_finds_exactly_the_junctions_that_need_a_look(
            bytes in prop::collection::vec(prop::sample::select(b"aAbBzZ\0".to_vec()), 0..300),
            letter in prop::sample::select(b"abz".to_vec()),
        ) {
            let mut found = Vec::new();
            for_each_junction_to_look_at(&bytes, |at| found.push(at));
            let expected: Vec<usize> = (0..bytes.len()).filter(|&i| needs_look(&bytes, i)).collect();
            prop_assert_eq!(&found, &expected);
            let mut ours = Vec::new();
            let count = for_each_junction_of::<false>(&bytes, letter, |at| { ours.push(at); true }).count;
            // The build for any x86_64 finds the same as the one taken here
            // (with AVX2 where the processor has it).
            let mut baseline = Vec::new();
            // SAFETY: without AVX2, nothing is asked of the processor.
            let pass = unsafe { junctions_of::<false, false>(&bytes, letter, |at| { baseline.push(at); true }) };
            prop_assert_eq!(&baseline, &ours);
            prop_assert_eq!(pass.count, count);
            // Checking, the pass may end at the first broken rule: what it
            // says is broken is, and it says so when anything is.
            let checks = for_each_junction_of::<true>(&bytes, letter, |_| true).checks;
            let letters_only = bytes.iter().all(|b| b.is_ascii_alphabetic());
            let reacted = bytes.windows(2).all(|w| w[0] ^ w[1] != CASE_BIT);
            prop_assert!(checks.complete);
            prop_assert!(checks.letters_only || !letters_only);
            prop_assert!(checks.reacted || !reacted);
            prop_assert_eq!(checks.letters_only && checks.reacted, letters_only && reacted);
            let of_letter = |&i: &usize| bytes[i] | CASE_BIT == letter;
            prop_assert_eq!(ours, expected.into_iter().filter(of_letter).collect::<Vec<_>>());
            prop_assert_eq!(count, (0..bytes.len()).filter(of_letter).count());
        }

        #[test]
        fn every_build_of_the_block_comparisons_agrees_with_bytes(
            window in prop::collection::vec(prop::sample::select(b"aAbBzZ\0{@`".to_vec()), BLOCK + 3),
            letter in prop::sample::select(b"abz".to_vec()),
        ) {
            let window: &[u8; BLOCK + 3] = window[..].try_into().unwrap();
            #[cfg(target_arch = "x86_64")]
            {
                let bytes = compare_bytes(window, letter);
                let fields = |c: Compared| (c.ours, c.a_d, c.b_d, c.letters, c.c_d);
                prop_assert_eq!(fields(compare_sse2(window, letter)), fields(bytes));
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the processor has AVX2, as just checked.
                    prop_assert_eq!(fields(unsafe { compare_avx2(window, letter) }), fields(bytes));
                }
            }
            // SAFETY: without AVX2, nothing is asked of the processor.
            let block = unsafe { LetterBlock::of::<false>(window, letter) };
            for i in 0..BLOCK {
                let bit = |mask: u64| mask >> i & 1 == 1;
                let c = window[i + 2];
                prop_assert_eq!(bit(block.ours), c | CASE_BIT == letter);
                prop_assert_eq!(bit(block.looks), c | CASE_BIT == letter && needs_look(window, i + 2));
                prop_assert_eq!(bit(block.invalid), !is_unit(c));
                prop_assert_eq!(bit(block.reacting), c ^ window[i + 3] == CASE_BIT);
            }
        }

        #[test]
        fn letters_are_counted_in_both_cases(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut expected = [0usize; 27];
            for &byte in &bytes {
                let k = if byte.is_ascii_alphabetic() { usize::from(byte.to_ascii_lowercase() - b'a') } else { 26 };
                expected[k] += 1;
            }
            prop_assert_eq!(letter_counts(&bytes), expected);
        }

        #[test]
        fn reactedness_agrees_with_a_plain_scan(units in polymer(300)) {
            prop_assert_eq!(is_reacted(&units), units.windows(2).all(|w| w[0] ^ w[1] != CASE_BIT));
        }

        /// The checked sweep against plain scans of the same bytes: the
        /// length when the bytes are a reacted polymer, else which rule is
        /// broken (either, when both are).
        #[test]
        fn the_checked_sweep_agrees_with_plain_scans(
            bytes in prop::collection::vec(
                prop_oneof![20 => prop::sample::select(b"abcAB".to_vec()), 1 => prop::sample::select(b"1 \0\xff".to_vec())],
                0..300,
            ),
            letter in prop::sample::select(b"abz".to_vec()),
        ) {
            let letters_only = bytes.iter().all(u8::is_ascii_alphabetic);
            let reacted_bytes = bytes.windows(2).all(|w| w[0] ^ w[1] != CASE_BIT);
            let checked = length_checked(&bytes, letter, Limits::NONE);
            match (letters_only, reacted_bytes) {
                (true, true) => prop_assert_eq!(
                    checked,
                    Checked::Length(naive_lengths(&bytes)[usize::from(letter - b'a')])
                ),
                (false, true) => prop_assert_eq!(checked, Checked::NotAPolymer),
                (true, false) => prop_assert_eq!(checked, Checked::NotReacted),
                (false, false) => prop_assert!(
                    matches!(checked, Checked::NotAPolymer | Checked::NotReacted),
                    "{:?}", checked
                ),
            }
        }

        #[test]
        fn removal_into_a_buffer_does_on_any_bytes_what_removal_in_place_does(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..300),
                prop::collection::vec(prop::sample::select(b"aAbBqQ\0\xff".to_vec()), 0..300),
            ],
            letter in prop::sample::select(b"aq".to_vec()),
        ) {
            let mut wide = Vec::with_capacity(bytes.len());
            remove_from_reacted_into(&bytes, letter, &mut wide);
            let mut by_units = Vec::new();
            remove_into_by_units(&bytes, letter, &mut by_units);
            let mut in_place = bytes.clone();
            let len = remove_from_reacted(&mut in_place, letter);
            prop_assert_eq!(&wide, &by_units);
            prop_assert_eq!(&in_place[..len], &by_units[..]);
        }

        /// Onto a buffer that holds units already (which the units left
        /// may cancel into, whole): what it held followed by the units left,
        /// reacted, wide or a unit at a time.
        #[test]
        fn removal_onto_what_a_buffer_holds_is_removal_from_the_two_joined(
            held in prop::collection::vec(prop::sample::select(b"aAbBqQ".to_vec()), 0..100),
            bytes in prop::collection::vec(prop::sample::select(b"aAbBqQ".to_vec()), 0..200),
            letter in prop::sample::select(b"aq".to_vec()),
        ) {
            let (held, bytes) = (naive_react(&held), naive_react(&bytes));
            let mut wide = Vec::with_capacity(held.len() + bytes.len());
            wide.extend_from_slice(&held);
            remove_from_reacted_onto(&bytes, letter, &mut wide);
            let mut by_units = held.clone();
            remove_into_by_units(&bytes, letter, &mut by_units);
            let kept = bytes.iter().filter(|&&u| u | CASE_BIT != letter);
            let joined: Vec<u8> = held.iter().chain(kept).copied().collect();
            prop_assert_eq!(&wide, &naive_react(&joined));
            prop_assert_eq!(&by_units, &wide);
        }

        #[test]
        fn the_sweep_takes_any_bytes_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = lengths_without_each(&bytes);
            let _ = is_reacted(&bytes);
            let _ = remove_from_reacted(&mut bytes.clone(), b'a');
            let _ = length_without_in_place(&bytes, b'a', segments(3));
        }
    }
}
