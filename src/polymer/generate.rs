//! Deterministic polymers with the character of real puzzle inputs: they
//! react to about a fifth of their length, and removing one "key" unit type
//! collapses them much further. Used by `examples/generate` and benchmarks.
//!
//! How: a seeded random walk over a stack of open units. Each step either
//! opens a unit (emits a random letter and pushes it) or closes the top one
//! (emits its opposite, which reacts with it). Some closes are preceded by a
//! unit of the key type, which sits between the pair and blocks the reaction
//! until the key type is removed. Key units all share one case, so they never
//! react with each other.

use std::io::{self, Write};

use super::unit::UnitType;

/// SplitMix64: tiny, fast and good enough to shape test data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Writes `units` units (no trailing newline) made from `seed`; the key unit
/// type is chosen by the seed unless given.
pub fn write_polymer(
    out: &mut impl Write,
    units: usize,
    seed: u64,
    key: Option<UnitType>,
) -> io::Result<()> {
    let mut rng = SplitMix(seed);
    let key = key.map_or_else(|| b'a' + (rng.next() % 26) as u8, |k| k.letter() as u8);
    let others: Vec<u8> = (b'a'..=b'z').filter(|&l| l != key).collect();
    let mut open: Vec<u8> = Vec::new();
    let mut remaining = units;
    while remaining > 0 {
        if !open.is_empty() && rng.chance(47) {
            let top = open.pop().unwrap_or_default();
            if remaining > 1 && rng.chance(3) {
                out.write_all(&[key.to_ascii_uppercase()])?;
                remaining -= 1;
            }
            out.write_all(&[top ^ 0x20])?;
        } else {
            let letter = others[(rng.next() % others.len() as u64) as usize];
            let mut unit = if rng.chance(50) {
                letter.to_ascii_uppercase()
            } else {
                letter
            };
            // Opening the opposite of the top would close it instead.
            if open.last() == Some(&(unit ^ 0x20)) {
                unit ^= 0x20;
            }
            open.push(unit);
            out.write_all(&[unit])?;
        }
        remaining -= 1;
    }
    Ok(())
}

/// A generated polymer in memory.
pub fn polymer(units: usize, seed: u64) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(units);
    write_polymer(&mut buffer, units, seed, None).expect("writing to a Vec cannot fail");
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_polymers_are_deterministic_valid_and_puzzle_like() {
        let units = polymer(50_000, 1);
        assert_eq!(units, polymer(50_000, 1));
        assert_ne!(units, polymer(50_000, 2));
        assert_eq!(units.len(), 50_000);
        let mut reacted = crate::polymer::Polymer::parse(units).unwrap();
        reacted.react();
        // Reacts to about a fifth, and one letter collapses it further.
        assert!(
            (8_000..12_000).contains(&reacted.len()),
            "{}",
            reacted.len()
        );
        let lengths = crate::polymer::lengths_without_each(reacted.units());
        let best = lengths.iter().min().unwrap();
        assert!(*best < reacted.len() / 2, "{lengths:?}");
    }

    #[test]
    fn the_shipped_50k_input_is_what_the_generator_makes() {
        let shipped = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/inputs/polymer-50k.txt"
        ))
        .unwrap();
        assert_eq!(shipped, [polymer(50_000, 1), b"\n".to_vec()].concat());
    }
}
