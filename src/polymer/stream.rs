//! A polymer reacted while it is read: the input passes through a few
//! buffers of [`CHUNK`] bytes, each validated, stripped of the unit type to
//! remove, and reacted in place while it is still in the cache (one chunk
//! per thread at a time), then joined onto the reacted polymer so far,
//! cancelling at the seam (the reaction of a concatenation is the reaction
//! of the concatenated reactions).
//!
//! So a gigabyte is never held whole: memory is the reacted polymer (a
//! fifth of the input, on puzzle-like inputs) plus a chunk per thread, and
//! the only fresh pages are the reacted polymer's.
//!
//! The rules of a polymer are those of `validation`, applied chunk by chunk.

use std::io::{self, Read};
use std::ops::Range;

use super::Polymer;
use super::kernel::{react_in_place, remove_in_place};
use super::unit::{CASE_BIT, InvalidUnit, UnitType};
use super::validation::Rules;

/// The bytes each thread reacts at a time: small enough to stay in the
/// cache between being read and being reacted.
pub const CHUNK: usize = 1 << 20;

/// What to react, and how.
#[derive(Clone, Copy, Debug)]
pub struct Reaction {
    /// Threads reacting chunks at once (at least one: the caller's); `None`
    /// for as many as the cores this process may use, asked only once a
    /// whole chunk has been read (asking reads several files on Linux).
    pub threads: Option<usize>,
    /// A unit type removed before reacting.
    pub without: Option<UnitType>,
    /// The input's size, when known: the reacted polymer's buffer is
    /// reserved once (only what it holds is ever touched).
    pub size_hint: usize,
}

/// A polymer read and reacted.
#[derive(Debug)]
pub struct Reacted {
    /// The reacted polymer (without the removed unit type).
    pub polymer: Polymer,
    /// How many units the input had.
    pub input_length: usize,
}

/// Reads `reader` to its end and reacts it as `reaction` says; `observe`
/// sees every unit of the input, in order, before it reacts (to digest
/// it). Stops at the first byte that proves the input is not a polymer.
pub fn react_while_reading(
    mut reader: impl Read,
    reaction: &Reaction,
    observe: &mut dyn FnMut(&[u8]),
) -> io::Result<Result<Reacted, InvalidUnit>> {
    let mut threads = reaction.threads;
    let mut chunks = vec![reserve(Vec::new(), CHUNK)?];
    let mut reacted = reserve(
        crate::memory::buffer(reaction.size_hint).unwrap_or_default(),
        0,
    )?;
    let mut rules = Rules::default();
    let mut input_length = 0;
    let mut more = true;
    while more {
        let mut filled = 0;
        loop {
            if filled == chunks.len() {
                // Every chunk is full: one more per thread wanted.
                let wanted = *threads.get_or_insert_with(|| {
                    std::thread::available_parallelism().map_or(1, usize::from)
                });
                if chunks.len() >= wanted.max(1) {
                    break;
                }
                chunks.push(reserve(Vec::new(), CHUNK)?);
            }
            let chunk = &mut chunks[filled];
            chunk.clear();
            (&mut reader).take(CHUNK as u64).read_to_end(chunk)?;
            filled += usize::from(!chunk.is_empty());
            if chunk.len() < CHUNK {
                more = false;
                break;
            }
        }
        let letters: Vec<Range<usize>> = chunks[..filled]
            .iter()
            .map(|chunk| rules.letters(chunk))
            .collect();
        if let Some(invalid) = rules.invalid {
            return Ok(Err(invalid));
        }
        for (chunk, letters) in chunks.iter().zip(&letters) {
            observe(&chunk[letters.clone()]);
            input_length += letters.len();
        }
        let parts = react_chunks(&mut chunks[..filled], &letters, reaction.without);
        for (chunk, part) in chunks.iter().zip(parts) {
            join(&mut reacted, &chunk[part])?;
        }
    }
    Ok(Ok(Reacted {
        // Only letters were joined (see `Rules::letters`).
        polymer: Polymer { units: reacted },
        input_length,
    }))
}

/// Reacts each chunk's `letters` in place, without `without`, one chunk per
/// thread (the caller's thread takes the first, and any whose thread could
/// not be started); returns where each reacted part is.
fn react_chunks(
    chunks: &mut [Vec<u8>],
    letters: &[Range<usize>],
    without: Option<UnitType>,
) -> Vec<Range<usize>> {
    let react = move |chunk: &mut [u8], letters: Range<usize>| {
        let part = &mut chunk[letters.clone()];
        let kept = without.map_or(part.len(), |unit_type| remove_in_place(part, unit_type));
        // SAFETY: `letters` holds only ASCII letters (`Rules::letters`), and
        // removal only drops units.
        let len = unsafe { react_in_place(&mut part[..kept]) };
        letters.start..letters.start + len
    };
    // Each chunk but the first on a thread of its own; `None` where none
    // could be started.
    let mut parts: Vec<Option<Range<usize>>> = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(chunks.len());
        let mut chunks = chunks.iter_mut().zip(letters.iter().cloned());
        let first = chunks.next();
        for (chunk, range) in chunks {
            let work = move || react(chunk, range);
            handles.push(std::thread::Builder::new().spawn_scoped(scope, work).ok());
        }
        let first = first.map(|(chunk, range)| react(chunk, range));
        first
            .into_iter()
            .map(Some)
            .chain(handles.into_iter().map(|handle| {
                handle.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            }))
            .collect()
    });
    parts
        .iter_mut()
        .zip(chunks.iter_mut().zip(letters))
        .map(|(part, (chunk, range))| part.take().unwrap_or_else(|| react(chunk, range.clone())))
        .collect()
}

/// Joins a reacted part onto the reacted polymer so far: units cancel only
/// at the seam.
fn join(reacted: &mut Vec<u8>, part: &[u8]) -> io::Result<()> {
    let mut from = 0;
    while let (Some(&top), Some(&next)) = (reacted.last(), part.get(from)) {
        if top ^ next != CASE_BIT {
            break;
        }
        reacted.pop();
        from += 1;
    }
    let rest = &part[from..];
    if reacted.capacity() - reacted.len() < rest.len() {
        let more = rest.len().max(reacted.capacity());
        let kept = std::mem::take(reacted);
        *reacted = reserve(kept, more)?;
        crate::memory::advise_huge_pages(reacted.spare_capacity_mut());
    }
    reacted.extend_from_slice(rest);
    Ok(())
}

/// `buffer` with room for `additional` more bytes, or an error that says
/// memory ran out.
fn reserve(mut buffer: Vec<u8>, additional: usize) -> io::Result<Vec<u8>> {
    crate::memory::reserve_exact(&mut buffer, additional).map_err(|_| {
        crate::memory::exhausted(format_args!(
            "with {} bytes reacted (the reacted polymer must fit in memory)",
            buffer.len()
        ))
    })?;
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Trickle, adversarial};
    use super::super::{react_with_plain_stack, validate};
    use super::*;
    use proptest::prelude::*;

    /// What reading and reacting must give: validation, removal and the
    /// textbook stack, one after the other.
    fn expected(raw: &[u8], without: Option<UnitType>) -> Result<(Vec<u8>, usize), InvalidUnit> {
        let units = validate(raw)?;
        let kept: Vec<u8> = units
            .iter()
            .copied()
            .filter(|&u| without.is_none_or(|t| !t.matches(u)))
            .collect();
        Ok((react_with_plain_stack(&kept), units.len()))
    }

    fn streamed(
        raw: &[u8],
        threads: usize,
        without: Option<UnitType>,
        step: usize,
    ) -> Result<(Vec<u8>, usize), InvalidUnit> {
        let reaction = Reaction {
            threads: Some(threads),
            without,
            size_hint: raw.len(),
        };
        let mut observed = Vec::new();
        let reacted = react_while_reading(Trickle(raw, step), &reaction, &mut |units| {
            observed.extend_from_slice(units)
        })
        .unwrap()?;
        assert_eq!(
            observed,
            validate(raw).unwrap(),
            "every unit observed, in order"
        );
        Ok((reacted.polymer.into_units(), reacted.input_length))
    }

    /// Inputs that span several chunks and react across their seams: the
    /// adversarial shapes, repeated past a chunk, with and without a
    /// byte-order mark and trailing whitespace.
    #[test]
    fn long_inputs_react_across_chunk_seams_as_the_plain_stack_says() {
        // A chunk and more of one unit, then as many of its opposite: each
        // chunk of the second half cancels a whole chunk before it.
        let deep = [b"b".repeat(CHUNK + 7), b"B".repeat(CHUNK + 7)].concat();
        let raw = [&deep[..], b"xy"].concat();
        assert_eq!(
            streamed(&raw, 2, None, 1 << 16),
            Ok((b"xy".to_vec(), raw.len()))
        );
        for shape in adversarial() {
            if shape.is_empty() {
                continue;
            }
            let long = shape.repeat(2 * CHUNK / shape.len() + 3);
            for raw in [
                long.clone(),
                [b"\xEF\xBB\xBF", &long[..], b" \r\n"].concat(),
            ] {
                for (threads, without) in [(1, None), (3, None), (2, UnitType::from_ascii(b'a'))] {
                    assert_eq!(
                        streamed(&raw, threads, without, 1 << 16),
                        expected(&raw, without)
                    );
                }
            }
        }
    }

    #[test]
    fn a_bad_byte_in_a_later_chunk_is_reported_at_its_offset() {
        let mut raw = b"ab".repeat(CHUNK + 10);
        raw[CHUNK + 5] = b'7';
        assert_eq!(
            streamed(&raw, 2, None, 4096),
            Err(InvalidUnit {
                offset: CHUNK + 5,
                byte: b'7'
            })
        );
        // Whitespace that turns out not to be trailing, a chunk later.
        let mut raw = b"ab".repeat(CHUNK);
        raw[CHUNK - 1] = b'\n';
        raw[CHUNK..].fill(b' ');
        raw.push(b'x');
        assert_eq!(
            streamed(&raw, 1, None, 4096),
            Err(InvalidUnit {
                offset: CHUNK - 1,
                byte: b'\n'
            })
        );
    }

    #[test]
    fn every_core_is_asked_for_only_past_one_chunk_and_the_result_is_the_same() {
        let raw = crate::polymer::generate::polymer(3 * CHUNK + 12_345, 3);
        assert!(raw.iter().all(u8::is_ascii_alphabetic));
        for size in [1000, raw.len()] {
            let units = &raw[raw.len() - size..];
            let reaction = Reaction {
                threads: None,
                without: None,
                size_hint: 0,
            };
            let read = react_while_reading(units, &reaction, &mut |_| {})
                .unwrap()
                .unwrap();
            assert_eq!(read.polymer.units(), react_with_plain_stack(units));
            assert_eq!(read.input_length, size);
        }
    }

    #[test]
    fn an_endless_stream_of_non_letters_stops_at_once() {
        let reaction = Reaction {
            threads: Some(2),
            without: None,
            size_hint: 0,
        };
        let read = react_while_reading(io::repeat(0), &reaction, &mut |_| {}).unwrap();
        assert_eq!(read.unwrap_err(), InvalidUnit { offset: 0, byte: 0 });
    }

    proptest! {
        #[test]
        fn short_inputs_meet_the_rules_and_react_as_the_plain_stack_says(
            bytes in prop::collection::vec(
                prop_oneof![8 => prop::sample::select(b"aAbBzZ".to_vec()),
                    1 => prop::sample::select(b" \n\xEF\xBB\xBF".to_vec()),
                    1 => any::<u8>()],
                0..300,
            ),
            threads in 1usize..4,
            letter in prop::option::of(prop::sample::select(b"abz".to_vec())),
            step in 1usize..50,
        ) {
            let without = letter.and_then(UnitType::from_ascii);
            let raw = if threads == 3 { [b"\xEF\xBB\xBF", &bytes[..]].concat() } else { bytes };
            prop_assert_eq!(streamed(&raw, threads, without, step), expected(&raw, without));
        }
    }
}
