use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    hgsql::cli::run(hgsql::cli::Cli::parse()).await
}
