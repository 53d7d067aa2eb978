//! The webhook sink through the binary: the URL and token appear in no output, log, plan or
//! file; Ctrl-C stops between posts with the ledger true; a row not accepted sets exit code 4
//! unless `on_error 'continue'`; a URL typed into SQL is warned about.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use hgsql::api::webhook::State;
use hgsql::sandbox::webhook::TOKEN;

use super::cli::{finish, run};
use super::secrets::all_text;
use super::support::{sandbox, wait_until_async};
use super::webhook_faults::Home;

/// The part of the receiver's URL that makes it a capability.
const CAPABILITY: &str = "s3cr3t-capability-8d1e";

fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_and_token_appear_in_no_output_log_plan_or_file() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let home = Home::new(sandbox.clay_webhook_url(CAPABILITY));
    let rows = "SELECT 'd' || value AS domain, value AS n FROM range(12)";
    let table = "CREATE EXTERNAL TABLE leads (domain TEXT NOT NULL, n BIGINT) STORED AS WEBHOOK \
                 LOCATION 'webhook://hook' OPTIONS ('key' 'domain', 'rate' '1000/s')";
    let copy = |rows: &str| {
        format!("COPY ({rows}) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('key' 'domain', 'rate' '1000/s')")
    };
    let runs: Vec<Vec<String>> = vec![
        vec!["-c".into(), copy(rows)],
        vec!["-c".into(), format!("EXPLAIN {}", copy(rows))],
        vec!["-c".into(), format!("EXPLAIN ANALYZE {}", copy(rows))],
        vec!["--dry-run".into(), "-c".into(), copy(rows)],
        vec!["-c".into(), table.into(), "-c".into(), format!("INSERT INTO leads {rows}")],
        vec!["-c".into(), table.into(), "-c".into(), "SELECT * FROM leads".into()],
        vec!["-c".into(), table.into(), "-c".into(), "SELECT * FROM information_schema.views".into()],
        vec!["-c".into(), table.into(), "-c".into(), "SHOW CREATE TABLE leads".into()],
        // Refused: a literal token, and a token the receiver refuses.
        vec![
            "-c".into(),
            format!("COPY ({rows}) TO 'webhook://hook' STORED AS WEBHOOK OPTIONS ('token' 'typed-{TOKEN}')"),
        ],
    ];
    let mut seen = String::new();
    for (i, args) in runs.iter().enumerate() {
        let child = home
            .hgsql()
            .env("HGSQL_LOG", "trace")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = tokio::task::spawn_blocking(move || finish(child, "hgsql")).await.unwrap();
        let printed = text(&output);
        assert!(
            !printed.contains(CAPABILITY) && !printed.contains(TOKEN),
            "run {i} {args:?} printed a secret:\n{printed}"
        );
        seen.push_str(&printed);
    }
    assert!(seen.contains("TRACE") || seen.contains("DEBUG"), "the most verbose logs were on");
    assert!(seen.contains("WebhookSink") && seen.contains("would_send="), "EXPLAIN and EXPLAIN ANALYZE ran");
    assert!(seen.contains("hook: 12 sent"), "the rows went: {seen}");
    assert!(seen.contains("'token' holds a secret written into the SQL"), "{seen}");
    let files = all_text(&home.dir.path().join("state")) + &all_text(&home.dir.path().join("cache"));
    assert!(files.contains("\"domain\":\"d3\""), "the ledger was written");
    assert!(!files.contains(CAPABILITY) && !files.contains(TOKEN), "a file holds a secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_typed_into_sql_is_warned_about_and_kept_out_of_explain() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let home = Home::new(sandbox.clay_webhook_url("named"));
    let url = sandbox.clay_webhook_url(CAPABILITY);
    let copy = format!(
        "COPY (SELECT 'a.example' AS domain) TO '{url}' STORED AS WEBHOOK OPTIONS ('key' 'domain', 'token' '${{env:CLAY_WEBHOOK_TOKEN}}')"
    );
    for sql in [copy.clone(), format!("EXPLAIN {copy}")] {
        let output = run(home.hgsql().env("CLAY_WEBHOOK_TOKEN", TOKEN).env("HGSQL_LOG", "trace").args(["-c", &sql]));
        let printed = text(&output);
        assert!(output.status.success(), "{printed}");
        assert!(printed.contains("is a secret") && printed.contains("webhook://NAME"), "warned: {printed}");
        assert!(!printed.contains(CAPABILITY), "the URL is not printed back, nor logged: {printed}");
    }
    assert_eq!(sandbox.webhook_rows(CAPABILITY).len(), 1, "the COPY went, the EXPLAIN did not");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_not_accepted_exits_4_unless_on_error_is_continue() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let home = Home::new(sandbox.clay_webhook_url("strict"));
    // Allowed here, the 150 KB row is refused by the receiver (over its 100 KB): a rejection.
    let copy = |on_error: &str, from: usize| {
        format!(
            "COPY (SELECT 'd' || value AS domain, CASE WHEN value = {from} THEN repeat('x', 150000) ELSE 'small' END AS notes \
             FROM range({from}, {}) ORDER BY value) TO 'webhook://hook' STORED AS WEBHOOK \
             OPTIONS ('key' 'domain', 'max_payload_bytes' '1000000', 'max_in_flight' '1', 'on_error' '{on_error}')",
            from + 5
        )
    };
    let failed = run(home.hgsql().args(["-c", &copy("fail", 0)]));
    let printed = text(&failed);
    assert_eq!(failed.status.code(), Some(4), "{printed}");
    assert!(
        printed.contains("rejected a row (HTTP 413") && printed.contains("0 sent, 0 already sent, 1 rejected"),
        "{printed}"
    );
    assert!(printed.contains("go on the next run"), "it says what to do: {printed}");
    let passed = run(home.hgsql().args(["-c", &copy("continue", 10)]));
    let printed = text(&passed);
    assert_eq!(passed.status.code(), Some(0), "{printed}");
    assert!(printed.contains("hook: 4 sent, 0 already sent, 1 rejected, 0 unknown"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_between_posts_and_the_ledger_stays_true() {
    let sandbox = sandbox(|c| {
        c.webhook_rate = None;
        c.latency = std::time::Duration::from_millis(20);
    })
    .await;
    let home = Home::new(sandbox.clay_webhook_url("interrupted"));
    let copy = "COPY (SELECT 'd' || value AS domain FROM range(400)) TO 'webhook://hook' STORED AS WEBHOOK \
                OPTIONS ('key' 'domain', 'rate' '50/s', 'burst' '4')";
    let child = home.spawn(copy);
    let arrived = || sandbox.stats()["webhooks"]["interrupted"]["rows_received"].as_u64().unwrap_or(0);
    wait_until_async("20 rows arrive", || arrived() >= 20).await;
    // SAFETY: the pid is our child's, not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = tokio::task::spawn_blocking(move || finish(child, "the interrupted run")).await.unwrap();
    assert_eq!((output.status.code(), output.status.signal()), (Some(130), None), "{}", text(&output));
    let ledger = home.ledger();
    let received = sandbox.webhook_rows("interrupted").len();
    assert!(received < 400, "stopped before the end");
    assert!(ledger.values().all(|s| *s == State::Sent), "every post in flight was answered and recorded: {ledger:?}");
    assert_eq!(ledger.len(), received, "the ledger and the receiver agree");
    let printed = text(&output);
    assert!(printed.contains(&format!("hook: {received} sent, 0 already sent")), "the run's line: {printed}");
    let rest = run(home.hgsql().args(["-c", copy]));
    assert!(rest.status.success(), "{}", text(&rest));
    assert!(
        text(&rest).contains(&format!("hook: {} sent, {received} already sent", 400 - received)),
        "{}",
        text(&rest)
    );
    assert_eq!(sandbox.stats()["webhooks"]["interrupted"]["rows_received_twice"], 0);
    assert_eq!(sandbox.webhook_rows("interrupted").len(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repl_describes_a_webhook_table_and_keeps_a_typed_url_out_of_its_history() {
    use rexpect::session::{Options, spawn_with_options};
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let home = Home::new(sandbox.clay_webhook_url(CAPABILITY));
    let typed = sandbox.clay_webhook_url("typed-capability-77");
    // The table comes from init.sql: a long line typed into the REPL is redrawn as it goes, and
    // a prompt seen then is not the one after the statement.
    std::fs::write(
        home.dir.path().join("config/hgsql/init.sql"),
        "CREATE EXTERNAL TABLE leads (domain TEXT NOT NULL, n BIGINT) STORED AS WEBHOOK \
         LOCATION 'webhook://hook' OPTIONS ('key' 'domain');\n",
    )
    .unwrap();
    let mut command = home.hgsql();
    command.env("TERM", "xterm").env("CLAY_WEBHOOK_TOKEN", TOKEN);
    let state = home.dir.path().join("state");
    let seen = tokio::task::spawn_blocking(move || {
        let options = Options::new().timeout_ms(Some(60_000)).strip_ansi_escape_codes(true);
        let mut p = spawn_with_options(command, options).unwrap();
        p.exp_string("hgsql> ").unwrap();
        p.send_line("\\d leads").unwrap();
        p.exp_regex(r"\|\s*domain\s*\|\s*Utf8\s*\|\s*sent; the key the ledger files the row under").expect("the key");
        p.exp_regex(r"\|\s*_status\s*\|\s*Utf8\s*\|\s*the ledger").expect("a status column");
        let described = p.exp_string("hgsql> ").unwrap();
        p.send_line("\\d").unwrap();
        p.exp_regex(r"\|\s*leads\s*\|\s*WEBHOOK 127.0.0.1:\d+ \(clay\)").expect("\\d lists it");
        p.exp_string("hgsql> ").unwrap();
        p.send_line(&format!(
            "COPY (SELECT 'a.example' AS domain) TO '{typed}' STORED AS WEBHOOK OPTIONS ('key' 'domain', 'token' '${{env:CLAY_WEBHOOK_TOKEN}}');"
        ))
        .unwrap();
        let warned = p.exp_string("1 sent").unwrap();
        p.exp_string("hgsql> ").unwrap();
        p.send_line("\\q").unwrap();
        p.exp_eof().unwrap();
        (described, warned)
    })
    .await
    .unwrap();
    let (described, warned) = seen;
    assert!(described.contains("(destination)") && described.contains("webhook leads (127.0.0.1:"), "{described}");
    assert!(!described.contains(CAPABILITY) && !described.contains(TOKEN), "{described}");
    assert!(warned.contains("is a secret"), "{warned}");
    let history = std::fs::read_to_string(state.join("hgsql/history")).unwrap();
    assert!(history.contains("\\d leads") && !history.contains("typed-capability-77"), "{history}");
}

#[test]
fn the_worked_example_sends_the_enrichment_into_the_sandboxs_clay_table() {
    let home = Home::new("https://api.clay.com/v3/sources/webhook/unused".into());
    let root = env!("CARGO_MANIFEST_DIR");
    let output =
        run(home.hgsql().current_dir(root).args(["--sandbox", "--format", "csv", "-f", "queries/to_clay.sql"]));
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("clay_leads: 160 sent, 0 already sent, 0 rejected, 0 unknown"), "{printed}");
    assert!(printed.contains("_status,rows\nsent,160\n"), "the ledger read back: {printed}");
}
