//! The response cache and the credit budget, as a user meets them through the binary: a rerun
//! makes no call, a killed run resumes without paying twice, `--max-credits` is never passed,
//! `--dry-run` spends nothing, and the cache file never holds the key.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::cli::{SandboxProcess, finish};
use crate::support::wait_until;

fn calls(stats: &Value, endpoint: &str) -> u64 {
    stats["endpoints"][endpoint]["calls"].as_u64().unwrap_or(0)
}

/// Requests answered with data (200): a 429 retried is not a lookup made twice.
fn answered(stats: &Value, endpoint: &str) -> u64 {
    stats["endpoints"][endpoint]["status"]["200"].as_u64().unwrap_or(0)
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
    let sandbox = SandboxProcess::start(&["--companies", "400", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 120);
    let cache = dir.path().join("cache");
    let query = enrichment(&accounts);
    let before = sandbox.stats();
    let (code, first, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["--format", "csv", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    let after_first = sandbox.stats();
    assert_eq!(calls(&after_first, "company/firmographic") - calls(&before, "company/firmographic"), 120);
    assert!(calls(&after_first, "company/installs") - calls(&before, "company/installs") >= 5, "120 in batches of 25");

    let (code, second, err) =
        run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["--format", "csv", "--timing", "-c", &query]));
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
    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["-c", &subset]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(sandbox.stats()["endpoints"], after_first["endpoints"]);

    // --refresh asks again; --no-cache neither reads nor writes; a TTL of 0 refetches.
    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["--refresh", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    let refreshed = sandbox.stats();
    assert_eq!(calls(&refreshed, "company/firmographic") - calls(&after_first, "company/firmographic"), 120);
    let (code, _, err) =
        run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["-c", "SET hg.cache_ttl = '0'", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(calls(&sandbox.stats(), "company/firmographic") - calls(&refreshed, "company/firmographic"), 120);
    let fresh_cache = dir.path().join("untouched");
    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &fresh_cache).args(["--no-cache", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    assert!(!fresh_cache.exists(), "--no-cache writes no cache file");
    assert_eq!(sandbox.stats()["companies_charged"], after_first["companies_charged"], "nobody charged twice");
}

#[test]
fn a_run_killed_midway_resumes_paying_only_for_what_it_lacks() {
    // At HG's 25 requests/s, 300 firmographic lookups take about 11 s: the kill lands midway.
    let sandbox = SandboxProcess::start(&["--companies", "500"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 300);
    let cache = dir.path().join("cache");
    let target = dir.path().join("out.csv");
    let query = format!(
        "SELECT a.company_id, f.employees_total FROM '{}' a JOIN hg.firmographics f ON f.company_id = a.company_id ORDER BY 1",
        accounts.display()
    );
    let start = answered(&sandbox.stats(), "company/firmographic");
    let mut child = sandbox
        .hgsql()
        .env("XDG_CACHE_HOME", &cache)
        .args(["-c", &query, "-o"])
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("100 lookups answered", || answered(&sandbox.stats(), "company/firmographic") - start >= 100);
    child.kill().unwrap(); // SIGKILL: no cleanup runs
    child.wait().unwrap();
    let at_kill = answered(&sandbox.stats(), "company/firmographic") - start;
    assert!(at_kill < 300, "killed midway, after {at_kill} calls");
    assert!(!target.exists(), "no output from the killed run");

    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["-c", &query, "-o"]).arg(&target));
    assert_eq!(code, Some(0), "{err}");
    let total = answered(&sandbox.stats(), "company/firmographic") - start;
    // One clean run answers 300 lookups; asked again are those in flight at the kill (at most 8)
    // and those answered in the writer's last gathering window (50 ms: at most 2 at 25/s).
    assert!((300..=310).contains(&total), "calls over both runs: {total}");
    let rows = std::fs::read_to_string(&target).unwrap();
    assert_eq!(rows.lines().count(), 301, "all 300 accounts, with a header");
}

#[test]
fn max_credits_is_never_passed_and_says_what_to_do() {
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
        run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["--max-credits", "30", "-c", &query]));
    assert_eq!(code, Some(3), "{err}");
    assert!(stdout.is_empty());
    assert!(err.contains("credit budget of 30") && err.contains("--max-credits"), "{err}");
    let charged = sandbox.stats()["companies_charged"].as_u64().unwrap() - charged_before;
    assert!(charged <= 30, "the ledger says {charged}");
    assert!(charged >= 20, "it spent up to the budget before stopping: {charged}");

    // SET works the same way; with room for the rest, the rerun pays only for the rest.
    let (code, stdout, err) =
        run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["-c", "SET hg.max_credits = 100", "-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("| 100 |"), "{stdout}");
    assert_eq!(sandbox.stats()["companies_charged"].as_u64().unwrap() - charged_before, 100, "nobody charged twice");
}

#[test]
fn dry_run_reports_the_cost_and_spends_nothing() {
    let sandbox = SandboxProcess::start(&["--companies", "400", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 60);
    let cache = dir.path().join("cache");
    let target = dir.path().join("out.parquet");
    let copy = format!("COPY ({}) TO '{}'", enrichment(&accounts), target.display());
    let before = sandbox.stats();
    let (code, stdout, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["--dry-run", "-c", &copy]));
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.is_empty(), "a dry run prints no result: {stdout}");
    assert!(!target.exists(), "a dry run writes no file");
    assert!(err.contains("dry run: 63 charged requests not made, up to 120 credits"), "{err}");
    let after = sandbox.stats();
    assert_eq!(after["companies_charged"], before["companies_charged"]);
    assert_eq!(calls(&after, "company/firmographic"), calls(&before, "company/firmographic"));

    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["-c", &copy]));
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["--dry-run", "-c", &copy]));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("dry run: 0 charged requests not made, up to 0 credits; 120 lookups answered from the cache"),
        "{err}"
    );
}

#[test]
fn the_cache_file_never_holds_the_key() {
    let sandbox = SandboxProcess::start(&["--companies", "200", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&sandbox, dir.path(), 30);
    let cache = dir.path().join("cache");
    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["-c", &enrichment(&accounts)]));
    assert_eq!(code, Some(0), "{err}");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(cache.join("hgsql")).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("firmographic") && text.contains(&sandbox.url), "the cache holds answers");
    assert!(!text.contains(sandbox.key), "the key is in the cache file");
}

#[test]
fn processes_sharing_one_cache_leave_it_whole() {
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
                .hgsql()
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
        .query_row("SELECT count(DISTINCT item) FROM response WHERE endpoint = 'firmographic'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(answers, 200);
    let before = sandbox.stats();
    let query = format!(
        "SELECT count(*) FROM '{}' a JOIN hg.firmographics f ON f.company_id = a.company_id",
        accounts.display()
    );
    let (code, _, err) = run(sandbox.hgsql().env("XDG_CACHE_HOME", &cache).args(["-c", &query]));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(calls(&sandbox.stats(), "company/firmographic"), calls(&before, "company/firmographic"));
}
