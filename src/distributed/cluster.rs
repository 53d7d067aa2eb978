//! The coordinator side: the `hgsql` process the user started plans across its workers, serves
//! its own worker (which runs every stage holding a lookup, and which the workers pull from),
//! and refuses a worker of another build when it first connects.

use std::net::SocketAddr;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion_distributed::{DistributedExt, SessionStateBuilderExt, WorkerResolver};
use http::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::channels::SameBuildChannels;
use super::codec::LookupCodec;
use super::placement::{LookupsOnCoordinator, one_task_for_lookups};
use super::worker::{Serving, TOKEN_HEADER, TokenCheck, WorkerSessions, serve, worker};

/// How a coordinator reaches its workers (`--workers`, `--coordinator-listen`,
/// `--coordinator-advertise`, `--token-env`).
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// The workers' URLs (`http://host:port`).
    pub workers: Vec<Url>,
    /// Where the coordinator's own worker listens; `127.0.0.1:0` when every worker is on this
    /// machine, and required otherwise.
    pub listen: Option<SocketAddr>,
    /// The URL the workers dial the coordinator at, when not the address it listens on.
    pub advertise: Option<Url>,
    /// The shared token the workers check, if they were started with one.
    pub token: Option<SecretString>,
}

/// Reads a list of worker URLs: `URL[,URL…]`, each `http://host:port` (a bare `host:port` is
/// taken as `http://`).
pub fn parse_workers(text: &str) -> std::result::Result<Vec<Url>, String> {
    let mut urls = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let spelled = if part.contains("://") { part.to_string() } else { format!("http://{part}") };
        let url = Url::parse(&spelled)
            .map_err(|e| format!("worker URL '{part}' is not a URL ({e}): write http://HOST:PORT"))?;
        if url.scheme() != "http" || url.host_str().is_none() || url.port().is_none() {
            return Err(format!(
                "worker URL '{part}' must be http://HOST:PORT (workers speak plaintext gRPC; put them on a private network)"
            ));
        }
        urls.push(url);
    }
    if urls.is_empty() {
        return Err("--workers names no worker: give URL[,URL…], as printed by `hgsql worker`".to_string());
    }
    Ok(urls)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl ClusterOptions {
    /// Where the coordinator's own worker listens.
    fn listen_address(&self) -> Result<SocketAddr> {
        match self.listen {
            Some(address) => Ok(address),
            None if self.workers.iter().all(is_loopback) => Ok(SocketAddr::from(([127, 0, 0, 1], 0))),
            None => Err(DataFusionError::Configuration(
                "workers on other machines must reach the coordinator: give --coordinator-listen ADDR:PORT \
                 (and --coordinator-advertise URL if they dial it by another name)"
                    .to_string(),
            )),
        }
    }
}

/// The coordinator's own worker, served while the session lives.
pub struct Coordinator {
    serving: Serving,
    sessions: WorkerSessions,
}

impl Coordinator {
    /// The URL the workers dial the coordinator at.
    pub fn url(&self) -> &Url {
        &self.serving.url
    }

    /// Makes the coordinator's worker follow the settings of the session it serves.
    pub fn follow(&self, state: &Arc<parking_lot::RwLock<datafusion::execution::SessionState>>) {
        self.sessions.follow(state);
    }
}

/// Turns `builder` into a coordinator's: distributed planning across `options.workers`, lookups
/// in its own worker (served here, on `runtime`), the token sent to every worker. Must be called
/// inside a tokio runtime, which serves the coordinator's worker.
pub fn coordinate(
    builder: SessionStateBuilder,
    options: &ClusterOptions,
    runtime: Arc<RuntimeEnv>,
) -> Result<(SessionStateBuilder, Coordinator)> {
    let address = options.listen_address()?;
    let listener = std::net::TcpListener::bind(address).map_err(|e| {
        DataFusionError::Configuration(format!(
            "the coordinator cannot listen on {address} (--coordinator-listen): {e}"
        ))
    })?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let sessions = WorkerSessions::new(options.token.as_ref().map(TokenCheck::new));
    let own = worker(sessions.clone(), Some(runtime.clone()));
    let serving = serve(own.clone(), listener, options.advertise.clone())?;
    let mut headers = HeaderMap::new();
    if let Some(token) = &options.token {
        let mut value = HeaderValue::from_str(token.expose_secret())
            .map_err(|_| DataFusionError::Configuration("the worker token must be printable ASCII".to_string()))?;
        value.set_sensitive(true);
        headers.insert(TOKEN_HEADER, value);
    }
    let builder = builder
        .with_runtime_env(runtime)
        .with_distributed_planner()
        .with_distributed_worker_resolver(Workers(
            std::iter::once(serving.url.clone()).chain(options.workers.clone()).collect(),
        ))
        .with_distributed_channel_resolver(SameBuildChannels::default())
        .with_distributed_user_codec(LookupCodec)
        .with_distributed_desired_task_count_handler(one_task_for_lookups)
        .with_distributed_route_tasks_handler(LookupsOnCoordinator { coordinator: serving.url.clone() })
        .with_distributed_local_worker_context(own.to_local_worker_context(serving.url.clone()))
        .with_distributed_passthrough_headers(headers)?;
    Ok((builder, Coordinator { serving, sessions }))
}

/// Where tasks may run: the coordinator's own worker, then the workers named on the command
/// line. The coordinator takes a share of the local work too, and with one worker named a
/// stage still has two tasks (a stage of one task would stay in the coordinator).
struct Workers(Vec<Url>);

impl WorkerResolver for Workers {
    fn get_urls(&self) -> Result<Vec<Url>> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_lists_take_urls_or_host_and_port_and_refuse_the_rest_saying_how() {
        let urls = parse_workers(" http://10.0.0.5:7000, 127.0.0.1:7001 ,").unwrap();
        assert_eq!(
            urls.iter().map(Url::as_str).collect::<Vec<_>>(),
            ["http://10.0.0.5:7000/", "http://127.0.0.1:7001/"]
        );
        for (bad, says) in [
            ("https://10.0.0.5:7000", "plaintext gRPC"),
            ("http://10.0.0.5", "http://HOST:PORT"),
            ("http://[::1", "not a URL"),
            (" , ", "names no worker"),
        ] {
            let error = parse_workers(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn the_coordinator_listens_on_loopback_for_local_workers_and_must_be_told_for_others() {
        let local =
            ClusterOptions { workers: parse_workers("127.0.0.1:7000,localhost:7001").unwrap(), ..Default::default() };
        assert_eq!(local.listen_address().unwrap(), SocketAddr::from(([127, 0, 0, 1], 0)));
        let remote =
            ClusterOptions { workers: parse_workers("127.0.0.1:7000,10.0.0.6:7000").unwrap(), ..Default::default() };
        assert!(remote.listen_address().unwrap_err().to_string().contains("--coordinator-listen"));
        let told = ClusterOptions { listen: Some(SocketAddr::from(([10, 0, 0, 4], 7100))), ..remote };
        assert_eq!(told.listen_address().unwrap(), SocketAddr::from(([10, 0, 0, 4], 7100)));
    }
}
