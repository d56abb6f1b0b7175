//! `reduce`: react a polymer with one unit type removed, write the length to a
//! result file. Run by hand, and by `orchestrate` as its child process.

use std::process::ExitCode;

use clap::Parser;
use polymer_fanout::{input, protocol};

fn main() -> ExitCode {
    let args = protocol::ReduceArgs::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("reduce: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &protocol::ReduceArgs) -> anyhow::Result<()> {
    let mut polymer = input::load(&args.source())?;
    match args.letter {
        Some(letter) => polymer.react_without(letter),
        None => polymer.react(),
    }
    if let Some(path) = args.result_path() {
        protocol::write_result(&path, polymer.len())?;
    }
    if !args.quiet {
        println!("{}", polymer.len());
    }
    Ok(())
}
