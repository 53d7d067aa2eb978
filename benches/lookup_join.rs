//! The README's enrichment at 10,000 accounts, run by hand:
//! `cargo bench --bench lookup_join`.
//!
//! An in-process sandbox with no rate limit (50,000 companies, so there are enough distinct
//! domains), a generated accounts CSV (9,000 known companies under assorted spellings, 500 of
//! them listed twice, 500 unknown domains), and `queries/enrich.sql` itself (match →
//! firmographics → installs of two products, the three formulas, written to Parquet) with its
//! input and output paths pointed at the generated files. It checks that the calls are
//! exactly the minimum (one match per distinct host, one firmographic per matched company,
//! ceil(companies / 25) installs: two products fit a batch in one page) and reports wall time
//! and peak memory (VmHWM, which includes the sandbox's own data set, measured before the query).
//!
//! Then the warm rerun: a new session (as a new process would be) on the same response cache,
//! which must make no call; and the same enrichment in plain DataFusion over the sandbox's
//! Parquet dump, with `hg.companies` as a SQL view doing the match, as the baseline.

#[path = "support/accounts.rs"]
mod accounts;

use std::io::Write;
use std::time::Instant;

use hgsql::api::{ApiKey, ClientConfig, HgClient, ResponseCache};
use hgsql::sandbox::{Sandbox, SandboxConfig};
use hgsql::session::Session;

const KNOWN: usize = 9_000;
const TWICE: usize = 500;
const UNKNOWN: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(run());
}

/// `VmHWM` / `VmRSS` of this process in MiB.
fn memory(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn run() {
    let config = SandboxConfig { rate: None, companies: 50_000, ..SandboxConfig::default() };
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    // One host per family (families share a domain); the sandbox's normal form is the host.
    let mut hosts = accounts::distinct_hosts(sandbox.data());
    hosts.truncate(KNOWN);
    assert_eq!(hosts.len(), KNOWN, "the data set has enough domains");
    let dir = tempfile::tempdir().expect("temp dir");
    let accounts = dir.path().join("accounts.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&accounts).expect("csv"));
    writeln!(csv, "account_id,account_name,website").unwrap();
    let mut n = 0;
    for (i, host) in hosts.iter().enumerate() {
        n += 1;
        writeln!(csv, "A{n},Account {n},{}", accounts::spell(host, i)).unwrap();
    }
    for (i, host) in hosts.iter().take(TWICE).enumerate() {
        n += 1;
        writeln!(csv, "A{n},Account {n},{}", accounts::spell(host, i + 3)).unwrap();
    }
    for i in 0..UNKNOWN {
        n += 1;
        writeln!(csv, "A{n},Account {n},unknown-{i}.example").unwrap();
    }
    csv.flush().unwrap();
    drop(csv);

    let cache_file = dir.path().join("cache.sqlite");
    let client_config = || {
        let cache = ResponseCache::open(&cache_file).expect("cache");
        ClientConfig {
            rate: None,
            cache: Some(std::sync::Arc::new(cache)),
            ..ClientConfig::new(sandbox.base_url(), ApiKey::new(sandbox.key()))
        }
    };
    let session = Session::with_client(HgClient::new(client_config()).expect("client"));
    let out = dir.path().join("enriched.parquet");
    let enrich =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/queries/enrich.sql")).expect("enrich.sql");
    for path in ["'queries/accounts.csv'", "'enriched.parquet'"] {
        assert!(enrich.contains(path), "queries/enrich.sql no longer reads or writes {path}");
    }
    let sql = enrich
        .replace("'queries/accounts.csv'", &format!("'{}'", accounts.display()))
        .replace("'enriched.parquet'", &format!("'{}'", out.display()));
    let rss_before = memory("VmRSS:");
    sandbox.reset_stats();
    let started = Instant::now();
    let results = session.run(&sql).await.expect("the enrichment runs");
    let wall = started.elapsed().as_secs_f64();
    let peak = memory("VmHWM:");
    let written = results.last().expect("the COPY").batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .map(|a| a.value(0));

    let stats = sandbox.stats();
    let calls = |endpoint: &str| stats["endpoints"][endpoint]["calls"].as_u64().unwrap_or(0);
    let rows = n;
    let (matched, firmographic, installs) =
        (calls("company/match"), calls("company/firmographic"), calls("company/installs"));
    let minimum = ((KNOWN + UNKNOWN) as u64, KNOWN as u64, KNOWN.div_ceil(25) as u64);
    println!(
        "enrichment of {rows} accounts (no rate limit): {wall:.2} s; rows written {written:?}; \
         calls match {matched} (min {}), firmographic {firmographic} (min {}), installs {installs} (min {}); \
         RSS before the query {rss_before:.0} MiB, peak {peak:.0} MiB",
        minimum.0, minimum.1, minimum.2
    );
    assert_eq!((matched, firmographic, installs), minimum, "calls must be exactly the minimum");
    assert_eq!(written, Some(rows as u64), "every account is kept");

    // The warm rerun: a new session on the same cache (closing the first writes out its cache).
    drop(session);
    let session = Session::with_client(HgClient::new(client_config()).expect("client"));
    sandbox.reset_stats();
    let started = Instant::now();
    session.run(&sql).await.expect("the rerun");
    let warm = started.elapsed().as_secs_f64();
    let stats = sandbox.stats();
    let all_calls: u64 =
        stats["endpoints"].as_object().map_or(0, |e| e.values().filter_map(|v| v["calls"].as_u64()).sum());
    let hits = session.client().expect("client").metrics().total().cache_hits;
    println!("warm rerun from the cache: {warm:.2} s, {all_calls} calls, {hits} cache hits");
    assert_eq!(all_calls, 0, "the rerun makes no call");

    // The baseline: plain DataFusion over the dump, the match done by a SQL view.
    let dump_dir = dir.path().join("dump");
    let started = Instant::now();
    hgsql::sandbox::dump(SandboxConfig::default().seed, 50_000, &dump_dir).expect("dump");
    let dumped = started.elapsed().as_secs_f64();
    let ctx = datafusion::prelude::SessionContext::new().enable_url_table();
    let catalog = ctx.catalog("datafusion").expect("catalog");
    catalog.register_schema("hg", std::sync::Arc::new(datafusion::catalog::MemorySchemaProvider::new())).expect("hg");
    for table in ["firmographics", "installs"] {
        let path = dump_dir.join(format!("{table}.parquet"));
        ctx.register_parquet(format!("hg.{table}"), path.to_str().expect("utf-8"), Default::default())
            .await
            .expect("dump table");
    }
    let baseline_out = dir.path().join("baseline.parquet");
    let baseline = format!(
        "CREATE TABLE match_inputs AS SELECT DISTINCT website AS input FROM '{}' WHERE website IS NOT NULL;\n{};\n{}",
        accounts.display(),
        hgsql::sandbox::companies_view_sql("hg.companies", "match_inputs"),
        sql.replace(&format!("'{}'", out.display()), &format!("'{}'", baseline_out.display()))
    );
    let started = Instant::now();
    for statement in hgsql::script::split(&baseline) {
        ctx.sql(&statement.text).await.expect("baseline plans").collect().await.expect("baseline runs");
    }
    let plain = started.elapsed().as_secs_f64();
    println!(
        "plain DataFusion over the dump (written in {dumped:.2} s): {plain:.2} s; warm rerun / baseline = {:.2}",
        warm / plain
    );
}
