//! What the tests of this layer share: the reaction as the puzzle states
//! it, and polymers that react often.

use proptest::prelude::*;

use super::unit::CASE_BIT;

/// The reaction as the puzzle states it: find the first reacting pair,
/// delete it, start again. Quadratic, obviously right.
pub(crate) fn naive_react(units: &[u8]) -> Vec<u8> {
    let mut units = units.to_vec();
    while let Some(i) = units.windows(2).position(|w| w[0] ^ w[1] == CASE_BIT) {
        units.drain(i..i + 2);
    }
    units
}

/// Polymers over a few letters, so reactions are frequent.
pub(crate) fn polymer(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"aAbBcCdD".to_vec()), 0..max_len)
}

/// Deep nesting: `abc...CBA` everywhere, so whole chunks cancel across seams.
pub(crate) fn nested(depth: usize, copies: usize) -> Vec<u8> {
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

/// Inputs that stress the kernels and the sweep: nothing reacts, everything
/// reacts, whole chunks cancel across seams, and half of each.
pub(crate) fn adversarial() -> [Vec<u8>; 4] {
    let nothing_reacts: Vec<u8> = (0..50_000).map(|i| b'a' + (i % 26) as u8).collect();
    let everything_reacts: Vec<u8> = b"aA".repeat(25_000);
    let all_cancel_across_seams = nested(26, 2_000);
    let half_cancel = [nested(7, 3_000), nothing_reacts.clone()].concat();
    [
        nothing_reacts,
        everything_reacts,
        all_cancel_across_seams,
        half_cancel,
    ]
}

/// A reader that hands out its bytes a few at a time, as a pipe may.
pub(crate) struct Trickle<'a>(pub &'a [u8], pub usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(self.1).min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
