//! `hgsql sandbox`: the HG API sandbox as a standalone server, or `--dump DIR`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::exit;
use crate::sandbox::{self, Endpoint, Sandbox, SandboxConfig};

#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The API key the sandbox accepts.
    #[arg(long, default_value = sandbox::DEFAULT_KEY, hide_default_value = true)]
    key: String,
    /// Requests per second (0 = no limit).
    #[arg(long, default_value_t = 25.0)]
    rate: f64,
    /// Requests allowed at once before the rate applies.
    #[arg(long, default_value_t = 25)]
    burst: u32,
    /// Fixed latency added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Random extra latency of up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Share of requests (0–1) answered with an injected fault: 500, 503, truncated JSON,
    /// connection reset or a spurious 429.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Inject only this kind of fault (repeatable): 500, 503, truncated_json,
    /// connection_reset, 429. Default: every kind.
    #[arg(long, value_name = "KIND", value_parser = clap::value_parser!(sandbox::Fault))]
    fault_kind: Vec<sandbox::Fault>,
    /// Credit balance of the key.
    #[arg(long, default_value_t = 1_000_000)]
    credits: u64,
    /// Number of companies in the data set.
    #[arg(long, default_value_t = 20_000)]
    companies: usize,
    /// Seed of the data set and of the faults.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Deny the key an endpoint (repeatable): match, firmographic, installs, spend, intent,
    /// search, catalog.
    #[arg(long, value_name = "ENDPOINT")]
    deny: Vec<String>,
    /// Which HG API versions to serve, each under its own base path: v1, v2 or both. A v2
    /// request takes the key with `hg_v2_` in front.
    #[arg(long, default_value = "both", value_parser = parse_versions)]
    api: sandbox::Versions,
    /// v2: the most companies one enrich request may carry (HG documents 25).
    #[arg(long, default_value_t = 25, value_name = "N")]
    v2_max_batch: usize,
    /// v2: answer enrich in an order of its own, not the input's.
    #[arg(long)]
    v2_shuffle: bool,
    /// v2: give an unknown company an entry with null field groups instead of leaving it out.
    #[arg(long)]
    v2_stubs: bool,
    /// v2: use the older field spellings (url, city, state, industry, sic_code, product,
    /// product_intensity).
    #[arg(long)]
    v2_old_spellings: bool,
    /// v2: send no x-credits-remaining header (the balance is then only in GET /credits).
    #[arg(long)]
    v2_no_credits_header: bool,
    /// Requests per second the generic REST API under /rest allows (0 = no limit); over it,
    /// a 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    rest_rate: f64,
    /// Share (0–1) of accepted webhook posts (/webhook/ID) whose connection is reset before the
    /// answer: the rows arrived, the sender cannot know it.
    #[arg(long, default_value_t = 0.0)]
    webhook_lost_rate: f64,
    /// Rows a second the webhook receivers take together, as Clay does (0 = no limit); over it,
    /// a 429 with Retry-After.
    #[arg(long, default_value_t = sandbox::webhook::ROWS_PER_SECOND)]
    webhook_rate: f64,
    /// Write the data set as Parquet files into DIR and exit instead of serving.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
}

fn parse_versions(text: &str) -> Result<sandbox::Versions, String> {
    sandbox::Versions::parse(text).ok_or_else(|| format!("'{text}' is not an API version: use v1, v2 or both"))
}

pub async fn run(args: SandboxArgs) -> ExitCode {
    if let Some(dir) = &args.dump {
        return match sandbox::dump(args.seed, args.companies, dir) {
            Ok(files) => {
                for file in files {
                    println!("{}", file.display());
                }
                ExitCode::from(exit::OK)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(exit::QUERY_ERROR)
            }
        };
    }
    let mut deny = Vec::new();
    for name in &args.deny {
        match Endpoint::parse_list(name) {
            Some(endpoints) => deny.extend(endpoints),
            None => {
                eprintln!(
                    "error: --deny {name}: unknown endpoint; use one of match, firmographic, installs, spend, intent, search, catalog"
                );
                return ExitCode::from(exit::USAGE);
            }
        }
    }
    let config = SandboxConfig {
        port: args.port,
        key: args.key,
        rate: (args.rate > 0.0).then_some(args.rate),
        burst: args.burst,
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        fault_rate: args.fault_rate,
        fault_kinds: args.fault_kind,
        credits: Some(args.credits),
        companies: args.companies,
        seed: args.seed,
        deny,
        api: args.api,
        v2: sandbox::v2::Quirks {
            max_batch: args.v2_max_batch,
            shuffled: args.v2_shuffle,
            stubs: args.v2_stubs,
            old_spellings: args.v2_old_spellings,
            no_credit_header: args.v2_no_credits_header,
        },
        rest_rate: (args.rest_rate > 0.0).then_some(args.rest_rate),
        webhook_lost_rate: args.webhook_lost_rate,
        webhook_rate: (args.webhook_rate > 0.0).then_some(args.webhook_rate),
    };
    let sandbox = match Sandbox::start(config).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    // The first line is the URL a client is given: v1's when v1 is served.
    let first = if args.api.v1 { sandbox.base_url() } else { sandbox.base_url_v2() };
    println!("listening on {first}");
    let _ = std::io::stdout().flush();
    // On stderr, like the counters' address: whoever reads the first line may close stdout.
    if args.api.v1 && args.api.v2 {
        eprintln!("v2 at {} (key: hg_v2_ and the v1 key)", sandbox.base_url_v2());
    }
    eprintln!("a generic REST API for HTTP tables at {}", sandbox.rest_url());
    eprintln!(
        "Clay-like webhooks at {} or {} (any ID; token {})",
        sandbox.webhook_url("ID"),
        sandbox.clay_webhook_url("ID"),
        sandbox::webhook::TOKEN
    );
    eprintln!("counters at {}/__sandbox/stats; Ctrl-C stops", sandbox.root_url());
    let _ = tokio::signal::ctrl_c().await;
    sandbox.stop();
    ExitCode::from(exit::OK)
}
