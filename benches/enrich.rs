//! The main job end to end, against the built-in sandbox, beside the per-row pattern people use
//! today. Run by hand (release build; about 15 minutes, most of it the two baselines):
//!
//! ```sh
//! cargo bench --bench enrich            # the grid in the README
//! cargo bench --bench enrich -- quick   # 1k accounts only, no 100k, no baselines
//! cargo bench --bench enrich -- scaling # 10k and 100k, unlimited, 0 ms (add no-cache: without the cache)
//! cargo bench --bench enrich -- v2      # HG's v2 beside v1: 2k accounts on both, 10k on v2, 25/s, 30 ms
//! cargo bench --bench enrich -- million # 100k, 1M, then 100k again, over 60% as many hosts, unlimited, 0 ms
//! ```
//!
//! `million` prints t(1M) / t(100k) with the 100k time the mean of the runs before and after
//! the million: a shared machine's speed drifts over the minutes a million takes, and
//! bracketing it keeps that drift out of the ratio.
//!
//! Each scenario generates an accounts CSV of N rows (90% known companies under assorted
//! spellings, 5% of those listed again in another spelling, 5% unknown domains), starts a
//! sandbox in this process with the scenario's rate limit and latency, and runs the `hgsql`
//! binary on `queries/enrich.sql` (match → firmographics → installs of two products → Parquet)
//! as a user would: a separate process, its own response cache. It reports wall time, the
//! rate-limit floor ((minimum calls − burst) / rate), efficiency = floor / wall, calls made
//! against the minimum (v1: one match per distinct host, one firmographic per matched company,
//! ceil(companies / 25) install batches; v2: ceil(hosts / 10) matches and ceil(companies / 25)
//! enrich requests, firmographics and installs in one), the client's CPU seconds per 1,000 calls (from
//! `wait4`) and peak RSS (its VmHWM), then the warm rerun on the same cache, which must make no
//! call.
//!
//! The baselines do what a spreadsheet column does: for each account in order, one request per
//! endpoint (match, firmographic, installs), sleeping `Retry-After` on a 429. One pauses 200 ms
//! between rows, as a common hand-written enrichment script does; the other is a plain sequential loop.

#[path = "support/accounts.rs"]
mod accounts;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hgsql::api::ApiVersion;
use hgsql::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// A client's burst before the rate applies, as HG and the sandbox have it.
const BURST: u32 = 25;
/// Companies in the sandbox data set: enough distinct domains for 100k accounts.
const COMPANIES: usize = 400_000;
/// Companies for `million`: about 560,000 families, so 550,000 distinct known hosts.
const MILLION_COMPANIES: usize = 1_600_000;
/// In `million`, distinct hosts per account (a CRM repeats companies), as in the account lists
/// that prompted it: 600,000 hosts for 1,000,000 accounts.
const MILLION_HOSTS_PER_ACCOUNT: f64 = 0.6;

#[derive(Clone, Copy)]
struct Scenario {
    accounts: usize,
    /// Distinct known hosts the known accounts spread over; `None`: one each.
    known_hosts: Option<usize>,
    rate: Option<f64>,
    latency_ms: u64,
    baselines: bool,
    version: ApiVersion,
}

impl Scenario {
    fn label(&self) -> String {
        let rate = self.rate.map_or("unlimited".to_string(), |r| format!("{r:.0}/s"));
        let hosts = self.known_hosts.map_or(String::new(), |h| format!(" ({} hosts)", h + self.accounts * 5 / 100));
        format!("{} accounts{hosts}, {rate}, {} ms, {}", self.accounts, self.latency_ms, self.version)
    }
}

fn grid(quick: bool, scaling: bool, v2: bool, million: bool) -> Vec<Scenario> {
    let s = |accounts, rate, latency_ms, baselines| Scenario {
        accounts,
        known_hosts: None,
        rate,
        latency_ms,
        baselines,
        version: ApiVersion::V1,
    };
    let on_v2 = |scenario: Scenario| Scenario { version: ApiVersion::V2, ..scenario };
    if million {
        // Unknown hosts are 5% of the accounts, each its own: the known ones make up the rest.
        let repeating = |accounts: usize| Scenario {
            known_hosts: Some((accounts as f64 * MILLION_HOSTS_PER_ACCOUNT) as usize - accounts * 5 / 100),
            ..s(accounts, None, 0, false)
        };
        return vec![repeating(100_000), repeating(1_000_000), repeating(100_000)];
    }
    if v2 {
        return vec![
            s(2_000, Some(25.0), 30, false),
            on_v2(s(2_000, Some(25.0), 30, false)),
            on_v2(s(10_000, Some(25.0), 30, false)),
        ];
    }
    if scaling {
        return vec![s(10_000, None, 0, false), s(100_000, None, 0, false)];
    }
    if quick {
        return vec![s(1_000, Some(25.0), 30, false), s(1_000, None, 0, false)];
    }
    vec![
        s(1_000, Some(25.0), 30, true),
        s(1_000, Some(25.0), 0, false),
        s(1_000, None, 30, false),
        s(10_000, None, 30, false),
        s(1_000, None, 0, false),
        s(10_000, None, 0, false),
        s(100_000, None, 0, false),
    ]
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let scaling = std::env::args().any(|a| a == "scaling");
    let v2 = std::env::args().any(|a| a == "v2");
    let million = std::env::args().any(|a| a == "million");
    let companies = if million { MILLION_COMPANIES } else { COMPANIES };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("{}", machine());
    let started = Instant::now();
    let data = hgsql::sandbox::DataSet::shared(SandboxConfig::default().seed, companies);
    let hosts = accounts::distinct_hosts(&data);
    println!(
        "sandbox data set: {companies} companies, {} domains, generated in {:.1} s\n",
        hosts.len(),
        started.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();
    // (accounts, cold wall seconds) of each scenario, in order.
    let mut cold = Vec::new();
    for scenario in grid(quick, scaling, v2, million) {
        let (scenario_rows, wall) = runtime.block_on(run(scenario, &hosts, companies));
        rows.extend(scenario_rows);
        cold.push((scenario.accounts, wall));
    }
    println!(
        "\n| scenario | run | wall s | floor s | efficiency | calls (min) | 429s | CPU s / 1k calls | peak RSS MiB | time vs hgsql |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    if million {
        let walls =
            |n: usize| cold.iter().filter(|(accounts, _)| *accounts == n).map(|(_, wall)| *wall).collect::<Vec<_>>();
        let (small, large) = (walls(100_000), walls(1_000_000));
        let small_mean = small.iter().sum::<f64>() / small.len() as f64;
        let shown: Vec<String> = small.iter().map(|w| format!("{w:.2} s")).collect();
        println!(
            "\nt(1M) / t(100k) = {:.2} / {small_mean:.2} = {:.2} (100k before and after: {})",
            large[0],
            large[0] / small_mean,
            shown.join(", ")
        );
    }
}

/// Model name, cores and memory of this machine.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("machine: {}, {cores} cores, {:.0} GiB", model.trim(), mem_kb / 1024.0 / 1024.0)
}

/// The accounts: 90% known hosts (over `known_hosts` distinct ones, in turn, when given), 5% of
/// them again in another spelling, 5% unknown. Returns the websites in row order and the
/// minimum calls (match, firmographic, installs).
fn accounts(dir: &Path, n: usize, known_hosts: Option<usize>, hosts: &[String]) -> (Vec<String>, [u64; 3]) {
    let known = n * 90 / 100;
    let twice = n * 5 / 100;
    let unknown = n - known - twice;
    let distinct = known_hosts.unwrap_or(known).min(known);
    assert!(hosts.len() >= distinct, "the data set has {} domains, {distinct} needed", hosts.len());
    // Spread over the data set, so each size draws from all of it.
    let step = hosts.len() / distinct;
    let chosen: Vec<&String> = (0..known).map(|i| &hosts[(i % distinct) * step]).collect();
    let mut websites = Vec::with_capacity(n);
    for (i, host) in chosen.iter().enumerate() {
        websites.push(accounts::spell(host, i));
    }
    for (i, host) in chosen.iter().take(twice).enumerate() {
        websites.push(accounts::spell(host, i + 3));
    }
    for i in 0..unknown {
        websites.push(format!("unknown-{i}.example"));
    }
    std::fs::create_dir_all(dir.join("queries")).expect("queries dir");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(dir.join("queries/accounts.csv")).expect("csv"));
    writeln!(csv, "account_id,account_name,website").unwrap();
    for (i, website) in websites.iter().enumerate() {
        writeln!(csv, "A{i},Account {i},{website}").unwrap();
    }
    csv.flush().unwrap();
    (websites, minimum(distinct, unknown, ApiVersion::V1))
}

/// The fewest requests the main job can take: (match, firmographic, installs) on v1; (match,
/// enrich, 0) on v2, where one enrich request carries both field groups.
fn minimum(known: usize, unknown: usize, version: ApiVersion) -> [u64; 3] {
    let hosts = (known + unknown) as u64;
    match version {
        ApiVersion::V1 => [hosts, known as u64, known.div_ceil(25) as u64],
        ApiVersion::V2 => [hosts.div_ceil(10), known.div_ceil(25) as u64, 0],
    }
}

/// What one `hgsql` process cost.
struct Measured {
    wall: f64,
    cpu: f64,
    peak_rss_mib: f64,
    calls: u64,
    throttled: u64,
}

/// Runs the binary on `queries/enrich.sql` in `dir` and waits for it with `wait4`, for its
/// CPU time and peak RSS.
fn hgsql(dir: &Path, sandbox: &Sandbox, rate: Option<f64>, version: ApiVersion) -> Measured {
    let config = dir.join("config/hgsql");
    std::fs::create_dir_all(&config).expect("config dir");
    let profile = format!("[profiles.default]\nrate = {}\n", rate.unwrap_or(0.0));
    std::fs::write(config.join("config.toml"), profile).expect("config");
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/enrich.sql");
    sandbox.reset_stats();
    let started = Instant::now();
    #[expect(clippy::zombie_processes, reason = "reaped by wait4 below, which also reads its rusage")]
    let child = Command::new(env!("CARGO_BIN_EXE_hgsql"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HG_API_KEY", if version == ApiVersion::V2 { sandbox.key_v2() } else { sandbox.key().to_string() })
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .args(["--base-url", &if version == ApiVersion::V2 { sandbox.base_url_v2() } else { sandbox.base_url() }])
        .args(std::env::args().any(|a| a == "no-cache").then_some("--no-cache"))
        .arg("-f")
        .arg(&sql)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("hgsql starts");
    let pid = child.id() as libc::pid_t;
    // Peak RSS from the child's own VmHWM, polled until it exits: wait4's ru_maxrss would
    // include this process's (the sandbox's data set), which the child starts from.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak_kb = 0.0_f64;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1));
                if let Some(kb) = hwm.and_then(|kb| kb.parse::<f64>().ok()) {
                    peak_kb = peak_kb.max(kb);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            peak_kb
        })
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_kb = poller.join().expect("poller");
    assert_eq!(waited, pid, "wait4");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "hgsql failed: status {status}");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let stats = sandbox.stats();
    let calls = stats["endpoints"].as_object().map_or(0, |e| e.values().filter_map(|v| v["calls"].as_u64()).sum());
    Measured {
        wall,
        cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        peak_rss_mib: peak_kb / 1024.0,
        calls,
        throttled: stats["rate_limited"].as_u64().unwrap_or(0),
    }
}

/// Requests answered 200 per endpoint (a 429 is a call too, counted in the table apart), in
/// the order of [`minimum`].
fn endpoint_calls(stats: &Value, version: ApiVersion) -> [u64; 3] {
    let calls = |e: &str| stats["endpoints"][e]["status"]["200"].as_u64().unwrap_or(0);
    match version {
        ApiVersion::V1 => [calls("company/match"), calls("company/firmographic"), calls("company/installs")],
        ApiVersion::V2 => [calls("v2/companies/match"), calls("v2/companies/enrich"), 0],
    }
}

fn sandbox_config(scenario: Scenario, companies: usize) -> SandboxConfig {
    SandboxConfig {
        rate: scenario.rate,
        burst: BURST,
        latency: Duration::from_millis(scenario.latency_ms),
        credits: None,
        companies,
        ..SandboxConfig::default()
    }
}

/// Runs one scenario: its table rows, and the first (cold) run's wall seconds.
async fn run(scenario: Scenario, hosts: &[String], companies: usize) -> (Vec<String>, f64) {
    let label = scenario.label();
    let dir = tempfile::tempdir().expect("temp dir");
    let (websites, v1_minimum) = accounts(dir.path(), scenario.accounts, scenario.known_hosts, hosts);
    let (known, unknown) = (v1_minimum[1] as usize, (v1_minimum[0] - v1_minimum[1]) as usize);
    let minimum = minimum(known, unknown, scenario.version);
    let min_calls: u64 = minimum.iter().sum();
    let version = scenario.version;
    let sandbox = Sandbox::start(sandbox_config(scenario, companies)).await.expect("sandbox");
    let path = dir.path().to_path_buf();
    let rate = scenario.rate;
    let (first, stats) = {
        let sandbox = &sandbox;
        tokio::task::block_in_place(|| (hgsql(&path, sandbox, rate, version), sandbox.stats()))
    };
    let calls = endpoint_calls(&stats, version);
    assert_eq!(calls, minimum, "{label}: calls (match, firmographic, installs; v2: match, enrich) must be the minimum");
    let written = parquet_rows(&dir.path().join("enriched.parquet")).await;
    assert_eq!(written, scenario.accounts, "{label}: every account is written");
    let floor = rate.map(|r| (min_calls.saturating_sub(BURST as u64)) as f64 / r);
    let mut rows = vec![row(&label, "hgsql", &first, floor, min_calls, None)];
    println!(
        "{label}: hgsql {:.2} s, {} calls (min {min_calls}), peak RSS {:.0} MiB",
        first.wall, first.calls, first.peak_rss_mib
    );

    if std::env::args().any(|a| a == "no-cache") {
        return (rows, first.wall);
    }
    let warm = tokio::task::block_in_place(|| hgsql(&path, &sandbox, rate, version));
    assert_eq!(warm.calls, 0, "{label}: the warm rerun makes no call");
    rows.push(row(&label, "hgsql, warm rerun", &warm, None, 0, Some(warm.wall / first.wall)));
    println!("{label}: warm rerun {:.2} s, {} calls", warm.wall, warm.calls);

    if scenario.baselines {
        for (name, pause) in
            [("per row, 200 ms pause (seed 002)", Duration::from_millis(200)), ("per row, plain loop", Duration::ZERO)]
        {
            // A fresh sandbox: a full token bucket, as for hgsql.
            let sandbox = Sandbox::start(sandbox_config(scenario, companies)).await.expect("sandbox");
            let started = Instant::now();
            let matched = per_row(&sandbox, &websites, pause).await;
            let wall = started.elapsed().as_secs_f64();
            let stats = sandbox.stats();
            let calls: u64 = endpoint_calls(&stats, ApiVersion::V1).iter().sum();
            let expected = minimum[1] as usize + scenario.accounts * 5 / 100;
            if matched != expected {
                println!("{label}: {name} matched {matched} accounts, hgsql {expected}");
            }
            let measured = Measured {
                wall,
                cpu: f64::NAN,
                peak_rss_mib: f64::NAN,
                calls,
                throttled: stats["rate_limited"].as_u64().unwrap_or(0),
            };
            let line = row(&label, name, &measured, floor, min_calls, Some(wall / first.wall));
            println!("{label}: {name} {wall:.1} s, {calls} calls, {:.1}× hgsql", wall / first.wall);
            rows.push(line);
        }
    }
    (rows, first.wall)
}

fn row(label: &str, run: &str, m: &Measured, floor: Option<f64>, min_calls: u64, ratio: Option<f64>) -> String {
    let ratio = ratio.map_or("—".to_string(), |r| format!("{r:.2}×"));
    let floor_text = floor.map_or("—".to_string(), |f| format!("{f:.1}"));
    let efficiency = floor.map_or("—".to_string(), |f| format!("{:.3}", f / m.wall));
    let cpu = if m.cpu.is_nan() || m.calls == 0 {
        "—".to_string()
    } else {
        format!("{:.3}", m.cpu / m.calls as f64 * 1000.0)
    };
    let rss = if m.peak_rss_mib.is_nan() { "—".to_string() } else { format!("{:.0}", m.peak_rss_mib) };
    format!(
        "| {label} | {run} | {:.2} | {floor_text} | {efficiency} | {} ({min_calls}) | {} | {cpu} | {rss} | {ratio} |",
        m.wall, m.calls, m.throttled
    )
}

async fn parquet_rows(path: &Path) -> usize {
    let ctx = datafusion::prelude::SessionContext::new();
    let df = ctx.read_parquet(path.to_str().expect("utf-8"), Default::default()).await.expect("output readable");
    df.count().await.expect("count")
}

/// The per-row pattern: for each account in order, match its website, then ask for the
/// firmographics and the two products' installs of the company found, one request each; a 429
/// waits `Retry-After` seconds (5 when absent) and tries again. Returns the accounts matched.
async fn per_row(sandbox: &Sandbox, websites: &[String], pause: Duration) -> usize {
    let http = reqwest::Client::new();
    let base = sandbox.base_url();
    let auth = format!("Bearer {}", sandbox.key());
    let send = |request: reqwest::RequestBuilder| {
        let auth = auth.clone();
        async move {
            loop {
                let response =
                    request.try_clone().expect("clonable").header("Authorization", &auth).send().await.expect("sent");
                if response.status() == 429 {
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(5.0);
                    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                    continue;
                }
                assert!(response.status().is_success(), "{}", response.status());
                return response.json::<Value>().await.expect("JSON");
            }
        }
    };
    let mut matched = 0;
    for website in websites {
        let found =
            send(http.get(format!("{base}/company/match")).query(&[("domain_name", website.as_str()), ("limit", "1")]))
                .await;
        if let Some(id) = found["data"][0]["company_id"].as_str() {
            matched += 1;
            let fields = ["company_id", "revenue_band", "employees_total", "industry_name", "country_code"];
            send(http.post(format!("{base}/company/firmographic")).json(&json!({"company_id": id, "fields": fields})))
                .await;
            let filters =
                json!({"company_ids": [id], "products": {"ids": [814, 1023], "inclusion_method": "ANY_PRESENT"}});
            let body = json!({"fields": ["product_id", "product_name", "product_last_verified_date"], "filters": filters, "limit": 100});
            send(http.post(format!("{base}/company/installs")).json(&body)).await;
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    matched
}
