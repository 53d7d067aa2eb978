//! The session the command line queries in: on the built-in sandbox (`--sandbox`) or on the API
//! the settings name. Without a key the session still runs local SQL; an `hg.*` query then says
//! how to configure one.

use std::time::Duration;

use super::{ConnectionFlags, exit};
use crate::api::{ApiKey, ClientConfig, HgClient};
use crate::config::{ConfigError, Overrides, Settings};
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
pub fn settings(flags: &ConnectionFlags) -> Result<Settings, ConfigError> {
    Settings::from_env(&Overrides {
        api_key: flags.api_key.clone(),
        base_url: flags.base_url.clone(),
        profile: flags.profile.clone(),
        config_file: None,
    })
}

/// Connects as the flags say: an error is (exit code, message).
pub async fn connect(flags: &ConnectionFlags) -> Result<Connection, (u8, String)> {
    if flags.sandbox {
        let (sandbox, client) = start_sandbox().await.map_err(|message| (exit::HG_API, message))?;
        let describe = format!("the built-in sandbox at {}", sandbox.base_url());
        return Ok(Connection { session: Session::with_client(client), describe, _sandbox: Some(sandbox) });
    }
    let settings = settings(flags).map_err(|e| (exit::USAGE, e.to_string()))?;
    let describe = match &settings.api_key {
        Some(_) => format!("HG at {}", settings.base_url.value),
        None => "no HG API key (set HG_API_KEY, or run with --sandbox)".to_string(),
    };
    let client = settings
        .client_config()
        .map_err(|e| e.to_string())
        .and_then(|config| HgClient::new(config).map_err(|e| e.to_string()));
    Ok(Connection { session: Session::build(client, Default::default()), describe, _sandbox: None })
}

/// The in-process sandbox `--sandbox` queries, and a client for it. Requests get ~30 ms of
/// latency and HG's rate limit, so timings look like the real API's.
pub async fn start_sandbox() -> Result<(Sandbox, HgClient), String> {
    let config = SandboxConfig {
        latency: Duration::from_millis(25),
        jitter: Duration::from_millis(10),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.map_err(|e| format!("the sandbox did not start: {e}"))?;
    let key = ApiKey::new(sandbox.key());
    let client = HgClient::new(ClientConfig::new(sandbox.base_url(), key)).map_err(|e| e.to_string())?;
    Ok((sandbox, client))
}
