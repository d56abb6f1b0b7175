//! `reduce`: react a polymer with one unit type removed, write the length to a
//! result file. Run by hand, and by `orchestrate` as its child process.

use std::process::ExitCode;

use clap::Parser;
use polymer_fanout::protocol::Kernel;
use polymer_fanout::{input, protocol, reaction};

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
    protocol::mark_started();
    let mut polymer = input::load(&args.source())?;
    let length = match (args.kernel, args.letter) {
        (Kernel::Fast, Some(letter)) => {
            polymer.react_without(letter);
            polymer.len()
        }
        (Kernel::Fast, None) => {
            polymer.react();
            polymer.len()
        }
        (Kernel::PlainStack, letter) => {
            let kept: Vec<u8> = match letter {
                Some(letter) => polymer
                    .units()
                    .iter()
                    .copied()
                    .filter(|&u| !letter.matches(u))
                    .collect(),
                None => polymer.into_units(),
            };
            reaction::react_with_plain_stack(&kept).len()
        }
    };
    if let Some(path) = args.result_path() {
        protocol::write_result(&path, length)?;
    }
    if !args.quiet {
        println!("{length}");
    }
    Ok(())
}
