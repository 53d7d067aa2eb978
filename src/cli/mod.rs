//! The command line: argument parsing and dispatch. No business logic lives here.

mod print;
mod sandbox_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::session::Session;

/// Query the HG Insights company-data API with SQL.
#[derive(Parser, Debug)]
#[command(name = "hgsql", version, about, long_about = None)]
pub struct Cli {
    /// Run this SQL (repeatable; statements run in order).
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub commands: Vec<String>,
    /// Run the SQL in this file (repeatable).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the built-in HG API sandbox server, or dump its data set as Parquet.
    Sandbox(sandbox_cmd::SandboxArgs),
}

/// Process exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    /// SQL, planning or bad input.
    pub const QUERY_ERROR: u8 = 1;
    /// Bad command-line usage.
    pub const USAGE: u8 = 2;
}

/// Runs the command line and returns the exit code.
pub async fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Sandbox(args)) = cli.command {
        return sandbox_cmd::run(args).await;
    }
    if cli.commands.is_empty() && cli.files.is_empty() {
        eprintln!("error: nothing to run; give SQL with -c 'SELECT …' or a file with -f FILE.sql (see hgsql --help)");
        return ExitCode::from(exit::USAGE);
    }
    let session = Session::new();
    let mut scripts: Vec<(String, String)> = cli.commands.iter().map(|c| ("-c".to_string(), c.clone())).collect();
    for file in &cli.files {
        match std::fs::read_to_string(file) {
            Ok(sql) => scripts.push((file.display().to_string(), sql)),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                return ExitCode::from(exit::QUERY_ERROR);
            }
        }
    }
    for (origin, sql) in scripts {
        match session.run(&sql).await {
            Ok(results) => {
                for result in results {
                    print::table(&result);
                }
            }
            Err(e) => {
                eprintln!("error in {origin}: {e}");
                return ExitCode::from(exit::QUERY_ERROR);
            }
        }
    }
    ExitCode::from(exit::OK)
}
