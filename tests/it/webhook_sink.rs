//! The webhook sink against the sandbox's Clay-like receiver, in one process: what arrives and
//! how it is typed, what a rerun sends (nothing, the new, the changed), the caps, rejections,
//! a refused destination, the previews that never post, and the ledger a webhook table reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use hgsql::api::webhook::{Named, Report, WebhookContext};
use hgsql::sandbox::Sandbox;
use hgsql::sandbox::webhook::TOKEN;
use hgsql::session::Session;
use serde_json::{Value, json};

use crate::support::sandbox;

/// A session whose `webhook://hook` is the sandbox receiver `id` (at a Clay webhook's path, so
/// Clay's defaults apply), with its ledger in `dir`; `webhook://badtoken` is the same receiver
/// with a token it refuses.
fn session(sandbox: &Sandbox, id: &str, dir: &Path, dry_run: bool) -> Session {
    let mut named = Named::new();
    for (name, token) in [("hook", TOKEN), ("badtoken", "not-the-token")] {
        let hook: BTreeMap<String, String> = [("url", sandbox.clay_webhook_url(id)), ("token", token.to_string())]
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect();
        named.insert(name.into(), hook);
    }
    let mut session = Session::new();
    session.set_webhook_context(WebhookContext::new(dir.join("webhooks.sqlite"), named, dry_run));
    session
}

/// Runs `sql`; the statement's count, or its error's text.
async fn run(session: &Session, sql: &str) -> Result<u64, String> {
    let results = session.run(sql).await.map_err(|e| format!("{:#}", e.source))?;
    let batches = &results.last().expect("a statement").batches;
    let column = batches[0].column(0);
    let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default()).unwrap();
    Ok(formatter.value(0).to_string().parse().expect("a count"))
}

/// The report the last webhook statement left (earlier ones are dropped).
fn report(session: &Session) -> Report {
    session.webhooks().take_reports().pop().expect("a webhook statement ran")
}

/// Rows of the accounts the tests send: `domain` d0…d{n-1}, and values of every JSON type.
fn accounts(n: usize, changed: &[usize]) -> String {
    let changed: Vec<String> = changed.iter().map(|c| c.to_string()).collect();
    let bump = if changed.is_empty() {
        "0".to_string()
    } else {
        format!("CASE WHEN value IN ({}) THEN 1000 ELSE 0 END", changed.join(", "))
    };
    format!(
        "SELECT 'd' || value AS domain, value + {bump} AS employees, value % 2 = 0 AS public, \
         CAST(value AS DOUBLE) / 4 AS score, CASE WHEN value % 3 = 0 THEN NULL ELSE 'band ' || value END AS band, \
         DATE '2024-01-01' + CAST(value AS INT) AS founded FROM range({n})"
    )
}

/// What the receiver should hold for account `i`, worked out here from the query's meaning,
/// with NULLs left out (Clay's default).
fn expected(i: i64, bump: i64) -> Value {
    let mut row = json!({
        "domain": format!("d{i}"),
        "employees": i + bump,
        "public": i % 2 == 0,
        "score": i as f64 / 4.0,
        "founded": (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(i as u64)).format("%Y-%m-%d").to_string(),
    });
    if i % 3 != 0 {
        row["band"] = json!(format!("band {i}"));
    }
    row
}

const FAST: &str = "'rate' '2000/s', 'burst' '200', 'max_in_flight' '8'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_row_arrives_once_typed_and_a_rerun_sends_only_what_is_new() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "leads", dir.path(), false);
    let copy = |n: usize| {
        format!("COPY ({}) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain', {FAST})", accounts(n, &[]))
    };
    assert_eq!(run(&session, &copy(200)).await, Ok(200));
    assert_eq!(report(&session).summary(), "hook: 200 sent, 0 already sent, 0 rejected, 0 unknown");
    let mut received = sandbox.webhook_rows("leads");
    received.sort_by_key(|r| r["domain"].as_str().unwrap()[1..].parse::<i64>().unwrap());
    let wanted: Vec<Value> = (0..200).map(|i| expected(i, 0)).collect();
    assert_eq!(received, wanted, "exactly the query's columns, each typed, NULLs left out");
    // The same rows again: nothing goes.
    assert_eq!(run(&session, &copy(200)).await, Ok(0));
    assert_eq!(report(&session).summary(), "hook: 0 sent, 200 already sent, 0 rejected, 0 unknown");
    // Ten new keys: ten posts.
    assert_eq!(run(&session, &copy(210)).await, Ok(10));
    let stats = sandbox.stats()["webhooks"]["leads"].clone();
    assert_eq!((stats["rows_received"].as_u64(), stats["rows_received_twice"].as_u64()), (Some(210), Some(0)));
    assert_eq!(stats["posts"].as_u64(), Some(210), "batch_size 1: a post per row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_changed_sends_exactly_the_rows_whose_content_changed() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "changes", dir.path(), false);
    let copy = |changed: &[usize], resend: &str| {
        format!(
            "COPY ({}) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain', 'resend' '{resend}', 'batch_size' '10', {FAST})",
            accounts(100, changed)
        )
    };
    assert_eq!(run(&session, &copy(&[], "changed")).await, Ok(100));
    let changed = [3, 17, 42, 43, 64, 88, 99];
    assert_eq!(run(&session, &copy(&changed, "never")).await, Ok(0), "'never' sends no key twice");
    assert_eq!(run(&session, &copy(&changed, "changed")).await, Ok(7));
    assert_eq!(report(&session).summary(), "hook: 7 sent, 93 already sent, 0 rejected, 0 unknown");
    let rows = sandbox.webhook_rows("changes");
    let resent: BTreeSet<String> = rows[100..].iter().map(|r| r["domain"].as_str().unwrap().to_string()).collect();
    let wanted: BTreeSet<String> = changed.iter().map(|c| format!("d{c}")).collect();
    assert_eq!(resent, wanted);
    for row in &rows[100..] {
        let i: i64 = row["domain"].as_str().unwrap()[1..].parse().unwrap();
        assert_eq!(row, &expected(i, 1000), "the new content went");
    }
    assert_eq!(run(&session, &copy(&changed, "changed")).await, Ok(0), "sent once, not again");
    assert_eq!(run(&session, &copy(&changed, "always")).await, Ok(100));
    assert_eq!(sandbox.webhook_rows("changes").len(), 207);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rows_is_never_passed_across_runs() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "capped", dir.path(), false);
    let copy = |from: usize, to: usize, on_error: &str| {
        format!(
            "COPY (SELECT 'd' || value AS domain FROM range({from}, {to})) TO 'webhook://hook' STORED AS WEBHOOK \
             OPTIONS ('key' 'domain', 'max_rows' '50', 'on_error' '{on_error}', {FAST})"
        )
    };
    assert_eq!(run(&session, &copy(0, 30, "fail")).await, Ok(30));
    let error = run(&session, &copy(30, 60, "fail")).await.unwrap_err();
    assert!(error.contains("max_rows of 50") && error.contains("20 sent"), "{error}");
    assert_eq!(sandbox.webhook_rows("capped").len(), 50);
    // Past the cap nothing more goes, whatever on_error says.
    assert_eq!(run(&session, &copy(60, 70, "continue")).await, Ok(0));
    assert!(report(&session).summary().contains("10 refused (over max_rows 50"));
    assert_eq!(sandbox.webhook_rows("capped").len(), 50);
    // A dry run says so too, sending nothing, and succeeds: it only tells.
    let preview = self::session(&sandbox, "capped", dir.path(), true);
    assert_eq!(run(&preview, &copy(60, 70, "fail")).await, Ok(0));
    let summary = report(&preview).summary();
    assert!(summary.contains("0 would be sent") && summary.contains("10 refused (over max_rows 50"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_over_the_size_caps_are_refused_here_or_rejected_there_and_recorded() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "sizes", dir.path(), false);
    let rows = "SELECT 'd' || value AS domain, CASE WHEN value = 3 THEN repeat('x', 150000) ELSE 'small' END AS notes FROM range(10)";
    // Clay's 100 KB cap, checked here: the big row is refused before any send.
    let copy = format!(
        "COPY ({rows}) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain', 'on_error' 'continue', {FAST})"
    );
    assert_eq!(run(&session, &copy).await, Ok(9));
    assert!(report(&session).summary().ends_with("1 refused (over max_payload_bytes 100000)"));
    let stats = sandbox.stats()["webhooks"]["sizes"].clone();
    assert_eq!((stats["rows_received"].as_u64(), stats["too_large"].as_u64()), (Some(9), Some(0)));
    // With the cap raised, a post of ten holding it is refused by the receiver (413); its halves
    // go again until the big row is alone, and only it is rejected.
    let table = format!(
        "CREATE EXTERNAL TABLE big (domain TEXT NOT NULL, notes TEXT) STORED AS WEBHOOK LOCATION 'webhook://hook' \
         OPTIONS ('key' 'domain', 'max_payload_bytes' '1000000', 'batch_size' '10', 'on_error' 'continue', \
         'retry_rejected' 'true', {FAST})"
    );
    session.run(&table).await.unwrap();
    let fresh = rows.replace("'d' || value", "'e' || value");
    assert_eq!(run(&session, &format!("INSERT INTO big {fresh}")).await, Ok(9));
    assert_eq!(report(&session).summary(), "big: 9 sent, 0 already sent, 1 rejected, 0 unknown");
    let ledger =
        session.run("SELECT domain, _status, _http_status, _error FROM big WHERE _status <> 'sent'").await.unwrap();
    let batch = &ledger[0].batches[0];
    assert_eq!(batch.num_rows(), 1);
    let text = datafusion::arrow::util::pretty::pretty_format_batches(std::slice::from_ref(batch)).unwrap().to_string();
    assert!(text.contains("e3") && text.contains("rejected") && text.contains("413"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_the_run_and_its_rows_go_on_the_next() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "guarded", dir.path(), false);
    let copy = |destination: &str| {
        format!(
            "COPY (SELECT 'd' || value AS domain FROM range(20)) TO 'webhook://{destination}' STORED AS WEBHOOK \
             OPTIONS ('key' 'domain', {FAST})"
        )
    };
    let error = run(&session, &copy("badtoken")).await.unwrap_err();
    assert!(error.contains("HTTP 401") && error.contains("'token'"), "{error}");
    assert!(!error.contains("not-the-token") && !error.contains("pull-in-data"), "no secret in it: {error}");
    assert!(sandbox.webhook_rows("guarded").is_empty());
    assert_eq!(run(&session, &copy("hook")).await, Ok(20), "nothing was delivered, so all go");
    assert_eq!(sandbox.stats()["webhooks"]["guarded"]["rows_received_twice"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_and_explain_never_post_and_say_what_would_go() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "quiet", dir.path(), false);
    let copy = |n: usize| {
        format!("COPY ({}) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain', {FAST})", accounts(n, &[]))
    };
    assert_eq!(run(&session, &copy(5)).await, Ok(5));
    session.webhooks().take_reports();
    let explained = session.run(&format!("EXPLAIN {}", copy(8))).await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&explained[0].batches).unwrap().to_string();
    assert!(text.contains("WebhookSink") && text.contains("ledger: 5 sent"), "{text}");
    assert!(session.webhooks().take_reports().is_empty(), "plain EXPLAIN runs nothing");
    let analyzed = session.run(&format!("EXPLAIN ANALYZE {}", copy(8))).await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&analyzed[0].batches).unwrap().to_string();
    assert!(text.contains("would_send=3") && text.contains("already_sent=5") && text.contains("requests=0"), "{text}");
    assert_eq!(report(&session).summary(), "hook (preview, nothing sent): 3 would be sent, 5 already sent");
    let dry = self::session(&sandbox, "quiet", dir.path(), true);
    assert_eq!(run(&dry, &copy(8)).await, Ok(3));
    assert_eq!(sandbox.stats()["webhooks"]["quiet"]["posts"], 5, "only the first COPY posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_and_copy_deliver_alike_and_the_table_reads_its_ledger() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "both", dir.path(), false);
    session
        .run(&format!(
            "CREATE EXTERNAL TABLE leads (domain TEXT NOT NULL, employees BIGINT, public BOOLEAN, score DOUBLE, band TEXT, founded DATE) \
             STORED AS WEBHOOK LOCATION 'webhook://hook' OPTIONS ('key' 'domain', {FAST})"
        ))
        .await
        .unwrap();
    assert_eq!(run(&session, &format!("INSERT INTO leads {}", accounts(6, &[]))).await, Ok(6));
    // COPY to the same target shares the ledger: the six are sent already.
    let copy =
        format!("COPY ({}) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain', {FAST})", accounts(8, &[]));
    assert_eq!(run(&session, &copy).await, Ok(2));
    let mut received = sandbox.webhook_rows("both");
    received.sort_by_key(|r| r["domain"].as_str().unwrap()[1..].parse::<i64>().unwrap());
    assert_eq!(received, (0..8).map(|i| expected(i, 0)).collect::<Vec<_>>(), "INSERT and COPY send alike");
    let ledger =
        session.run("SELECT domain, employees, founded, _status, _attempts FROM leads ORDER BY domain").await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&ledger[0].batches).unwrap().to_string();
    assert!(text.contains("| d5     | 5         | 2024-01-06 | sent    | 1         |"), "{text}");
    let rows: usize = ledger[0].batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 8, "one row per key: the six the INSERT sent and the two the COPY did");
    // A NOT NULL key column holds: a NULL domain fails the INSERT before anything is sent.
    let null = run(&session, "INSERT INTO leads SELECT NULL, 1, true, 1.0, 'x', DATE '2024-01-01'").await.unwrap_err();
    assert!(null.to_lowercase().contains("null"), "{null}");
    let wrong_key =
        run(&session, "COPY (SELECT 1 AS a) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain')").await;
    assert!(wrong_key.as_ref().unwrap_err().contains("'key' names 'domain'"), "{wrong_key:?}");
    let partitioned =
        run(&session, "COPY (SELECT 1 AS a) TO 'webhook://hook' STORED AS WEBHOOK PARTITIONED BY (a)").await;
    assert!(partitioned.as_ref().unwrap_err().contains("PARTITIONED BY"), "{partitioned:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clays_rate_holds_without_a_single_429() {
    // The receiver takes 10 rows a second with a burst of 20, as Clay does; so does the sink,
    // by default, for a Clay webhook.
    let sandbox = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let session = session(&sandbox, "paced", dir.path(), false);
    let started = std::time::Instant::now();
    let copy = "COPY (SELECT 'd' || value AS domain FROM range(30)) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain')";
    assert_eq!(run(&session, copy).await, Ok(30));
    let stats = sandbox.stats()["webhooks"]["paced"].clone();
    assert_eq!((stats["rows_received"].as_u64(), stats["rate_limited"].as_u64()), (Some(30), Some(0)));
    // 18 at once (the burst less a tenth), then 12 at 10 a second.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_ledger_nothing_is_sent() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let dir = tempfile::tempdir().unwrap();
    // A file where the ledger's directory should be: the ledger cannot be made.
    std::fs::write(dir.path().join("blocked"), "").unwrap();
    let mut named = Named::new();
    let hook: BTreeMap<String, String> =
        [("url".to_string(), sandbox.clay_webhook_url("unledgered")), ("token".to_string(), TOKEN.to_string())]
            .into_iter()
            .collect();
    named.insert("hook".into(), hook);
    let mut session = Session::new();
    session.set_webhook_context(WebhookContext::new(dir.path().join("blocked/webhooks.sqlite"), named, false));
    let error = run(&session, "COPY (SELECT 'a.example' AS domain) TO 'webhook://hook' STORED AS WEBHOOK").await;
    let error = error.unwrap_err();
    assert!(error.contains("webhook ledger") && error.contains("will not send without it"), "{error}");
    assert!(sandbox.webhook_rows("unledgered").is_empty());
}
