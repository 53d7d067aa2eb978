//! The command line: argument parsing and dispatch. No business logic lives here: statements
//! run through [`crate::session::Session`]; this module decides where their text comes from
//! (`-c`, `-f`, stdin, the REPL) and where their rows go (stdout in a format, or `-o FILE`).

mod cache_cmd;
mod commands;
mod connect;
mod doctor;
mod errors;
mod exec;
mod format;
mod helper;
mod output;
mod probe;
mod progress;
mod repl;
mod sandbox_cmd;
mod worker_cmd;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use exec::{Destination, PrintOptions};
pub use format::Format;
use output::OutputFile;

/// Query the HG Insights company-data API with SQL.
///
/// With no -c or -f, hgsql reads SQL from stdin, or opens the REPL on a terminal.
#[derive(Parser, Debug)]
#[command(name = "hgsql", version, about, long_about = None)]
pub struct Cli {
    /// Run this SQL (repeatable; runs in command-line order with -f).
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub commands: Vec<String>,
    /// Run the SQL in this file (repeatable; statements run in order, the first error stops).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// How results are printed on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Save the last statement's result to FILE (.parquet, .csv, .json or .ndjson) instead of
    /// printing it. The file appears only when the statement completed.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rows the table format shows at most (0 = all). Default: all in scripts, 40 in the REPL.
    #[arg(long, value_name = "N")]
    pub maxrows: Option<usize>,
    /// After each statement, print rows, time, HG calls, cache hits and credits on stderr.
    #[arg(long)]
    pub timing: bool,
    /// Run without making a charged HG request: local work and free calls (match, search,
    /// catalog) run, and hgsql reports the charged requests and credits the SQL would take given
    /// the cache. Prints no results and writes no file.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub connection: ConnectionFlags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which HG API to use: the flags of queries and of `doctor`. They are not global: each
/// subcommand's help lists the flags it takes, and `hgsql sandbox --sandbox` is an error.
#[derive(Args, Debug, Clone, Default)]
pub struct ApiFlags {
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
    /// HG API version to speak: v1 or v2 (default: HG_API_VERSION, the profile's api_version,
    /// then what the key says: `hg_v2_…` keys are v2; then the base URL; then v1).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub api_version: Option<crate::api::ApiVersion>,
    /// Profile of the config file to use (default: HG_PROFILE, then `default`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

impl ApiFlags {
    /// These flags, with what `before` (the flags given ahead of a subcommand, `hgsql --sandbox
    /// doctor`) says where these say nothing.
    pub fn or(&self, before: &ApiFlags) -> ApiFlags {
        ApiFlags {
            sandbox: self.sandbox || before.sandbox,
            api_key: self.api_key.clone().or_else(|| before.api_key.clone()),
            base_url: self.base_url.clone().or_else(|| before.base_url.clone()),
            api_version: self.api_version.or(before.api_version),
            profile: self.profile.clone().or_else(|| before.profile.clone()),
        }
    }
}

/// What a session of queries is made with: the API, and the cache, init file and budget.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnectionFlags {
    #[command(flatten)]
    pub api: ApiFlags,
    /// Do not read or write the response cache ($XDG_CACHE_HOME/hgsql/cache.sqlite).
    #[arg(long, conflicts_with = "refresh")]
    pub no_cache: bool,
    /// Fetch again what the cache holds, and overwrite it.
    #[arg(long)]
    pub refresh: bool,
    /// Run this SQL file before anything else (e.g. CREATE EXTERNAL TABLE … STORED AS HTTP
    /// definitions). Default: $XDG_CONFIG_HOME/hgsql/init.sql when it exists.
    #[arg(short = 'r', long = "init", value_name = "FILE", conflicts_with = "no_init")]
    pub init: Option<PathBuf>,
    /// Do not run the default init.sql.
    #[arg(long)]
    pub no_init: bool,
    /// Spend at most N credits in this run: a request that could pass it is not sent and the
    /// query stops, saying what it still needs (also `SET hg.max_credits = N`).
    #[arg(long, value_name = "N")]
    pub max_credits: Option<u64>,
    #[command(flatten)]
    pub cluster: ClusterFlags,
}

/// Where queries run: on this machine, or across `hgsql worker` processes (docs/distributed.md).
/// This process stays the one that holds the HG key and makes every HG call.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterFlags {
    /// Plan queries across these workers (started with `hgsql worker`): URL[,URL…]. Default:
    /// HGSQL_WORKERS, then the profile's `workers`. Worker traffic is unencrypted: keep it on
    /// loopback or a private network.
    #[arg(long, value_name = "URL[,URL…]")]
    pub workers: Option<String>,
    /// Where this process listens for its workers, which pull from it (default 127.0.0.1:0 when
    /// every worker is on this machine; required otherwise).
    #[arg(long, value_name = "ADDR:PORT")]
    pub coordinator_listen: Option<std::net::SocketAddr>,
    /// The URL workers reach this process at, when it is not the address it listens on.
    #[arg(long, value_name = "URL")]
    pub coordinator_advertise: Option<url::Url>,
    /// The environment variable holding the token the workers were started with (their
    /// --token-env): it is sent to every worker, never printed.
    #[arg(long, value_name = "NAME")]
    pub token_env: Option<String>,
}

fn parse_version(text: &str) -> Result<crate::api::ApiVersion, String> {
    crate::api::ApiVersion::parse(text)
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the built-in HG API sandbox server, or dump its data set as Parquet.
    Sandbox(sandbox_cmd::SandboxArgs),
    /// Show where each setting comes from, reach the API with a free call, and report its rate
    /// limit and remaining credits. Never shows the key.
    Doctor(DoctorArgs),
    /// Show what the response cache holds, or empty it.
    Cache(cache_cmd::CacheArgs),
    /// Run a worker that other hgsql processes plan queries across (`--workers`): it scans,
    /// joins and aggregates local data, and never holds an HG key or calls HG.
    Worker(worker_cmd::WorkerArgs),
}

/// `hgsql doctor`'s own flags.
#[derive(Args, Debug, Default)]
pub struct DoctorArgs {
    /// Also make a few more free calls (v2: the balance, one match, one estimate; v1: the
    /// catalog, one match) and list every difference between what HG sent and the shapes
    /// hgsql expects: a key missing, a key it does not know, a value of another type.
    #[arg(long)]
    pub probe: bool,
    #[command(flatten)]
    pub api: ApiFlags,
    /// Also check that each of these workers is reachable and runs this hgsql build (default:
    /// HGSQL_WORKERS, then the profile's `workers`).
    #[arg(long, value_name = "URL[,URL…]")]
    pub workers: Option<String>,
}

/// Process exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    /// SQL, planning or bad input.
    pub const QUERY_ERROR: u8 = 1;
    /// Bad command-line usage.
    pub const USAGE: u8 = 2;
    /// The HG API: no key, key refused, not entitled, credits exhausted, retries exhausted.
    pub const HG_API: u8 = 3;
    /// A webhook did not take every row: rejected, refused, failed or of unknown outcome, or
    /// the destination was refused (`on_error 'continue'` makes a run with such rows succeed).
    pub const DELIVERY: u8 = 4;
    /// A worker (`--workers`): unreachable, of another hgsql build, or lost mid-query.
    pub const WORKERS: u8 = 5;
    /// Ctrl-C stopped a script (SIGTERM 143, SIGHUP 129).
    pub const INTERRUPTED: u8 = 130;
    /// Stdout was closed before the script's last statement (as SIGPIPE would report).
    pub const CLOSED_OUTPUT: u8 = 141;
}

/// Parses the process arguments and runs; the exit code to return.
pub async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let order = script_order(&cli, &matches);
    run(cli, order).await
}

/// Where a script's text comes from.
#[derive(Clone, Debug)]
pub enum ScriptSource {
    Command(usize),
    File(usize),
    Stdin,
}

/// `-c` and `-f` in the order they were given.
fn script_order(cli: &Cli, matches: &ArgMatches) -> Vec<ScriptSource> {
    let mut order: Vec<(usize, ScriptSource)> = Vec::new();
    if let Some(indices) = matches.indices_of("commands") {
        order.extend(indices.enumerate().map(|(i, at)| (at, ScriptSource::Command(i))));
    }
    if let Some(indices) = matches.indices_of("files") {
        order.extend(indices.enumerate().map(|(i, at)| (at, ScriptSource::File(i))));
    }
    order.sort_by_key(|(at, _)| *at);
    let mut order: Vec<ScriptSource> = order.into_iter().map(|(_, s)| s).collect();
    if order.is_empty() && cli.command.is_none() && !std::io::stdin().is_terminal() {
        order.push(ScriptSource::Stdin);
    }
    order
}

/// Runs the command line with its scripts in `order` and returns the exit code.
pub async fn run(cli: Cli, order: Vec<ScriptSource>) -> ExitCode {
    init_logging();
    match &cli.command {
        Some(Command::Sandbox(_)) => {
            let Some(Command::Sandbox(args)) = cli.command else { unreachable!() };
            return sandbox_cmd::run(args).await;
        }
        Some(Command::Doctor(args)) => {
            let flags = args.api.or(&cli.connection.api);
            let workers = args.workers.clone().or_else(|| cli.connection.cluster.workers.clone());
            return ExitCode::from(doctor::run(&flags, args.probe, workers).await);
        }
        Some(Command::Cache(args)) => return ExitCode::from(cache_cmd::run(args)),
        Some(Command::Worker(args)) => return worker_cmd::run(args).await,
        None => {}
    }
    let output = match cli.output.as_deref().map(OutputFile::parse).transpose() {
        Ok(output) => output,
        Err(message) => return fail(exit::USAGE, &message),
    };
    if order.is_empty() {
        if output.is_some() {
            return fail(exit::USAGE, "-o needs statements to run: give -c SQL, -f FILE.sql or SQL on stdin");
        }
        if cli.dry_run {
            // The REPL would print the stand-in rows a dry run answers with as if they were data.
            return fail(exit::USAGE, "--dry-run previews scripts: give -c SQL, -f FILE.sql or SQL on stdin");
        }
        let connection = match connect::connect(&cli.connection, cli.dry_run).await {
            Ok(connection) => connection,
            Err((code, message)) => return fail(code, &message),
        };
        return ExitCode::from(repl::run(&connection, &cli).await);
    }
    // Read every script before running anything: a missing file stops the run before it spends.
    let several_commands = cli.commands.len() > 1;
    let mut statements = Vec::new();
    for source in &order {
        let (origin, text) = match source {
            ScriptSource::Command(i) => (several_commands.then(|| format!("-c #{}", i + 1)), cli.commands[*i].clone()),
            ScriptSource::File(i) => {
                let path = &cli.files[*i];
                match std::fs::read_to_string(path) {
                    Ok(text) => (Some(path.display().to_string()), text),
                    Err(e) => return fail(exit::QUERY_ERROR, &format!("cannot read {}: {e}", path.display())),
                }
            }
            ScriptSource::Stdin => {
                let mut text = String::new();
                if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                    return fail(exit::QUERY_ERROR, &format!("cannot read SQL from stdin: {e}"));
                }
                (Some("stdin".to_string()), text)
            }
        };
        let split = crate::script::split(&text);
        // Where a failing statement is: `file:line: `, or nothing for a lone -c statement.
        let locate = |line: usize| match &origin {
            Some(origin) => format!("{origin}:{line}: "),
            None if split.len() > 1 => format!("-c line {line}: "),
            None => String::new(),
        };
        statements.extend(split.iter().map(|s| (locate(s.line), s.clone())));
    }
    if statements.is_empty() {
        if output.is_some() {
            return fail(exit::USAGE, "-o needs a statement whose result it saves; the SQL given has none");
        }
        return ExitCode::from(exit::OK);
    }
    // From here on Ctrl-C cancels the running statement instead of killing the process midway.
    let mut interrupts = exec::Interrupts::listen();
    let connection = match connect::connect(&cli.connection, cli.dry_run).await {
        Ok(connection) => connection,
        Err((code, message)) => return fail(code, &message),
    };
    let options = PrintOptions {
        format: cli.format,
        max_rows: cli.maxrows.filter(|&n| n > 0),
        timing: cli.timing,
        progress: PrintOptions::terminal_progress(cli.format),
    };
    let last = statements.len() - 1;
    for (i, (origin, statement)) in statements.iter().enumerate() {
        let destination = match (&output, i == last) {
            _ if cli.dry_run => Destination::Discard,
            (Some(file), true) => Destination::File(file),
            _ => Destination::Stdout,
        };
        match exec::run_statement(&connection.session, &statement.text, destination, &options, &mut interrupts).await {
            Ok(done) => {
                // On a terminal only: a script's stderr carries warnings and errors alone.
                if let (Some(file), true, true) = (&output, i == last, std::io::stderr().is_terminal()) {
                    eprintln!("wrote {} rows to {}", done.rows, file.path.display());
                }
            }
            Err(exec::Failure::ClosedOutput) if i < last => {
                // `| head`: the reader has what it wanted, but the script did not run to its end.
                eprintln!(
                    "warning: stdout was closed; {} statements after {origin}line {} did not run",
                    last - i,
                    statement.line
                );
                return ExitCode::from(exit::CLOSED_OUTPUT);
            }
            Err(failure) => {
                exec::flush_stdout();
                if let Some(message) = failure.message(statement) {
                    eprintln!("error: {origin}{message}");
                }
                return ExitCode::from(failure.exit_code());
            }
        }
    }
    exec::flush_stdout();
    if cli.dry_run {
        eprintln!("{}", exec::dry_run_report(&connection.session));
    }
    ExitCode::from(exit::OK)
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// Warnings and errors from the library on stderr; `HGSQL_LOG` (e.g. `debug`) shows more. The
/// key is a secret type and never reaches a log line; DataFusion's own plan logs, which repeat
/// the statement's text, stay at `info`.
/// Colours only on a terminal (and not under `NO_COLOR`), so a script's log holds no escape
/// codes; timestamps only when `HGSQL_LOG` asks for a trace.
fn init_logging() {
    use std::io::IsTerminal;
    let asked = std::env::var_os("HGSQL_LOG").is_some();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HGSQL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
        // DataFusion's and the SQL parser's debug logs print whole plans and statements, with
        // what was typed into them (a webhook URL, a refused token): not even at HGSQL_LOG=trace.
        .add_directive("datafusion=info".parse().expect("a directive"))
        .add_directive("sqlparser=info".parse().expect("a directive"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi);
    let _ = if asked { logger.try_init() } else { logger.without_time().try_init() };
}
