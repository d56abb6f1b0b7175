//! Generates a deterministic polymer with the character of real puzzle
//! inputs: it reacts to about a fifth of its length, and removing one "key"
//! unit type collapses it much further.
//!
//! ```text
//! cargo run --release --example generate -- --units 100000000 --seed 1 > big.txt
//! ```
//!
//! How: a seeded random walk over a stack of open units. Each step either
//! opens a unit (emits a random letter and pushes it) or closes the top one
//! (emits its opposite, which reacts with it). Some closes are preceded by a
//! unit of the key type, which sits between the pair and blocks the reaction
//! until the key type is removed. Key units all share one case, so they never
//! react with each other.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Number of units to generate.
    #[arg(long, default_value_t = 50_000)]
    units: usize,
    /// Seed for the random walk; the same seed gives the same polymer.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The key unit type [default: chosen by the seed].
    #[arg(long)]
    key: Option<char>,
}

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

fn main() -> ExitCode {
    let args = Args::parse();
    let mut rng = SplitMix(args.seed);
    let key = match args.key {
        Some(c) if c.is_ascii_alphabetic() => c.to_ascii_lowercase() as u8,
        Some(c) => {
            eprintln!("generate: error: --key {c:?} is not an ASCII letter");
            return ExitCode::from(2);
        }
        None => b'a' + (rng.next() % 26) as u8,
    };
    let others: Vec<u8> = (b'a'..=b'z').filter(|&l| l != key).collect();

    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let result = (|| -> std::io::Result<()> {
        let mut open: Vec<u8> = Vec::new();
        let mut remaining = args.units;
        while remaining > 0 {
            let close = !open.is_empty() && rng.chance(47);
            if close {
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
        writeln!(out)?;
        out.flush()
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("generate: error: could not write to stdout: {err}");
            ExitCode::FAILURE
        }
    }
}
