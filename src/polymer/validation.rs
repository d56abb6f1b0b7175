//! What a polymer is, checked once: a leading UTF-8 byte-order mark and
//! trailing whitespace (spaces, tabs, `\n`, `\r`) are dropped; every other
//! byte must be an ASCII letter. The empty polymer is valid.
//!
//! The rules are applied as bytes arrive ([`Arriving`]), so a stream that is
//! not a polymer (a binary file, `/dev/zero`) is refused at its first bad
//! byte instead of filling memory, and a valid input is read and checked in
//! one pass, each piece while it is still in the cache.

use std::io::{self, Read};
use std::ops::Range;

use super::Polymer;
use super::unit::{InvalidUnit, first_non_unit};

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Validates raw input in place and returns its units.
pub fn validate(raw: &[u8]) -> Result<&[u8], InvalidUnit> {
    let mut rules = Rules::default();
    rules.check(raw, true);
    let (start, end) = rules.bounds()?;
    Ok(&raw[start..end])
}

/// What would be the units of `raw` if it is a polymer: without a leading
/// byte-order mark and trailing whitespace. Nothing else is checked (for a
/// pass that checks them on its way, such as `sweep::length_checked`).
pub fn trimmed(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_prefix(BYTE_ORDER_MARK).unwrap_or(raw);
    let end = raw.len() - raw.iter().rev().take_while(|&b| is_whitespace(b)).count();
    &raw[..end]
}

/// Validates `raw`, reusing its buffer.
pub(super) fn parse(raw: Vec<u8>) -> Result<Polymer, InvalidUnit> {
    Arriving {
        raw,
        rules: Rules::default(),
    }
    .finish()
}

/// The rules of a polymer, applied to the input one piece after another:
/// to the pieces of a stream that keeps none of them
/// (`stream::react_while_reading`), or to what grows at the end of one
/// buffer ([`Arriving`]).
#[derive(Debug, Default)]
pub(super) struct Rules {
    /// Bytes of the input seen so far.
    seen: usize,
    /// Where the units start: after a byte-order mark, once seen.
    start: usize,
    /// Where trailing whitespace began, and its first byte, once seen: from
    /// there on only whitespace may follow.
    whitespace_from: Option<(usize, u8)>,
    /// What proves the input is not a polymer, once found.
    pub(super) invalid: Option<InvalidUnit>,
}

impl Rules {
    /// Where the units of the next `piece` of the input are: a range of the
    /// piece that holds ASCII letters only. A first piece shorter than a
    /// byte-order mark is taken as the whole input (see
    /// [`Rules::too_short_to_tell`]).
    pub(super) fn letters(&mut self, piece: &[u8]) -> Range<usize> {
        let base = self.seen;
        self.seen += piece.len();
        if self.invalid.is_some() {
            return 0..0;
        }
        if let Some((offset, byte)) = self.whitespace_from {
            // Anything but whitespace after it: the whitespace was not
            // trailing, and is the first bad byte.
            if !piece.iter().all(is_whitespace) {
                self.invalid = Some(InvalidUnit { offset, byte });
            }
            return 0..0;
        }
        let start = if base == 0 && piece.starts_with(BYTE_ORDER_MARK) {
            self.start = BYTE_ORDER_MARK.len();
            self.start
        } else {
            0
        };
        // The common case, a run of letters, vectorised.
        let end = start + first_non_unit(&piece[start..]).unwrap_or(piece.len() - start);
        if let Some(&byte) = piece.get(end) {
            let offset = base + end;
            if is_whitespace(&byte) && piece[end..].iter().all(is_whitespace) {
                self.whitespace_from = Some((offset, byte));
            } else {
                // Not whitespace, or whitespace that is not trailing: the
                // first byte past the letters is the culprit either way.
                self.invalid = Some(InvalidUnit { offset, byte });
            }
        }
        start..end
    }

    /// Whether `raw`, the start of an input that may go on, is too short to
    /// say whether it starts with a byte-order mark.
    fn too_short_to_tell(&self, raw: &[u8]) -> bool {
        self.seen == 0 && raw.len() < BYTE_ORDER_MARK.len() && BYTE_ORDER_MARK.starts_with(raw)
    }

    /// Checks what `raw`, a buffer that grows at its end, holds past what
    /// was checked before. With `complete` false, a start that may still
    /// become a byte-order mark is left for later.
    fn check(&mut self, raw: &[u8], complete: bool) {
        if complete || !self.too_short_to_tell(raw) {
            self.letters(&raw[self.seen..]);
        }
    }

    /// Where the units of the input (all of it seen) start and end.
    fn bounds(&self) -> Result<(usize, usize), InvalidUnit> {
        match self.invalid {
            Some(invalid) => Err(invalid),
            None => Ok((
                self.start,
                self.whitespace_from.map_or(self.seen, |(offset, _)| offset),
            )),
        }
    }
}

fn is_whitespace(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// A polymer being read: each piece is validated as it lands in the buffer,
/// and the buffer becomes the [`Polymer`] without another pass.
#[derive(Debug)]
pub struct Arriving {
    raw: Vec<u8>,
    rules: Rules,
}

impl Arriving {
    /// Starts reading into `buffer` (emptied first; its capacity is kept).
    pub fn new(mut buffer: Vec<u8>) -> Arriving {
        buffer.clear();
        Arriving {
            raw: buffer,
            rules: Rules::default(),
        }
    }

    /// Reads up to `limit` bytes from `reader` into the buffer's spare
    /// capacity (growing it only if there is none) and validates them;
    /// returns how many were read, 0 at the end of the input.
    pub fn read_from(&mut self, reader: impl Read, limit: usize) -> io::Result<usize> {
        let read = reader.take(limit as u64).read_to_end(&mut self.raw)?;
        self.rules.check(&self.raw, false);
        Ok(read)
    }

    /// Whether the bytes so far already prove the input is not a polymer
    /// (reading further would change nothing).
    pub fn is_refused(&self) -> bool {
        self.rules.invalid.is_some()
    }

    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// Makes room for at least `additional` more bytes, or says there is no
    /// memory for them.
    pub fn try_reserve(
        &mut self,
        additional: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        crate::memory::reserve_exact(&mut self.raw, additional)
    }

    /// The room after the bytes read so far (for advice on its memory; what
    /// is written there is not part of the polymer until read).
    pub fn spare_capacity(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        self.raw.spare_capacity_mut()
    }

    /// The polymer read, or the first byte that makes it none.
    pub fn finish(mut self) -> Result<Polymer, InvalidUnit> {
        self.rules.check(&self.raw, true);
        let (start, end) = self.rules.bounds()?;
        self.raw.truncate(end);
        self.raw.drain(..start);
        Ok(Polymer { units: self.raw })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Trickle;
    use super::*;
    use proptest::prelude::*;

    /// Reads `input` `step` bytes at a time, stopping where the reading
    /// loop stops: at the end, or once the input is refused.
    fn read_in_steps(input: &[u8], step: usize) -> Result<Polymer, InvalidUnit> {
        let mut arriving = Arriving::new(Vec::new());
        let mut reader = Trickle(input, step);
        while !arriving.is_refused() && arriving.read_from(&mut reader, 5).unwrap() > 0 {}
        arriving.finish()
    }

    /// The rules, said once as plainly as possible: the reference.
    fn plain_rules(raw: &[u8]) -> Result<Vec<u8>, InvalidUnit> {
        let start = if raw.starts_with(BYTE_ORDER_MARK) {
            3
        } else {
            0
        };
        let mut end = raw.len();
        while end > start && matches!(raw[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
            end -= 1;
        }
        match raw[start..end]
            .iter()
            .position(|b| !b.is_ascii_alphabetic())
        {
            Some(p) => Err(InvalidUnit {
                offset: start + p,
                byte: raw[start + p],
            }),
            None => Ok(raw[start..end].to_vec()),
        }
    }

    #[test]
    fn reading_in_pieces_agrees_with_the_rules_on_edge_cases() {
        let mut long = vec![b'x'; 200];
        long[64] = b'@';
        for input in [
            &b""[..],
            b"\n",
            b"abC\r\n",
            b"abC \t \n\n",
            b"\xEF\xBB\xBFabC\n",
            b"\xEF\xBB\xBF",
            b"\xEF\xBB",
            b"\xEF",
            b"\xEF\xBBab",
            b"ab3",
            b"\xEF\xBB\xBFab3",
            b" ab",
            b"ab cd",
            b"ab\ncd\n",
            b"ab \x01",
            b"ab\xFF",
            b"ab\0\0\0",
            b"dabAcCaCBAcCcaDA",
            &long,
        ] {
            let expected = plain_rules(input);
            assert_eq!(validate(input).map(<[u8]>::to_vec), expected, "{input:?}");
            for step in [1, 2, 3, 7, 4096] {
                assert_eq!(
                    read_in_steps(input, step).map(Polymer::into_units),
                    expected
                );
            }
        }
    }

    #[test]
    fn an_endless_stream_of_non_letters_is_refused_at_its_first_byte() {
        let mut arriving = Arriving::new(Vec::new());
        arriving.read_from(io::repeat(0), 1 << 20).unwrap();
        assert!(arriving.is_refused());
        assert_eq!(arriving.finish(), Err(InvalidUnit { offset: 0, byte: 0 }));
    }

    proptest! {
        #[test]
        fn any_bytes_in_any_pieces_meet_the_rules(
            bytes in prop::collection::vec(
                prop_oneof![8 => prop::sample::select(b"aAzZ".to_vec()),
                    2 => prop::sample::select(b" \t\r\n".to_vec()),
                    1 => prop::sample::select(b"\xEF\xBB\xBF".to_vec()),
                    1 => any::<u8>()],
                0..300,
            ),
            bom in any::<bool>(),
            step in 1usize..70,
        ) {
            let input = if bom { [BYTE_ORDER_MARK, &bytes].concat() } else { bytes };
            let expected = plain_rules(&input);
            if let Ok(units) = &expected {
                prop_assert_eq!(trimmed(&input), &units[..]);
            }
            prop_assert_eq!(validate(&input).map(<[u8]>::to_vec), expected.clone());
            prop_assert_eq!(parse(input.clone()).map(Polymer::into_units), expected.clone());
            prop_assert_eq!(read_in_steps(&input, step).map(Polymer::into_units), expected);
        }
    }
}
