//! Writes a deterministic polymer with the character of real puzzle inputs
//! to stdout (see `polymer_fanout::polymer::generate`).
//!
//! ```text
//! cargo run --release --example generate -- --units 100000000 --seed 1 > big.txt
//! ```

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use polymer_fanout::polymer::UnitType;
use polymer_fanout::polymer::generate;

#[derive(Parser)]
struct Args {
    /// Number of units to generate.
    #[arg(long, default_value_t = 50_000)]
    units: usize,
    /// Seed for the random walk; the same seed gives the same polymer.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The key unit type, whose removal collapses the polymer [default: chosen by the seed].
    #[arg(long)]
    key: Option<UnitType>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let result = generate::write_polymer(&mut out, args.units, args.seed, args.key)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("generate: error: could not write to stdout: {err}");
            ExitCode::FAILURE
        }
    }
}
