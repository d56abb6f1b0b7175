//! The polymer domain, pure: no file or process I/O lives here.
//!
//! - [`unit`]: unit types, the case bit, and what an invalid byte is;
//! - `validation`: what a polymer is, checked once as the bytes arrive
//!   ([`Arriving`]) or on a whole buffer ([`validate`]);
//! - [`Polymer`]: raw bytes validated into a polymer, reacted in place (so an
//!   N-byte input needs about N bytes of memory), with one unit type removed;
//! - `kernel`: the reaction kernels behind [`Polymer`]'s methods (private:
//!   they rely on every byte being a letter, which only a [`Polymer`] proves);
//! - [`stream`]: a polymer reacted while it is read, chunk by chunk on
//!   every thread, never held whole;
//! - [`sweep`]: every letter's reacted length from one reacted polymer;
//! - [`generate`]: deterministic puzzle-like polymers for tests and benchmarks.
//!
//! Not here: reading input (`input`), result files (`protocol`).

pub mod generate;
mod kernel;
mod pairs;
pub mod stream;
pub mod sweep;
pub mod unit;
mod validation;

#[cfg(test)]
mod testing;

pub use kernel::{
    joined_length, react_with_plain_stack, react_without_into, react_without_onto,
    reacted_len_without_parallel,
};
pub use sweep::lengths_without_each;
pub use unit::{InvalidUnit, UnitType};
pub use validation::{Arriving, trimmed, validate};

/// A validated polymer: a buffer holding only ASCII letters. Every way to
/// make one validates, which is what lets the kernels skip bounds checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Polymer {
    units: Vec<u8>,
}

impl Polymer {
    /// Validates raw input, reusing its buffer: see [`validate`].
    pub fn parse(raw: Vec<u8>) -> Result<Polymer, InvalidUnit> {
        validation::parse(raw)
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

    /// Gives back the memory the polymer no longer uses (after a reaction
    /// shortened it): a gigabyte that reacted to a fifth keeps a fifth.
    pub fn shrink_to_fit(&mut self) {
        self.units.shrink_to_fit();
    }

    /// Fully reacts the polymer in place.
    pub fn react(&mut self) {
        // SAFETY: a `Polymer` holds only ASCII letters (every constructor
        // validates, and removal and reaction only drop units).
        let len = unsafe { kernel::react_in_place(&mut self.units) };
        self.units.truncate(len);
    }

    /// Fully reacts the polymer in place, with up to `threads` threads.
    pub fn react_parallel(&mut self, threads: usize) {
        // SAFETY: as in `react`.
        let len = unsafe { kernel::react_in_place_parallel(&mut self.units, threads) };
        self.units.truncate(len);
    }

    /// Removes every unit of `unit_type`, in place, keeping the order.
    pub fn remove(&mut self, unit_type: UnitType) {
        let kept = kernel::remove_in_place(&mut self.units, unit_type);
        self.units.truncate(kept);
    }

    /// Removes every unit of `unit_type` and fully reacts the rest, in place.
    /// A polymer that is already reacted (as orchestrate hands its children)
    /// reacts only where the removed units were: a compaction, not a
    /// reaction of the whole.
    pub fn react_without(&mut self, unit_type: UnitType) {
        if sweep::is_reacted(&self.units) {
            let len = sweep::remove_from_reacted(&mut self.units, unit_type.letter() as u8);
            self.units.truncate(len);
        } else {
            self.remove(unit_type);
            self.react();
        }
    }

    /// Whether the polymer is fully reacted already.
    pub fn is_reacted(&self) -> bool {
        sweep::is_reacted(&self.units)
    }

    /// The reacted length of this polymer without `unit_type`, computed in
    /// `scratch` (reused between calls, so a worker needs one buffer); an
    /// error when there is no memory for the scratch copy.
    pub fn reacted_len_without(
        &self,
        unit_type: UnitType,
        scratch: &mut Polymer,
    ) -> Result<usize, std::collections::TryReserveError> {
        react_without_into(&self.units, Some(unit_type), &mut scratch.units)?;
        Ok(scratch.len())
    }

    pub fn into_units(self) -> Vec<u8> {
        self.units
    }
}

impl Default for Polymer {
    /// The empty polymer.
    fn default() -> Self {
        Polymer { units: Vec::new() }
    }
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
    use super::testing::{naive_react, polymer};
    use super::*;
    use proptest::prelude::*;

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

    fn react(units: &[u8]) -> Vec<u8> {
        let mut polymer = Polymer::parse(units.to_vec()).unwrap();
        polymer.react();
        polymer.into_units()
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
        let mut polymer = Polymer::parse(units.to_vec()).unwrap();
        polymer.remove(unit_type);
        polymer.into_units()
    }

    fn unit(letter: char) -> UnitType {
        letter.to_string().parse().unwrap()
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
        assert_eq!(
            validate(input).map(<[u8]>::to_vec),
            parsed.clone().map(Polymer::into_units)
        );
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

        /// The public entry points take any bytes: what is not a polymer is
        /// refused, and what is one reacts as the plain stack says, on every
        /// path (soundness: no byte can reach the unchecked kernels).
        #[test]
        fn any_bytes_are_refused_or_react_correctly(
            bytes in prop::collection::vec(
                prop_oneof![4 => prop::sample::select(b"aAbBzZ".to_vec()), 1 => any::<u8>()],
                0..5_000,
            ),
            letter in prop::sample::select(b"abz".to_vec()),
        ) {
            let Ok(polymer) = Polymer::parse(bytes.clone()) else {
                prop_assert!(bytes.iter().any(|b| !b.is_ascii_alphabetic()));
                return Ok(());
            };
            let expected = react_with_plain_stack(polymer.units());
            let mut serial = polymer.clone();
            serial.react();
            prop_assert_eq!(serial.units(), &expected[..]);
            let mut parallel = polymer.clone();
            parallel.react_parallel(3);
            prop_assert_eq!(parallel.units(), &expected[..]);
            let unit_type = UnitType::from_ascii(letter).unwrap();
            let mut scratch = Polymer::default();
            let mut without = polymer.clone();
            without.remove(unit_type);
            prop_assert_eq!(
                polymer.reacted_len_without(unit_type, &mut scratch).unwrap(),
                react_with_plain_stack(without.units()).len()
            );
        }
    }
}
