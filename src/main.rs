use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    pgshift::cli::run(pgshift::cli::Cli::parse())
}
