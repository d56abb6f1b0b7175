//! Units and unit types: what a polymer is made of, and how a byte that is
//! not a unit is reported. The one definition of the case bit lives here.

use std::fmt;

/// Two units react when they are the same letter in opposite cases. For ASCII
/// letters that is exactly when their codes differ only in bit 5 (`'a' ^ 'A'
/// == 0x20`), and no two different letters differ only in that bit.
pub(crate) const CASE_BIT: u8 = 0x20;

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

    /// Letters spelled in a given order (each a letter; order and
    /// duplicates kept), e.g. a job array's task order; `None` otherwise.
    pub fn parse_set_ordered(letters: &str) -> Option<Vec<UnitType>> {
        letters
            .bytes()
            .map(UnitType::from_ascii)
            .collect::<Option<Vec<_>>>()
    }

    /// Its place in the alphabet: 0 for `a` to 25 for `z`.
    pub fn index(self) -> usize {
        usize::from(self.0 - b'a')
    }

    /// The unit type at `index` in the alphabet (0 for `a`); `None` past 25.
    pub fn from_index(index: usize) -> Option<UnitType> {
        u8::try_from(index)
            .ok()
            .filter(|&i| i < 26)
            .map(|i| UnitType(b'a' + i))
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
        // `pad`, so that widths and alignment in format strings apply.
        f.pad(self.letter().encode_utf8(&mut [0; 4]))
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

#[inline]
pub(crate) fn is_unit(byte: u8) -> bool {
    (byte | CASE_BIT).wrapping_sub(b'a') < 26
}

/// Position of the first byte that is not an ASCII letter.
///
/// Checks whole blocks without an early exit so the compiler can vectorise the
/// common case (a valid gigabyte), then locates the culprit inside the block.
pub(crate) fn first_non_unit(bytes: &[u8]) -> Option<usize> {
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
mod tests {
    use super::*;

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
}
