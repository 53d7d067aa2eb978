//! The session the command line queries in: on the built-in sandbox (`--sandbox`) or on the API
//! the settings name. Without a key the session still runs local SQL; an `hg.*` query then says
//! how to configure one.

use std::time::Duration;

use super::{ApiFlags, ClusterFlags, ConnectionFlags, exit};
use std::sync::Arc;

use crate::api::http::HttpContext;
use crate::api::webhook::WebhookContext;
use crate::api::webhook::ledger::default_ledger_file;
use crate::api::{ApiKey, ApiVersion, ClientConfig, HgClient, ResponseCache, default_cache_file};
use crate::config::{ConfigError, Overrides, Settings, default_config_file};
use crate::distributed::{ClusterOptions, parse_workers};
use crate::plan::ScanOptions;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::session::Session;

/// A session and what it needs kept alive.
pub struct Connection {
    pub session: Session,
    /// Where the API is, for the REPL's banner.
    pub describe: String,
    /// The in-process sandbox `--sandbox` started; the session's client talks to it.
    _sandbox: Option<Sandbox>,
}

/// The settings the flags, environment and config file give.
pub fn settings(flags: &ApiFlags) -> Result<Settings, ConfigError> {
    settings_with_workers(flags, None)
}

/// The settings, with `--workers` when it was given.
pub fn settings_with_workers(flags: &ApiFlags, workers: Option<String>) -> Result<Settings, ConfigError> {
    Settings::from_env(&Overrides {
        api_key: flags.api_key.clone(),
        base_url: flags.base_url.clone(),
        api_version: flags.api_version.map(|v| v.as_str().to_string()),
        profile: flags.profile.clone(),
        config_file: None,
        workers,
    })
}

/// The workers queries run across: `--workers`, else `HGSQL_WORKERS`, else the profile's
/// `workers`; `None` to run on this machine.
pub fn workers(flags: &ApiFlags, given: Option<String>) -> Result<Option<Vec<url::Url>>, (u8, String)> {
    let text = match settings_with_workers(flags, given.clone()) {
        Ok(settings) => settings.workers.map(|w| w.value),
        // The sandbox needs no config file: a broken one is reported where it is needed.
        Err(_) if flags.sandbox => given.or_else(|| std::env::var("HGSQL_WORKERS").ok()),
        Err(e) => return Err((exit::USAGE, e.to_string())),
    };
    match text.filter(|t| !t.trim().is_empty()) {
        Some(text) => parse_workers(&text).map(Some).map_err(|e| (exit::USAGE, e)),
        None => Ok(None),
    }
}

/// The secret in the environment variable `name` (`--token-env NAME`).
pub fn read_token(name: Option<&str>) -> Result<Option<secrecy::SecretString>, String> {
    let Some(name) = name else { return Ok(None) };
    match std::env::var(name) {
        Ok(token) if !token.trim().is_empty() => Ok(Some(secrecy::SecretString::from(token))),
        _ => Err(format!("--token-env {name}: the environment variable {name} is not set (or is empty)")),
    }
}

/// What the cluster flags ask for: `None` to run on this machine.
fn cluster(flags: &ClusterFlags, api: &ApiFlags) -> Result<Option<ClusterOptions>, (u8, String)> {
    let Some(workers) = workers(api, flags.workers.clone())? else {
        let stray = [
            flags.coordinator_listen.is_some().then_some("--coordinator-listen"),
            flags.coordinator_advertise.is_some().then_some("--coordinator-advertise"),
            flags.token_env.is_some().then_some("--token-env"),
        ];
        return match stray.into_iter().flatten().next() {
            Some(flag) => {
                Err((exit::USAGE, format!("{flag} goes with --workers (or HGSQL_WORKERS): name the workers")))
            }
            None => Ok(None),
        };
    };
    let token = read_token(flags.token_env.as_deref()).map_err(|e| (exit::USAGE, e))?;
    Ok(Some(ClusterOptions {
        workers,
        listen: flags.coordinator_listen,
        advertise: flags.coordinator_advertise.clone(),
        token,
    }))
}

/// A session for `client`: across workers when `cluster` names them.
fn session(client: Result<HgClient, String>, cluster: Option<&ClusterOptions>) -> Result<Session, (u8, String)> {
    match cluster {
        None => Ok(Session::build(client, ScanOptions::default())),
        Some(cluster) => Session::distributed(client, ScanOptions::default(), cluster)
            .map_err(|e| (exit::USAGE, e.message().to_string())),
    }
}

/// Connects as the flags say: an error is (exit code, message). `dry_run` makes a client that
/// sends no charged request.
pub async fn connect(flags: &ConnectionFlags, dry_run: bool) -> Result<Connection, (u8, String)> {
    // One cache file for HG's answers and every HTTP table's.
    let cache = match flags.no_cache {
        true => None,
        false => Some(Arc::new(ResponseCache::open(&default_cache_file()).map_err(|e| (exit::USAGE, e.to_string()))?)),
    };
    let tune = |config: &mut ClientConfig| -> Result<(), (u8, String)> {
        config.cache = cache.clone();
        config.refresh = flags.refresh;
        config.dry_run = dry_run;
        Ok(())
    };
    let cluster = cluster(&flags.cluster, &flags.api)?;
    let connection = if flags.api.sandbox {
        let version = sandbox_version(&flags.api)?;
        let (sandbox, client) = start_sandbox(version, tune).await?;
        let describe = format!("the built-in sandbox at {} (HG API {version})", client.config().base_url);
        Connection { session: session(Ok(client), cluster.as_ref())?, describe, _sandbox: Some(sandbox) }
    } else {
        let settings = settings(&flags.api).map_err(|e| (exit::USAGE, e.to_string()))?;
        let describe = match &settings.api_key {
            Some(_) => format!("HG at {} (API {})", settings.base_url.value, settings.api_version.value),
            None => "no HG API key (set HG_API_KEY, or run with --sandbox)".to_string(),
        };
        let client = match settings.client_config() {
            Ok(mut config) => {
                tune(&mut config)?;
                // A key with a base URL that cannot work is a setup mistake, told before any SQL.
                Ok(HgClient::new(config).map_err(|e| (exit::USAGE, e.to_string()))?)
            }
            Err(e) => Err(e.to_string()),
        };
        Connection { session: session(client, cluster.as_ref())?, describe, _sandbox: None }
    };
    let (connections, webhooks) = match flags.api.sandbox {
        // The sandbox needs no config file; a broken one is reported where it is needed.
        true => settings(&flags.api).map(|s| (s.http_connections, s.webhooks)).unwrap_or_default(),
        false => {
            let settings = settings(&flags.api).map_err(|e| (exit::USAGE, e.to_string()))?;
            (settings.http_connections, settings.webhooks)
        }
    };
    let mut connection = connection;
    if let Some(cluster) = &cluster {
        let n = cluster.workers.len();
        connection.describe.push_str(&format!(", across {n} worker{}", if n == 1 { "" } else { "s" }));
    }
    let mut connections = connections.0;
    let mut webhooks = webhooks.0;
    if let Some(sandbox) = &connection._sandbox {
        // `'connection' 'sandbox'`: the sandbox's own REST API, as any HTTP table may use it.
        let rest = [
            ("base_url", format!("{}/bearer", sandbox.rest_url())),
            ("token", crate::sandbox::rest::TOKEN.to_string()),
        ];
        connections
            .entry("sandbox".to_string())
            .or_insert_with(|| rest.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        // `TO 'webhook://sandbox'`: the sandbox's Clay-like receiver, at a Clay webhook's path.
        let hook =
            [("url", sandbox.clay_webhook_url("sandbox")), ("token", crate::sandbox::webhook::TOKEN.to_string())];
        webhooks
            .entry("sandbox".to_string())
            .or_insert_with(|| hook.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    }
    connection.session.set_http_context(HttpContext::new(cache.clone(), flags.refresh, dry_run, connections));
    connection.session.set_webhook_context(WebhookContext::new(default_ledger_file(), webhooks, dry_run));
    run_init(&connection.session, flags).await?;
    if let Some(max) = flags.max_credits {
        connection
            .session
            .run(&format!("SET hg.max_credits = {max}"))
            .await
            .map_err(|e| (exit::USAGE, format!("--max-credits {max}: {e}")))?;
    }
    Ok(connection)
}

/// Runs `--init FILE`, else the default `init.sql` when there is one (unless `--no-init`):
/// definitions of HTTP tables and views every session should have.
async fn run_init(session: &Session, flags: &ConnectionFlags) -> Result<(), (u8, String)> {
    let path = match (&flags.init, flags.no_init) {
        (Some(path), _) => path.clone(),
        (None, true) => return Ok(()),
        (None, false) => {
            let default = default_config_file(&|name| std::env::var(name).ok()).with_file_name("init.sql");
            if !default.is_file() {
                return Ok(());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| (exit::USAGE, format!("cannot read the init file {}: {e}", path.display())))?;
    session.run(&text).await.map_err(|e| {
        let message = super::errors::message(&e.source);
        (
            exit::QUERY_ERROR,
            format!("{}:{}: {message} (the init file; fix it or run with --no-init)", path.display(), e.line),
        )
    })?;
    Ok(())
}

/// The HG API version `--sandbox` speaks: `--api-version`, else `HG_API_VERSION`, else v1 (the
/// sandbox serves both; it has no key or base URL to say otherwise).
pub fn sandbox_version(flags: &ApiFlags) -> Result<ApiVersion, (u8, String)> {
    if let Some(version) = flags.api_version {
        return Ok(version);
    }
    match std::env::var("HG_API_VERSION").ok().filter(|v| !v.trim().is_empty()) {
        Some(text) => ApiVersion::parse(&text).map_err(|e| (exit::USAGE, format!("HG_API_VERSION: {e}"))),
        None => Ok(ApiVersion::V1),
    }
}

/// The in-process sandbox `--sandbox` queries, and a client for it on `version` (set up
/// further by `tune`). Requests get ~30 ms of latency and HG's rate limit, so timings look like
/// the real API's.
pub async fn start_sandbox(
    version: ApiVersion,
    tune: impl FnOnce(&mut ClientConfig) -> Result<(), (u8, String)>,
) -> Result<(Sandbox, HgClient), (u8, String)> {
    let config = SandboxConfig {
        latency: Duration::from_millis(25),
        jitter: Duration::from_millis(10),
        ..SandboxConfig::default()
    };
    let (seed, companies) = (config.seed, config.companies);
    let sandbox =
        Sandbox::start(config).await.map_err(|e| (exit::HG_API, format!("the sandbox did not start: {e}")))?;
    let mut config = match version {
        ApiVersion::V1 => ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key())),
        ApiVersion::V2 => ClientConfig::new(sandbox.base_url_v2(), ApiKey::new(sandbox.key_v2())),
    };
    config.version = version;
    // Its port changes every run, its data does not: cached answers stay valid.
    config.cache_namespace = Some(format!("hgsql-sandbox:seed={seed}:companies={companies}"));
    tune(&mut config)?;
    let client = HgClient::new(config).map_err(|e| (exit::HG_API, e.to_string()))?;
    Ok((sandbox, client))
}
