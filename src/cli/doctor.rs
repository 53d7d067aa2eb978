//! `hgsql doctor`: where each setting comes from, one free call to the API, and what it says of
//! the rate limit and the credits left. The key is only ever reported as set or not.

use std::time::Instant;

use super::connect;
use super::{ApiFlags, exit};
use crate::api::{ApiVersion, Endpoint, FieldValue, HgClient, Payload};
use crate::config::{Setting, Settings};

/// Runs the checks and returns the exit code: 0 when HG answered (and every worker named is
/// reachable and of this build), 2 for bad settings, 3 when HG could not be reached or refused
/// the key, 5 when a worker is unreachable or of another build.
pub async fn run(flags: &ApiFlags, probe: bool, workers: Option<String>) -> u8 {
    let workers = match connect::workers(flags, workers) {
        Ok(workers) => workers.unwrap_or_default(),
        Err((code, message)) => return failed(code, &message),
    };
    let code = check_hg(flags, probe).await;
    if code != exit::OK {
        return code;
    }
    if !check_workers(&workers).await {
        return failed(exit::WORKERS, "a worker is unreachable or runs another build (above)");
    }
    match workers.len() {
        0 => println!("ok: HG answered; queries can run"),
        n => println!("ok: HG answered and {n} worker(s) of this build too; queries can run across them"),
    }
    exit::OK
}

/// One line per worker: reachable and of this build, or why not. Whether all were.
async fn check_workers(urls: &[url::Url]) -> bool {
    let mut all = true;
    for url in urls {
        let shown = crate::distributed::shown(url);
        match crate::distributed::check_worker(url).await {
            Ok(()) => line("worker", &format!("{shown}: reachable, {}", crate::distributed::BUILD)),
            Err(e) => {
                all = false;
                line("worker", &format!("{shown}: {}", e.message()));
            }
        }
    }
    all
}

async fn check_hg(flags: &ApiFlags, probe: bool) -> u8 {
    let mut _sandbox = None;
    let client = if flags.sandbox {
        let version = match connect::sandbox_version(flags) {
            Ok(version) => version,
            Err((code, message)) => return failed(code, &message),
        };
        match connect::start_sandbox(version, |_| Ok(())).await {
            Ok((sandbox, client)) => {
                line("api", &format!("the built-in sandbox at {} (flag --sandbox)", client.config().base_url));
                line("api version", &format!("{version} (the sandbox serves v1 and v2)"));
                _sandbox = Some(sandbox);
                client
            }
            Err((code, message)) => return failed(code, &message),
        }
    } else {
        let settings = match connect::settings(flags) {
            Ok(settings) => settings,
            Err(e) => return failed(exit::USAGE, &e.to_string()),
        };
        show_settings(&settings);
        let mut config = match settings.client_config() {
            Ok(config) => config,
            Err(e) => return failed(exit::HG_API, &e.to_string()),
        };
        // One try: doctor reports what happens, it does not wait out an outage.
        config.retry.max_attempts = 1;
        match HgClient::new(config) {
            Ok(client) => client,
            Err(e) => return failed(exit::USAGE, &e.to_string()),
        }
    };
    // A free call: the catalog on v1, the balance on v2 (its documented way to read credits).
    let (endpoint, payload, asked) = match client.config().version {
        ApiVersion::V1 => {
            (Endpoint::PRODUCTS, Payload::Query(vec![("limit".into(), "1".into())]), "GET /catalog/products?limit=1")
        }
        ApiVersion::V2 => (Endpoint::V2_CREDITS, Payload::Query(Vec::new()), "GET /credits"),
    };
    let started = Instant::now();
    let answer = client.send(endpoint, &payload).await;
    let elapsed = started.elapsed();
    let balance = match answer {
        Ok(page) => {
            line("request", &format!("{asked} (free) answered in {} ms", elapsed.as_millis()));
            (endpoint == Endpoint::V2_CREDITS).then(|| page.rows.into_iter().next()).flatten()
        }
        // v2 answers 402 at a zero balance, even here: the key works, its credits are spent.
        Err(e) if endpoint == Endpoint::V2_CREDITS && e.status() == Some(402) => {
            line("request", &format!("{asked} (free) answered 402: no credits remain on this key"));
            None
        }
        Err(e) => return failed(exit::HG_API, &e.to_string()),
    };
    let rate = client.rate_headers();
    let show = |v: Option<String>| v.unwrap_or_else(|| "not sent".to_string());
    line(
        "rate limit",
        &format!(
            "x-ratelimit-limit {}, remaining {}, reset {} s",
            show(rate.limit),
            show(rate.remaining),
            show(rate.reset)
        ),
    );
    let number = |row: &crate::api::Row, field: &str| row.get(field).and_then(FieldValue::as_i64);
    match (balance, client.metrics().credits_remaining) {
        (Some(row), _) if number(&row, "remaining").is_some() => {
            let remaining = number(&row, "remaining").unwrap_or_default();
            let total = number(&row, "total").map_or(String::new(), |t| format!(" of {t}"));
            line("credits", &format!("{remaining} remaining{total} (GET /credits)"));
        }
        (_, Some(credits)) => line("credits", &format!("{credits} remaining (x-credits-remaining)")),
        (_, None) => line("credits", "not reported by this API (no x-credits-remaining header)"),
    }
    if probe {
        match super::probe::run(&client, &line).await {
            Ok(0) => line("probe", "HG's answers have the shapes hgsql expects"),
            Ok(n) => line(
                "probe",
                &format!("{n} difference(s) from the shapes hgsql expects: please report them with this output"),
            ),
            Err(e) => return failed(exit::HG_API, &e.to_string()),
        }
    }
    exit::OK
}

fn show_settings(settings: &Settings) {
    let file_state = if settings.config_file.exists() { "" } else { " (not found)" };
    line("config file", &format!("{}{file_state}", settings.config_file.display()));
    sourced("profile", &settings.profile, |v| v.clone());
    match &settings.api_key {
        Some(key) => line("api key", &format!("set, not shown (from {})", key.source)),
        None => line("api key", "NOT SET: set HG_API_KEY, add api_key to the config file, or use --sandbox"),
    }
    sourced("base url", &settings.base_url, |v| v.clone());
    sourced("api version", &settings.api_version, |v| v.to_string());
    sourced("auth scheme", &settings.auth_scheme, |v| format!("{v:?}").to_lowercase());
    sourced("rate", &settings.rate, |v| match v {
        Some(rate) => format!("{rate} requests/s"),
        None => "no limit".to_string(),
    });
    sourced("max in flight", &settings.max_in_flight, |v| v.to_string());
    sourced("batch size", &settings.batch_size, |v| format!("{v} companies a request"));
    sourced("page size", &settings.page_size, |v| format!("{v} rows"));
    sourced("max attempts", &settings.max_attempts, |v| v.to_string());
    sourced("timeout", &settings.timeout, |v| format!("{} s", v.as_secs()));
}

fn sourced<T>(name: &str, setting: &Setting<T>, show: impl Fn(&T) -> String) {
    line(name, &format!("{} (from {})", show(&setting.value), setting.source));
}

fn line(name: &str, value: &str) {
    println!("{name:<14} {value}");
}

fn failed(code: u8, message: &str) -> u8 {
    eprintln!("error: {message}");
    code
}
