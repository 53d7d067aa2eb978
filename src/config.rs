//! Settings from flags, the environment (`HG_API_KEY`, `HG_BASE_URL`, `HG_API_VERSION`,
//! `HG_PROFILE`, `HGSQL_WORKERS`) and the
//! config file (`$XDG_CONFIG_HOME/hgsql/config.toml`, named profiles), in that order of
//! precedence. Each setting remembers where it came from, so `hgsql doctor` can say.
//!
//! ```toml
//! [profiles.default]
//! api_key = "…"
//!
//! [profiles.staging]
//! api_key = "…"
//! base_url = "https://…/data-api/v1"
//! api_version = "v2"       # else the key says (hg_v2_…), else the base URL, else v1
//! auth_scheme = "bare"     # send the key without "Bearer"
//! rate = 10                # requests per second
//! workers = ["http://10.0.0.5:7000", "http://10.0.0.6:7000"]   # or HGSQL_WORKERS, --workers
//!
//! [http.crm]               # a connection for HTTP tables: 'connection' 'crm'
//! auth = "bearer"
//! token = "…"              # secrets may be written here, never in SQL
//! rate = "10/s"
//!
//! [webhooks.clay_leads]    # a webhook destination: TO 'webhook://clay_leads'
//! url = "https://api.clay.com/v3/sources/webhook/…"
//! token = "…"
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::api::{ApiKey, ApiVersion, AuthScheme, ClientConfig};

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File {
        path: PathBuf,
        profile: String,
    },
    /// Worked out from another setting (the key's form, the base URL).
    Derived(&'static str),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::File { path, profile } => write!(f, "{} (profile {profile})", path.display()),
            Source::Derived(from) => f.write_str(from),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// What the command line says; `None` where it says nothing.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub api_version: Option<String>,
    pub profile: Option<String>,
    pub config_file: Option<PathBuf>,
    /// `--workers URL[,URL…]`.
    pub workers: Option<String>,
}

/// One profile of the config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    api_key: Option<String>,
    base_url: Option<String>,
    api_version: Option<String>,
    auth_scheme: Option<AuthScheme>,
    rate: Option<f64>,
    max_in_flight: Option<usize>,
    batch_size: Option<usize>,
    page_size: Option<usize>,
    max_attempts: Option<u32>,
    timeout_seconds: Option<u64>,
    /// Workers to plan queries across: `"URL,URL"` or `["URL", "URL"]`.
    workers: Option<WorkerList>,
}

/// The `workers` key: one comma-separated string, or a list.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum WorkerList {
    Joined(String),
    Each(Vec<String>),
}

impl WorkerList {
    fn joined(self) -> String {
        match self {
            WorkerList::Joined(text) => text,
            WorkerList::Each(urls) => urls.join(","),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, Profile>,
    /// Named connections of HTTP tables (`'connection' 'crm'` reads `[http.crm]`).
    #[serde(default)]
    http: std::collections::BTreeMap<String, std::collections::BTreeMap<String, toml::Value>>,
    /// Named webhook destinations (`TO 'webhook://clay_leads'` reads `[webhooks.clay_leads]`).
    #[serde(default)]
    webhooks: std::collections::BTreeMap<String, std::collections::BTreeMap<String, toml::Value>>,
}

/// Named sections of the config file (`[http.NAME]`, `[webhooks.NAME]`): each a table's or a
/// destination's options (url, token, rate, …) by name. They may hold secrets, so their debug
/// text shows only the names.
#[derive(Clone, Default, PartialEq)]
pub struct NamedOptions(pub std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>);

impl NamedOptions {
    fn read(
        sections: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, toml::Value>>,
    ) -> NamedOptions {
        NamedOptions(
            sections
                .iter()
                .map(|(name, options)| {
                    let options = options
                        .iter()
                        .map(|(k, v)| {
                            (k.to_ascii_lowercase(), v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        })
                        .collect();
                    (name.clone(), options)
                })
                .collect(),
        )
    }
}

impl fmt::Debug for NamedOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Why settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the config file {} is not valid: {message}; see the README for its format", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("profile '{profile}' is not in {}; profiles there: {available}", path.display())]
    UnknownProfile { profile: String, path: PathBuf, available: String },
    #[error(
        "no HG API key: set HG_API_KEY, add api_key to [profiles.{profile}] in {}, or run with --sandbox to use the built-in sandbox",
        path.display()
    )]
    NoKey { profile: String, path: PathBuf },
    #[error("{setting} = {value} is out of range: {hint}")]
    OutOfRange { setting: &'static str, value: String, hint: &'static str },
    #[error("the API version ({given_by}): {message}")]
    Version { given_by: Source, message: String },
}

/// Every client setting, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config_file: PathBuf,
    pub profile: Setting<String>,
    pub api_key: Option<Setting<ApiKey>>,
    pub base_url: Setting<String>,
    /// The HG API version spoken (docs/hg-api-v2.md §1).
    pub api_version: Setting<ApiVersion>,
    pub auth_scheme: Setting<AuthScheme>,
    pub rate: Setting<Option<f64>>,
    pub max_in_flight: Setting<usize>,
    pub batch_size: Setting<usize>,
    pub page_size: Setting<usize>,
    pub max_attempts: Setting<u32>,
    pub timeout: Setting<Duration>,
    /// `[http.NAME]` sections, for HTTP tables.
    pub http_connections: NamedOptions,
    /// `[webhooks.NAME]` sections, webhook destinations.
    pub webhooks: NamedOptions,
    /// The workers queries are planned across (`URL[,URL…]`), when any (docs/distributed.md).
    pub workers: Option<Setting<String>>,
}

/// The config file's default place: `$XDG_CONFIG_HOME/hgsql/config.toml`, else
/// `~/.config/hgsql/config.toml`.
pub fn default_config_file(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let base = env("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("hgsql").join("config.toml")
}

/// The file's value when it has one, else the default.
fn from_file_or<T>(value: Option<T>, default: T, in_file: &Source) -> Setting<T> {
    match value {
        Some(value) => Setting { value, source: in_file.clone() },
        None => Setting { value: default, source: Source::Default },
    }
}

/// The API version: as set, else as the key or the base URL says, else v1; a base URL of the
/// other version is an error.
fn version(
    asked: Option<Setting<String>>,
    key: Option<&Setting<ApiKey>>,
    base_url: Option<&Setting<String>>,
) -> Result<Setting<ApiVersion>, ConfigError> {
    let set = match &asked {
        Some(asked) => Some(
            ApiVersion::parse(&asked.value)
                .map_err(|message| ConfigError::Version { given_by: asked.source.clone(), message })?,
        ),
        None => None,
    };
    let key = key.map(|k| &k.value);
    let url = base_url.map(|b| b.value.as_str());
    let value = ApiVersion::choose(set, key, url).map_err(|message| ConfigError::Version {
        given_by: asked
            .as_ref()
            .map_or_else(|| base_url.expect("only a URL conflicts").source.clone(), |a| a.source.clone()),
        message,
    })?;
    let source = match asked {
        Some(asked) => asked.source,
        None if key.and_then(ApiVersion::of_key).is_some() => Source::Derived("the API key's form (hg_v2_…)"),
        None if url.and_then(ApiVersion::of_base_url).is_some() => Source::Derived("the base URL"),
        None => Source::Default,
    };
    Ok(Setting { value, source })
}

impl Settings {
    /// Resolves settings from the process environment.
    pub fn from_env(overrides: &Overrides) -> Result<Settings, ConfigError> {
        Settings::resolve(overrides, &|name| std::env::var(name).ok())
    }

    /// Resolves settings with `env` standing in for the environment.
    pub fn resolve(overrides: &Overrides, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let config_file = overrides.config_file.clone().unwrap_or_else(|| default_config_file(&env));
        let file = match std::fs::read_to_string(&config_file) {
            Ok(text) => toml::from_str::<File>(&text)
                .map_err(|e| ConfigError::Parse { path: config_file.clone(), message: e.message().to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && overrides.config_file.is_none() => File::default(),
            Err(source) => return Err(ConfigError::Read { path: config_file, source }),
        };
        let profile = match (&overrides.profile, env("HG_PROFILE")) {
            (Some(p), _) => Setting { value: p.clone(), source: Source::Flag("--profile") },
            (None, Some(p)) => Setting { value: p, source: Source::Env("HG_PROFILE") },
            (None, None) => Setting { value: "default".to_string(), source: Source::Default },
        };
        let chosen = match file.profiles.get(&profile.value) {
            Some(p) => p.clone(),
            None if profile.source == Source::Default => Profile::default(),
            None => {
                let available = file.profiles.keys().cloned().collect::<Vec<_>>().join(", ");
                return Err(ConfigError::UnknownProfile {
                    profile: profile.value,
                    path: config_file,
                    available: if available.is_empty() { "none".into() } else { available },
                });
            }
        };
        let in_file = Source::File { path: config_file.clone(), profile: profile.value.clone() };
        let pick = |flag: Option<(&'static str, Option<String>)>, var: Option<&'static str>, file: Option<String>| {
            if let Some((name, Some(value))) = flag {
                return Some(Setting { value, source: Source::Flag(name) });
            }
            if let Some(var) = var
                && let Some(value) = env(var)
            {
                return Some(Setting { value, source: Source::Env(var) });
            }
            file.map(|value| Setting { value, source: in_file.clone() })
        };
        let api_key = pick(Some(("--api-key", overrides.api_key.clone())), Some("HG_API_KEY"), chosen.api_key.clone())
            .map(|s| Setting { value: ApiKey::new(s.value), source: s.source });
        let base_url =
            pick(Some(("--base-url", overrides.base_url.clone())), Some("HG_BASE_URL"), chosen.base_url.clone());
        let asked = pick(
            Some(("--api-version", overrides.api_version.clone())),
            Some("HG_API_VERSION"),
            chosen.api_version.clone(),
        );
        let api_version = version(asked, api_key.as_ref(), base_url.as_ref())?;
        let workers = pick(
            Some(("--workers", overrides.workers.clone())),
            Some("HGSQL_WORKERS"),
            chosen.workers.clone().map(WorkerList::joined),
        );
        let base_url = base_url
            .unwrap_or(Setting { value: api_version.value.default_base_url().to_string(), source: Source::Default });
        let settings = Settings {
            api_key,
            base_url,
            api_version,
            auth_scheme: from_file_or(chosen.auth_scheme, AuthScheme::Bearer, &in_file),
            rate: from_file_or(chosen.rate.map(|r| (r > 0.0).then_some(r)), Some(25.0), &in_file),
            max_in_flight: from_file_or(chosen.max_in_flight, 8, &in_file),
            batch_size: from_file_or(chosen.batch_size, 25, &in_file),
            page_size: from_file_or(chosen.page_size, 100, &in_file),
            max_attempts: from_file_or(chosen.max_attempts, 6, &in_file),
            timeout: from_file_or(chosen.timeout_seconds.map(Duration::from_secs), Duration::from_secs(10), &in_file),
            http_connections: NamedOptions::read(&file.http),
            webhooks: NamedOptions::read(&file.webhooks),
            workers,
            profile,
            config_file,
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let out = |setting, value: &dyn fmt::Display, hint| {
            Err(ConfigError::OutOfRange { setting, value: value.to_string(), hint })
        };
        if !(1..=25).contains(&self.batch_size.value) {
            return out("batch_size", &self.batch_size.value, "HG takes 1 to 25 company ids per request");
        }
        if !(1..=100).contains(&self.page_size.value) {
            return out("page_size", &self.page_size.value, "HG returns 1 to 100 rows per page");
        }
        if self.max_in_flight.value == 0 {
            return out("max_in_flight", &0, "at least one request must be allowed");
        }
        if self.max_attempts.value == 0 {
            return out("max_attempts", &0, "the first attempt counts as one");
        }
        Ok(())
    }

    /// The client configuration these settings describe; fails without a key.
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        let key = self.api_key.as_ref().ok_or_else(|| ConfigError::NoKey {
            profile: self.profile.value.clone(),
            path: self.config_file.clone(),
        })?;
        let mut config = ClientConfig::new(self.base_url.value.clone(), key.value.clone());
        config.version = self.api_version.value;
        config.auth_scheme = self.auth_scheme.value;
        config.rate = self.rate.value;
        config.max_in_flight = self.max_in_flight.value;
        config.batch_size = self.batch_size.value;
        config.page_size = self.page_size.value;
        config.retry.max_attempts = self.max_attempts.value;
        config.timeout = self.timeout.value;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(file: Option<&str>, env: &[(&str, &str)], overrides: Overrides) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let overrides = Overrides { config_file: overrides.config_file.or(file.map(|_| path.clone())), ..overrides };
        Settings::resolve(&overrides, &|name| env.get(name).cloned())
    }

    const FILE: &str = r#"
[profiles.default]
api_key = "file-key"
rate = 10

[profiles.staging]
api_key = "staging-key"
base_url = "http://127.0.0.1:9/data-api/v1"
auth_scheme = "bare"
"#;

    #[test]
    fn flags_beat_the_environment_which_beats_the_file() {
        let s = resolve(Some(FILE), &[], Overrides::default()).unwrap();
        assert!(matches!(s.api_key.as_ref().unwrap().source, Source::File { .. }));
        assert_eq!(s.rate.value, Some(10.0));
        assert_eq!(s.base_url, Setting { value: crate::api::DEFAULT_BASE_URL.into(), source: Source::Default });
        assert_eq!(s.api_version, Setting { value: ApiVersion::V1, source: Source::Default });
        let s = resolve(Some(FILE), &[("HG_API_KEY", "env-key"), ("HG_BASE_URL", "http://x/v1")], Overrides::default())
            .unwrap();
        assert_eq!(s.api_key.unwrap().source, Source::Env("HG_API_KEY"));
        assert_eq!(s.base_url.source, Source::Env("HG_BASE_URL"));
        let flags = Overrides { api_key: Some("flag-key".into()), ..Overrides::default() };
        let s = resolve(Some(FILE), &[("HG_API_KEY", "env-key")], flags).unwrap();
        assert_eq!(s.api_key.unwrap().source, Source::Flag("--api-key"));
    }

    #[test]
    fn the_version_is_set_else_the_key_or_the_base_url_says() {
        let v2_key = [("HG_API_KEY", "hg_v2_secret")];
        let s = resolve(None, &v2_key, Overrides::default()).unwrap();
        assert_eq!(s.api_version.value, ApiVersion::V2);
        assert!(matches!(s.api_version.source, Source::Derived(_)));
        assert_eq!(s.base_url.value, "https://api.hginsights.com/data-api/v2", "v2's own root by default");
        assert_eq!(s.client_config().unwrap().version, ApiVersion::V2);
        let s = resolve(
            Some("[profiles.default]\napi_version = \"v2\"\n"),
            &[("HG_API_VERSION", "v1")],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.api_version, Setting { value: ApiVersion::V1, source: Source::Env("HG_API_VERSION") });
        let flag = Overrides { api_version: Some("v2".into()), ..Overrides::default() };
        let s = resolve(None, &[("HG_API_VERSION", "v1")], flag).unwrap();
        assert_eq!(s.api_version.source, Source::Flag("--api-version"));
        let s = resolve(None, &[("HG_BASE_URL", "http://127.0.0.1:9/data-api/v2")], Overrides::default()).unwrap();
        assert_eq!(s.api_version.value, ApiVersion::V2);
        let wrong = resolve(
            None,
            &[("HG_API_KEY", "hg_v2_secret"), ("HG_BASE_URL", "http://x/data-api/v1")],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(wrong.contains("v1 API") && wrong.contains("HG_BASE_URL") && !wrong.contains("secret"), "{wrong}");
        let bad = resolve(None, &[("HG_API_VERSION", "v3")], Overrides::default()).unwrap_err().to_string();
        assert!(bad.contains("HG_API_VERSION") && bad.contains("v1 or v2"), "{bad}");
    }

    #[test]
    fn profiles_are_chosen_by_flag_or_environment() {
        let s = resolve(Some(FILE), &[("HG_PROFILE", "staging")], Overrides::default()).unwrap();
        assert_eq!(s.profile.source, Source::Env("HG_PROFILE"));
        assert_eq!(s.auth_scheme.value, AuthScheme::Bare);
        assert_eq!(s.base_url.value, "http://127.0.0.1:9/data-api/v1");
        let config = s.client_config().unwrap();
        assert_eq!(config.auth_scheme, AuthScheme::Bare);
        let unknown =
            resolve(Some(FILE), &[], Overrides { profile: Some("prod".into()), ..Overrides::default() }).unwrap_err();
        assert!(unknown.to_string().contains("default, staging"), "{unknown}");
    }

    #[test]
    fn a_missing_key_says_how_to_set_one_and_bad_files_are_named() {
        let s = resolve(None, &[("HOME", "/nonexistent")], Overrides::default()).unwrap();
        let message = s.client_config().unwrap_err().to_string();
        assert!(message.contains("HG_API_KEY") && message.contains("--sandbox"), "{message}");
        let bad = resolve(Some("[profiles.default]\napi_kee = 1\n"), &[], Overrides::default()).unwrap_err();
        assert!(bad.to_string().contains("config.toml") && bad.to_string().contains("api_kee"), "{bad}");
        let range = resolve(Some("[profiles.default]\nbatch_size = 50\n"), &[], Overrides::default()).unwrap_err();
        assert!(range.to_string().contains("batch_size"), "{range}");
    }

    #[test]
    fn the_key_never_shows_in_settings() {
        let s = resolve(Some(FILE), &[], Overrides::default()).unwrap();
        assert!(!format!("{s:?}").contains("file-key"));
    }

    #[test]
    fn webhook_destinations_are_read_by_name_and_never_shown() {
        let file = "[webhooks.clay_leads]\nurl = \"https://api.clay.com/v3/sources/webhook/s3cr3t\"\nToken = \"t0k\"\nbatch_size = 10\n";
        let s = resolve(Some(file), &[], Overrides::default()).unwrap();
        let leads = &s.webhooks.0["clay_leads"];
        assert_eq!((leads["token"].as_str(), leads["batch_size"].as_str()), ("t0k", "10"));
        assert!(leads["url"].ends_with("s3cr3t"));
        let shown = format!("{s:?}");
        assert!(shown.contains("clay_leads") && !shown.contains("s3cr3t") && !shown.contains("t0k"), "{shown}");
    }

    #[test]
    fn the_config_file_lives_under_xdg_config_home() {
        let env: HashMap<&str, &str> = HashMap::from([("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(default_config_file(&|n| env.get(n).map(|v| v.to_string())), PathBuf::from("/x/hgsql/config.toml"));
        assert_eq!(
            default_config_file(&|n| (n == "HOME").then(|| "/h".to_string())),
            PathBuf::from("/h/.config/hgsql/config.toml")
        );
    }

    #[test]
    fn workers_come_from_the_flag_the_environment_or_the_profile_as_a_string_or_a_list() {
        let listed = "[profiles.default]\nworkers = [\"http://a:1\", \"http://b:2\"]\n";
        let s = resolve(Some(listed), &[], Overrides::default()).unwrap();
        let workers = s.workers.unwrap();
        assert_eq!(workers.value, "http://a:1,http://b:2");
        assert!(matches!(workers.source, Source::File { .. }), "{:?}", workers.source);
        let joined = "[profiles.default]\nworkers = \"http://a:1\"\n";
        assert_eq!(resolve(Some(joined), &[], Overrides::default()).unwrap().workers.unwrap().value, "http://a:1");
        let env = resolve(Some(joined), &[("HGSQL_WORKERS", "http://e:3")], Overrides::default()).unwrap();
        assert_eq!(env.workers.unwrap(), Setting { value: "http://e:3".into(), source: Source::Env("HGSQL_WORKERS") });
        let flag = Overrides { workers: Some("http://f:4".into()), ..Overrides::default() };
        let s = resolve(Some(joined), &[("HGSQL_WORKERS", "http://e:3")], flag).unwrap();
        assert_eq!(s.workers.unwrap(), Setting { value: "http://f:4".into(), source: Source::Flag("--workers") });
        assert!(resolve(None, &[], Overrides::default()).unwrap().workers.is_none());
    }
}
