//! The polymer domain: validating raw bytes into a polymer, the reaction,
//! and removing one unit type.
//!
//! Everything here is pure and allocation-free on the hot paths: the reaction
//! runs in place in the buffer the input was read into, so an N-byte input
//! needs about N bytes of memory. No file or process I/O lives here; see
//! `input` for reading and `protocol` for the result files.

use std::fmt;

use crate::reaction;

/// Two units react when they are the same letter in opposite cases. For ASCII
/// letters that is exactly when their codes differ only in bit 5 (`'a' ^ 'A'
/// == 0x20`), and no two different letters differ only in that bit.
const CASE_BIT: u8 = 0x20;

/// One of the 26 unit types (a letter, regardless of case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitType(u8);

impl UnitType {
    /// All 26 unit types, `a` to `z`.
    pub fn all() -> impl Iterator<Item = UnitType> {
        (b'a'..=b'z').map(UnitType)
    }

    /// The unit type of an ASCII letter in either case; `None` for anything else.
    pub fn from_ascii(byte: u8) -> Option<UnitType> {
        byte.is_ascii_alphabetic()
            .then_some(UnitType(byte.to_ascii_lowercase()))
    }

    /// A set of unit types spelled as letters, e.g. `aeiou`: case-insensitive,
    /// duplicates ignored, returned in alphabetical order.
    pub fn parse_set(letters: &str) -> Result<Vec<UnitType>, String> {
        if letters.is_empty() {
            return Err("expected at least one letter".into());
        }
        let mut set = letters
            .chars()
            .map(|c| {
                u8::try_from(c)
                    .ok()
                    .and_then(UnitType::from_ascii)
                    .ok_or_else(|| format!("'{c}' is not a letter (expected A-Z or a-z)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        set.sort();
        set.dedup();
        Ok(set)
    }

    /// The lowercase letter that names this unit type.
    pub fn letter(self) -> char {
        char::from(self.0)
    }

    /// Whether `unit` (a validated polymer unit) is of this type.
    #[inline]
    pub fn matches(self, unit: u8) -> bool {
        unit | CASE_BIT == self.0
    }
}

impl fmt::Display for UnitType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl std::str::FromStr for UnitType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.as_bytes() {
            [byte] => UnitType::from_ascii(*byte)
                .ok_or_else(|| format!("'{s}' is not a letter (expected one of A-Z or a-z)")),
            _ => Err(format!(
                "'{s}' is not a single letter (expected one of A-Z or a-z)"
            )),
        }
    }
}

/// A byte that is not a polymer unit, found while validating input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUnit {
    /// Offset of the byte from the start of the input, counting any byte-order mark.
    pub offset: usize,
    pub byte: u8,
}

impl fmt::Display for InvalidUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte offset {}: ", self.offset)?;
        if self.byte.is_ascii_graphic() || self.byte == b' ' {
            write!(f, "'{}'", char::from(self.byte))?;
        } else if self.byte.is_ascii() {
            write!(f, "'{}'", self.byte.escape_ascii())?;
        } else {
            write!(f, "0x{:02x}", self.byte)?;
        }
        write!(f, " is not a polymer unit (expected A-Z or a-z)")
    }
}

impl std::error::Error for InvalidUnit {}

/// A validated polymer: a buffer holding only ASCII letters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Polymer {
    units: Vec<u8>,
}

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

impl Polymer {
    /// Validates raw input, reusing its buffer.
    ///
    /// A leading UTF-8 byte-order mark and trailing whitespace (spaces, tabs,
    /// `\n`, `\r`) are dropped; every other byte must be an ASCII letter. The
    /// empty polymer is valid.
    pub fn parse(mut raw: Vec<u8>) -> Result<Polymer, InvalidUnit> {
        let start = if raw.starts_with(BYTE_ORDER_MARK) {
            BYTE_ORDER_MARK.len()
        } else {
            0
        };
        let end = raw.len()
            - raw[start..]
                .iter()
                .rev()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
        if let Some(position) = first_non_unit(&raw[start..end]) {
            let offset = start + position;
            return Err(InvalidUnit {
                offset,
                byte: raw[offset],
            });
        }
        raw.truncate(end);
        raw.drain(..start);
        Ok(Polymer { units: raw })
    }

    pub fn units(&self) -> &[u8] {
        &self.units
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Fully reacts the polymer in place.
    pub fn react(&mut self) {
        let len = reaction::react_in_place(&mut self.units);
        self.units.truncate(len);
    }

    /// Fully reacts the polymer in place, with up to `threads` threads.
    pub fn react_parallel(&mut self, threads: usize) {
        let len = reaction::react_in_place_parallel(&mut self.units, threads);
        self.units.truncate(len);
    }

    /// Removes every unit of `unit_type` and fully reacts the rest, in place.
    pub fn react_without(&mut self, unit_type: UnitType) {
        let kept = reaction::remove_in_place(&mut self.units, unit_type);
        self.units.truncate(kept);
        self.react();
    }

    pub fn into_units(self) -> Vec<u8> {
        self.units
    }
}

#[inline]
fn is_unit(byte: u8) -> bool {
    (byte | CASE_BIT).wrapping_sub(b'a') < 26
}

/// Position of the first byte that is not an ASCII letter.
///
/// Checks whole blocks without an early exit so the compiler can vectorise the
/// common case (a valid gigabyte), then locates the culprit inside the block.
fn first_non_unit(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 64;
    let mut blocks = bytes.chunks_exact(BLOCK);
    for (index, block) in (&mut blocks).enumerate() {
        if !block.iter().fold(true, |all, &b| all & is_unit(b)) {
            let within = block.iter().position(|&b| !is_unit(b))?;
            return Some(index * BLOCK + within);
        }
    }
    let tail = bytes.len() - blocks.remainder().len();
    blocks
        .remainder()
        .iter()
        .position(|&b| !is_unit(b))
        .map(|within| tail + within)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reaction as the puzzle states it: find the first reacting pair,
    /// delete it, start again. Quadratic, obviously right.
    pub(crate) fn naive_react(units: &[u8]) -> Vec<u8> {
        let mut units = units.to_vec();
        while let Some(i) = units.windows(2).position(|w| w[0] ^ w[1] == CASE_BIT) {
            units.drain(i..i + 2);
        }
        units
    }

    fn react(units: &[u8]) -> Vec<u8> {
        let mut copy = units.to_vec();
        let len = reaction::react_in_place(&mut copy);
        copy.truncate(len);
        copy
    }

    fn reacted_len_without(units: &[u8], unit_type: Option<UnitType>) -> usize {
        let mut polymer = Polymer::parse(units.to_vec()).unwrap();
        match unit_type {
            Some(unit_type) => polymer.react_without(unit_type),
            None => polymer.react(),
        }
        polymer.len()
    }

    fn without(units: &[u8], unit_type: UnitType) -> Vec<u8> {
        units
            .iter()
            .copied()
            .filter(|&u| !unit_type.matches(u))
            .collect()
    }

    fn unit(letter: char) -> UnitType {
        letter.to_string().parse().unwrap()
    }

    /// Polymers over a few letters, so reactions are frequent.
    pub(crate) fn polymer(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"aAbBcCdD".to_vec()), 0..max_len)
    }

    #[track_caller]
    fn case(input: &str, expected: &str) {
        assert_eq!(
            react(input.as_bytes()),
            expected.as_bytes(),
            "reacting {input:?}"
        );
    }

    #[test]
    fn reaction_table() {
        case("", "");
        case("a", "a");
        case("aA", "");
        case("Aa", "");
        case("aa", "aa");
        case("AA", "AA");
        case("abBA", "");
        case("abAB", "abAB");
        case("aabAAB", "aabAAB");
        case("dabAcCaCBAcCcaDA", "dabCBAcaDA");
        case("zZ", "");
        case("aZ", "aZ");
    }

    #[test]
    fn the_worked_example_gives_each_letter_its_length() {
        let example = b"dabAcCaCBAcCcaDA";
        for (letter, expected) in [('a', 6), ('b', 8), ('c', 4), ('d', 6), ('e', 10)] {
            assert_eq!(
                reacted_len_without(example, Some(unit(letter))),
                expected,
                "{letter}"
            );
        }
        assert_eq!(reacted_len_without(example, None), 10);
    }

    #[test]
    fn reaction_matches_the_naive_reference_on_random_polymers() {
        // A fixed linear congruential sequence: thousands of small polymers,
        // reproducible without a seed in the output.
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..5_000 {
            let len = next() % 40;
            let units: Vec<u8> = (0..len).map(|_| b"aAbBcC"[next() % 6]).collect();
            assert_eq!(
                react(&units),
                naive_react(&units),
                "reacting {:?}",
                units.escape_ascii().to_string()
            );
        }
    }

    #[track_caller]
    fn parse_case(input: &[u8], expected: Result<&str, (usize, u8)>) {
        let parsed = Polymer::parse(input.to_vec());
        match expected {
            Ok(units) => assert_eq!(
                parsed.map(|p| p.into_units()),
                Ok(units.as_bytes().to_vec())
            ),
            Err((offset, byte)) => assert_eq!(parsed, Err(InvalidUnit { offset, byte })),
        }
    }

    #[test]
    fn parsing_table() {
        parse_case(b"", Ok(""));
        parse_case(b"\n", Ok(""));
        parse_case(b"abC\n", Ok("abC"));
        parse_case(b"abC\r\n", Ok("abC"));
        parse_case(b"abC \t \n\n", Ok("abC"));
        parse_case(b"\xEF\xBB\xBFabC\n", Ok("abC"));
        parse_case(b"\xEF\xBB\xBF", Ok(""));
        parse_case(b"ab3", Err((2, b'3')));
        parse_case(b"\xEF\xBB\xBFab3", Err((5, b'3')));
        parse_case(b" ab", Err((0, b' ')));
        parse_case(b"ab cd", Err((2, b' ')));
        parse_case(b"ab\ncd\n", Err((2, b'\n')));
        parse_case(b"ab\xFF", Err((2, 0xFF)));
        parse_case(b"ab\0", Err((2, 0)));
        parse_case(b"\xEF\xBBab", Err((0, 0xEF)));
        // The 65th byte is in the second validation block.
        let mut long = vec![b'x'; 100];
        long[64] = b'@';
        parse_case(&long, Err((64, b'@')));
    }

    #[test]
    fn invalid_units_are_described_readably() {
        let message = |byte| InvalidUnit { offset: 3, byte }.to_string();
        assert_eq!(
            message(b'3'),
            "byte offset 3: '3' is not a polymer unit (expected A-Z or a-z)"
        );
        assert_eq!(
            message(b'\t'),
            "byte offset 3: '\\t' is not a polymer unit (expected A-Z or a-z)"
        );
        assert_eq!(
            message(0xC3),
            "byte offset 3: 0xc3 is not a polymer unit (expected A-Z or a-z)"
        );
    }

    #[test]
    fn unit_types_parse_from_one_letter_of_either_case() {
        assert_eq!("c".parse::<UnitType>().map(UnitType::letter), Ok('c'));
        assert_eq!("C".parse::<UnitType>().map(UnitType::letter), Ok('c'));
        for bad in ["", "1", "ab", "é", "-"] {
            assert!(
                bad.parse::<UnitType>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert_eq!(UnitType::all().count(), 26);
    }

    #[test]
    fn letter_sets_are_case_insensitive_and_ignore_duplicates() {
        let set = |s: &str| {
            UnitType::parse_set(s).map(|v| v.iter().map(|u| u.letter()).collect::<String>())
        };
        assert_eq!(set("aeiou"), Ok("aeiou".into()));
        assert_eq!(set("uoieaAEIOU"), Ok("aeiou".into()));
        assert_eq!(set("Zz"), Ok("z".into()));
        assert!(set("").is_err());
        assert!(set("ab1").is_err());
        assert!(set("a,b").is_err());
        assert!(set("aé").is_err());
    }

    proptest! {
        #[test]
        fn reaction_agrees_with_the_naive_reference(units in polymer(64)) {
            prop_assert_eq!(react(&units), naive_react(&units));
        }

        #[test]
        fn reacting_twice_equals_reacting_once(units in polymer(200)) {
            let once = react(&units);
            prop_assert_eq!(react(&once), once);
        }

        #[test]
        fn removal_commutes_with_prior_reaction(units in polymer(200), letter in prop::sample::select(b"abcdz".to_vec())) {
            let unit_type = UnitType::from_ascii(letter).unwrap();
            let direct = react(&without(&units, unit_type));
            let after_prereaction = react(&without(&react(&units), unit_type));
            prop_assert_eq!(&direct, &after_prereaction);
            let mut in_place = Polymer::parse(units.clone()).unwrap();
            in_place.react_without(unit_type);
            prop_assert_eq!(in_place.units(), &direct[..]);
        }

        #[test]
        fn reaction_of_a_concatenation_is_reaction_of_the_reactions(left in polymer(100), right in polymer(100)) {
            let whole = react(&[left.clone(), right.clone()].concat());
            let parts = react(&[react(&left), react(&right)].concat());
            prop_assert_eq!(whole, parts);
        }
    }
}
