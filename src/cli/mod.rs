//! The command line: argument parsing and dispatch. No business logic lives here.

mod print;
mod sandbox_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::api::HgClient;
use crate::config::{Overrides, Settings};
use crate::sandbox::{Sandbox, SandboxConfig};
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
    /// Query the built-in HG sandbox (started in this process: synthetic companies, 25
    /// requests/s, ~30 ms per request) instead of the real API. No key needed.
    #[arg(long, conflicts_with_all = ["api_key", "base_url", "profile"])]
    pub sandbox: bool,
    /// HG API key (prefer the HG_API_KEY environment variable: flags show in `ps`).
    #[arg(long, value_name = "KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// HG API base URL (default: HG_BASE_URL, the config file, then the real API).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Profile of the config file to use (default: HG_PROFILE, then `default`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
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
    // Kept alive for the whole run: the session's client talks to it.
    let mut _sandbox = None;
    let session = if cli.sandbox {
        match start_sandbox().await {
            Ok((sandbox, client)) => {
                _sandbox = Some(sandbox);
                Session::with_client(client)
            }
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(exit::QUERY_ERROR);
            }
        }
    } else {
        let overrides = Overrides {
            api_key: cli.api_key.clone(),
            base_url: cli.base_url.clone(),
            profile: cli.profile.clone(),
            config_file: None,
        };
        let settings = match Settings::from_env(&overrides) {
            Ok(settings) => settings,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::USAGE);
            }
        };
        let client = settings
            .client_config()
            .map_err(|e| e.to_string())
            .and_then(|config| HgClient::new(config).map_err(|e| e.to_string()));
        Session::build(client, Default::default())
    };
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

/// The in-process sandbox `--sandbox` queries, and a client for it. Requests get ~30 ms of
/// latency and HG's rate limit, so timings look like the real API's.
async fn start_sandbox() -> Result<(Sandbox, HgClient), String> {
    let config = SandboxConfig {
        latency: std::time::Duration::from_millis(25),
        jitter: std::time::Duration::from_millis(10),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.map_err(|e| format!("the sandbox did not start: {e}"))?;
    let key = crate::api::ApiKey::new(sandbox.key());
    let client = HgClient::new(crate::api::ClientConfig::new(sandbox.base_url(), key)).map_err(|e| e.to_string())?;
    Ok((sandbox, client))
}
