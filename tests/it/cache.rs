//! The response cache and the credit budget, as a user meets them through the binary: a rerun
//! makes no call, a killed run resumes without paying twice, `--max-credits` is never passed,
//! `--dry-run` spends nothing, and the cache file never holds the key. Each test runs on HG's
//! v1 and on v2 (`…_on_v2`): the same guarantees, counted in each version's requests.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use hgsql::api::ApiVersion::{self, V1, V2};

use super::cli::{SandboxProcess, finish, firmographic_lookups};
use crate::support::wait_until;

fn calls(stats: &Value, endpoint: &str) -> u64 {
    stats["endpoints"][endpoint]["calls"].as_u64().unwrap_or(0)
}

/// Firmographic lookups (v1 requests, v2 companies) between `before` and `after`.
fn lookups(before: &Value, after: &Value, version: ApiVersion) -> u64 {
    firmographic_lookups(after, version) - firmographic_lookups(before, version)
}

/// The sandbox's company ids, first `n` in id order, written as a CSV of accounts.
fn accounts(sandbox: &SandboxProcess, dir: &Path, n: usize) -> std::path::PathBuf {
    let out = super::cli::run(sandbox.hgsql().env("XDG_CACHE_HOME", dir.join("ids-cache")).args([
        "--format",
        "csv",
        "-c",
        &format!("SELECT company_id FROM hg.search ORDER BY company_id LIMIT {n}"),
    ]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = dir.join("accounts.csv");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn enrichment(accounts: &Path) -> String {
    format!(
        "SELECT a.company_id, f.employees_total, count(i.product_id) AS installs \
         FROM '{}' a JOIN hg.firmographics f ON f.company_id = a.company_id \
         LEFT JOIN hg.installs i ON i.company_id = a.company_id \
         GROUP BY a.company_id, f.employees_total ORDER BY a.company_id",
        accounts.display()
    )
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let out = super::cli::run(command);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_second_run_makes_no_call_and_a_different_batching_still_hits() {
    second_run_makes_no_call(V1);
}

#[test]
fn a_second_run_makes_no_call_and_a_different_batching_still_hits_on_v2() {
    second_run_makes_no_call(V2);
}

fn second_run_makes_no_call(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "400", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 120);
    let cache = dir.path().join("cache");
    let query = enrichment(&accounts);
    let before = sandbox.stats();
    let (code, first, err) =
        run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["--format", "csv", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    let after_first = sandbox.stats();
    assert_eq!(lookups(&before, &after_first, version), 120);
    let installs = match version {
        V1 => calls(&after_first, "company/installs") - calls(&before, "company/installs"),
        V2 => calls(&after_first, "v2/companies/enrich") - calls(&before, "v2/companies/enrich") - 5,
    };
    assert!(installs >= 5, "120 in batches of 25: {installs}");

    let (code, second, err) = run(sandbox
        .hgsql_on(version)
        .env("XDG_CACHE_HOME", &cache)
        .args(["--format", "csv", "--timing", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(second, first, "the cache gives the same answer");
    let after_second = sandbox.stats();
    assert_eq!(after_second["endpoints"], after_first["endpoints"], "no request at all");
    assert!(err.contains("0 HG calls") && err.contains("240 cache hits"), "{err}");

    // Every 7th account, so installs batches differ from the first run's: still all cached.
    let subset = format!(
        "SELECT count(*) AS n FROM (SELECT company_id FROM '{}' ORDER BY company_id) a JOIN hg.installs i ON i.company_id = a.company_id WHERE a.company_id IN (SELECT company_id FROM '{}' ORDER BY company_id LIMIT 60)",
        accounts.display(),
        accounts.display()
    );
    let (code, _, err) = run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["-c", &subset]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(sandbox.stats()["endpoints"], after_first["endpoints"]);

    // --refresh asks again; --no-cache neither reads nor writes; a TTL of 0 refetches.
    let (code, _, err) = run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["--refresh", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    let refreshed = sandbox.stats();
    assert_eq!(lookups(&after_first, &refreshed, version), 120);
    let (code, _, err) = run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args([
        "-c",
        "SET hg.cache_ttl = '0'",
        "-c",
        &query,
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lookups(&refreshed, &sandbox.stats(), version), 120);
    let fresh_cache = dir.path().join("untouched");
    let (code, _, err) =
        run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &fresh_cache).args(["--no-cache", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!fresh_cache.exists(), "--no-cache writes no cache file");
    assert_eq!(sandbox.stats()["companies_charged"], after_first["companies_charged"], "nobody charged twice");
}

#[test]
fn a_run_killed_midway_resumes_paying_only_for_what_it_lacks() {
    killed_midway(V1);
}

#[test]
fn a_run_killed_midway_resumes_paying_only_for_what_it_lacks_on_v2() {
    killed_midway(V2);
}

fn killed_midway(version: ApiVersion) {
    // At HG's 25 requests/s, 300 firmographic lookups take about 11 s on v1; v2's 12 requests
    // of 25, one at a time taking 0.5 s each, about 6 s: the kill lands midway.
    let slow = ["--latency-ms", "500"];
    let sandbox =
        SandboxProcess::start(&[&["--companies", "500"][..], if version == V2 { &slow } else { &[] }].concat());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("hgsql")).unwrap();
    let in_flight = if version == V1 { 8 } else { 1 };
    std::fs::write(config.join("hgsql/config.toml"), format!("[profiles.default]\nmax_in_flight = {in_flight}\n"))
        .unwrap();
    let accounts = accounts(&sandbox, dir.path(), 300);
    let cache = dir.path().join("cache");
    let target = dir.path().join("out.csv");
    let query = format!(
        "SELECT a.company_id, f.employees_total FROM '{}' a JOIN hg.firmographics f ON f.company_id = a.company_id ORDER BY 1",
        accounts.display()
    );
    let start = sandbox.stats();
    let mut child = sandbox
        .hgsql_on(version)
        .env("XDG_CACHE_HOME", &cache)
        .env("XDG_CONFIG_HOME", &config)
        .args(["-c", &query, "-o"])
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("100 lookups answered", || lookups(&start, &sandbox.stats(), version) >= 100);
    child.kill().unwrap(); // SIGKILL: no cleanup runs
    child.wait().unwrap();
    let at_kill = lookups(&start, &sandbox.stats(), version);
    assert!(at_kill < 300, "killed midway, after {at_kill} calls");
    assert!(!target.exists(), "no output from the killed run");

    let (code, _, err) = run(sandbox
        .hgsql_on(version)
        .env("XDG_CACHE_HOME", &cache)
        .env("XDG_CONFIG_HOME", &config)
        .args(["-c", &query, "-o"])
        .arg(&target));
    assert_eq!(code, Some(0), "{err}");
    let end = sandbox.stats();
    let total = lookups(&start, &end, version);
    // One clean run answers 300 lookups; asked again are those in flight at the kill (at most 8
    // requests on v1, 1 on v2 here) and those answered in the writer's last gathering window
    // (50 ms: at most 2 requests). A v2 request carries 25 companies.
    let again = if version == V1 { 10 } else { 2 * 25 };
    assert!((300..=300 + again).contains(&total), "lookups over both runs: {total}");
    let charged = end["companies_charged"].as_u64().unwrap() - start["companies_charged"].as_u64().unwrap();
    assert_eq!(charged, 300, "each company charged once over both runs");
    let rows = std::fs::read_to_string(&target).unwrap();
    assert_eq!(rows.lines().count(), 301, "all 300 accounts, with a header");
}

#[test]
fn max_credits_is_never_passed_and_says_what_to_do() {
    max_credits(V1);
}

#[test]
fn max_credits_is_never_passed_and_says_what_to_do_on_v2() {
    max_credits(V2);
}

fn max_credits(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "400", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 100);
    let cache = dir.path().join("cache");
    let query = format!(
        "SELECT count(*) AS n FROM '{}' a JOIN hg.firmographics f ON f.company_id = a.company_id",
        accounts.display()
    );
    let charged_before = sandbox.stats()["companies_charged"].as_u64().unwrap();
    let (code, stdout, err) =
        run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["--max-credits", "30", "-c", &query]));
    assert_eq!(code, Some(3), "{err}");
    assert!(stdout.is_empty());
    assert!(err.contains("credit budget of 30") && err.contains("--max-credits"), "{err}");
    let charged = sandbox.stats()["companies_charged"].as_u64().unwrap() - charged_before;
    assert!(charged <= 30, "the ledger says {charged}");
    assert!(charged >= 20, "it spent up to the budget before stopping: {charged}");

    // SET works the same way; with room for the rest, the rerun pays only for the rest.
    let (code, stdout, err) = run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args([
        "-c",
        "SET hg.max_credits = 100",
        "-c",
        &query,
    ]));
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("| 100 |"), "{stdout}");
    assert_eq!(sandbox.stats()["companies_charged"].as_u64().unwrap() - charged_before, 100, "nobody charged twice");
}

#[test]
fn dry_run_reports_the_cost_and_spends_nothing() {
    dry_run(V1);
}

#[test]
fn dry_run_reports_the_cost_and_spends_nothing_on_v2() {
    dry_run(V2);
}

fn dry_run(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "400", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 60);
    let cache = dir.path().join("cache");
    let target = dir.path().join("out.parquet");
    let copy = format!("COPY ({}) TO '{}'", enrichment(&accounts), target.display());
    let before = sandbox.stats();
    let (code, stdout, err) =
        run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["--dry-run", "-c", &copy]));
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.is_empty(), "a dry run prints no result: {stdout}");
    assert!(!target.exists(), "a dry run writes no file");
    // 60 firmographic requests and 3 installs batches on v1; 3 enrich batches each on v2.
    let requests = if version == V1 { 63 } else { 6 };
    assert!(err.contains(&format!("dry run: {requests} charged requests not made, up to 120 credits")), "{err}");
    let after = sandbox.stats();
    assert_eq!(after["companies_charged"], before["companies_charged"]);
    assert_eq!(lookups(&before, &after, version), 0);
    assert_eq!(calls(&after, "v2/companies/enrich"), calls(&before, "v2/companies/enrich"));

    let (code, _, err) = run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["-c", &copy]));
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["--dry-run", "-c", &copy]));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("dry run: 0 charged requests not made, up to 0 credits; 120 lookups answered from the cache"),
        "{err}"
    );
}

#[test]
fn the_cache_file_never_holds_the_key() {
    cache_holds_no_key(V1);
}

#[test]
fn the_cache_file_never_holds_the_key_on_v2() {
    cache_holds_no_key(V2);
}

fn cache_holds_no_key(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "200", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 30);
    let cache = dir.path().join("cache");
    let (code, _, err) =
        run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["-c", &enrichment(&accounts)]));
    assert_eq!(code, Some(0), "{err}");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(cache.join("hgsql")).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("firmographic") && text.contains(&sandbox.url_of(version)), "the cache holds answers");
    assert!(!text.contains(sandbox.key), "the key is in the cache file");
    assert!(!text.contains(&sandbox.key_of(version)), "the key is in the cache file");
}

#[test]
fn processes_sharing_one_cache_leave_it_whole() {
    processes_share_one_cache(V1);
}

#[test]
fn processes_sharing_one_cache_leave_it_whole_on_v2() {
    processes_share_one_cache(V2);
}

fn processes_share_one_cache(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "400", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 200);
    let cache = dir.path().join("cache");
    // Four processes at once, over overlapping halves of the accounts.
    let children: Vec<_> = (0..4)
        .map(|i| {
            let query = format!(
                "SELECT count(*) FROM (SELECT company_id FROM '{}' ORDER BY company_id LIMIT 100 OFFSET {}) a \
                 JOIN hg.firmographics f ON f.company_id = a.company_id",
                accounts.display(),
                (i % 3) * 50
            );
            sandbox
                .hgsql_on(version)
                .env("XDG_CACHE_HOME", &cache)
                .args(["-c", &query])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = finish(child, &format!("process {i} of 4 sharing the cache"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let file = cache.join("hgsql").join("cache.sqlite");
    let connection = rusqlite::Connection::open(&file).unwrap();
    let check: String = connection.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    // Everything the four asked for is there: the first 200 accounts, once each.
    let answers: i64 = connection
        .query_row(
            "SELECT count(DISTINCT item) FROM response WHERE endpoint = ?1",
            [if version == V1 { "firmographic" } else { "v2 firmographics" }],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(answers, 200);
    let before = sandbox.stats();
    let query = format!(
        "SELECT count(*) FROM '{}' a JOIN hg.firmographics f ON f.company_id = a.company_id",
        accounts.display()
    );
    let (code, _, err) = run(sandbox.hgsql_on(version).env("XDG_CACHE_HOME", &cache).args(["-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lookups(&before, &sandbox.stats(), version), 0, "all from the cache");
}
