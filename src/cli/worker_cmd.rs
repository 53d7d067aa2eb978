//! `hgsql worker`: a process other hgsql processes plan queries across (docs/distributed.md). It
//! needs no HG settings: it never holds a key or calls HG, and refuses a stage that would.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;

use super::exit;
use crate::distributed::{TokenCheck, WorkerSessions, serve, worker};

/// `hgsql worker`'s flags.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Where to listen (port 0: a free port; the URL printed says which). Loopback by default:
    /// worker traffic is unencrypted, so listen on a private interface at most.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The URL the coordinator and the other workers reach this worker at, when it is not the
    /// address it listens on (required with 0.0.0.0).
    #[arg(long, value_name = "URL")]
    pub advertise: Option<url::Url>,
    /// The environment variable holding a token the coordinator must send (its --token-env):
    /// a plan from anyone without it is refused.
    #[arg(long, value_name = "NAME")]
    pub token_env: Option<String>,
}

/// Serves until Ctrl-C or SIGTERM; the one line on stdout says where.
pub async fn run(args: &WorkerArgs) -> ExitCode {
    let token = match super::connect::read_token(args.token_env.as_deref()) {
        Ok(token) => token,
        Err(message) => return fail(exit::USAGE, &message),
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => return fail(exit::USAGE, &format!("cannot listen on {} (--listen): {e}", args.listen)),
    };
    let sessions = WorkerSessions::new(token.as_ref().map(TokenCheck::new));
    let serving = match serve(worker(sessions, None), listener, args.advertise.clone()) {
        Ok(serving) => serving,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    println!("hgsql worker listening on {}", serving.url.as_str().trim_end_matches('/'));
    let _ = std::io::stdout().flush();
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: worker traffic is unencrypted and workers run the plans they are sent: \
             keep {} on a private network{}",
            args.listen,
            if token.is_some() { "" } else { ", and give a shared token (--token-env)" }
        );
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = serving.wait() => return fail(exit::QUERY_ERROR, "the worker's server stopped"),
    }
    ExitCode::from(exit::OK)
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
