//! The `hgsql` binary as a user runs it: `-c`, `-f`, stdin, formats, `-o`, exit codes, doctor.

use hgsql::api::ApiVersion;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::wait_until;

/// Longest one run of the binary may take: a hang fails the test instead of blocking CI.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `command` to the end as [`Command::output`] does (stdin empty, stdout and stderr
/// captured), within [`DEADLINE`]: see [`finish`].
pub fn run(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    finish(child, &format!("{command:?}"))
}

/// Waits for `child` to exit within [`DEADLINE`], reading its stdout and stderr (those that
/// are pipes) on threads of their own as it writes them: a child writing more than a pipe holds
/// never blocks on a full one. Past the deadline the child is killed and the test panics,
/// naming `what`.
pub fn finish(mut child: Child, what: &str) -> Output {
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    if exited(child.id()).recv_timeout(DEADLINE).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} still running after {DEADLINE:?}: killed");
    }
    let status = child.wait().unwrap_or_else(|e| panic!("{what}: no exit status: {e}"));
    let read = |pipe: Option<JoinHandle<Vec<u8>>>| pipe.map(|p| p.join().expect("pipe reader")).unwrap_or_default();
    Output { status, stdout: read(stdout), stderr: read(stderr) }
}

/// The first line `child` writes on its stdout (taken from it), within [`DEADLINE`]: a child
/// that never writes one is killed and the test panics, naming `what`.
pub fn first_line(child: &mut Child, what: &str) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    receiver.recv_timeout(DEADLINE).unwrap_or_else(|_| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} wrote no line within {DEADLINE:?}: killed")
    })
}

/// Everything `pipe` gives until it closes, read on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Receives once our child `pid` has exited. It does not reap the child (`WNOWAIT`), so the
/// `Child` is still the one to wait for, and to kill past a deadline: its pid cannot have been
/// given to another process meanwhile.
fn exited(pid: u32) -> mpsc::Receiver<()> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        loop {
            // SAFETY: `waitid` writes only into `info`, which outlives the call.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let done = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if done == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        let _ = sender.send(());
    });
    receiver
}

/// The binary with no HG settings from the machine it runs on: no key, no config file, history
/// in a throwaway place, and a response cache of its own (a test that shares one across runs
/// sets `XDG_CACHE_HOME` itself).
pub fn hgsql() -> Command {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut command = Command::new(env!("CARGO_BIN_EXE_hgsql"));
    for var in ["HG_API_KEY", "HG_BASE_URL", "HG_PROFILE", "HGSQL_LOG", "HGSQL_WORKERS", "NO_COLOR"] {
        command.env_remove(var);
    }
    let run = std::env::temp_dir().join(format!("hgsql-tests-{}", std::process::id()));
    let cache = run.join(format!("cache-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    command
        .env("XDG_CONFIG_HOME", run.join("config"))
        .env("XDG_STATE_HOME", run.join("state"))
        .env("XDG_CACHE_HOME", cache);
    command
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `hgsql sandbox` in its own process, stopped on drop.
pub struct SandboxProcess {
    child: Child,
    pub url: String,
    pub key: &'static str,
}

impl SandboxProcess {
    pub fn start(args: &[&str]) -> SandboxProcess {
        let key = "test-key-7f3a9c";
        let mut child = hgsql()
            .args(["sandbox", "--port", "0", "--key", key])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let first = first_line(&mut child, "hgsql sandbox");
        let url = first.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {first:?}"));
        SandboxProcess { url: url.to_string(), child, key }
    }

    /// The sandbox's counters, from `/__sandbox/stats`.
    pub fn stats(&self) -> serde_json::Value {
        let url = format!("{}/__sandbox/stats", self.url.trim_end_matches("/data-api/v1"));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async { reqwest::get(&url).await.unwrap().json().await.unwrap() })
    }

    /// Requests the sandbox is answering now.
    pub fn in_flight(&self) -> u64 {
        self.stats()["in_flight"].as_u64().unwrap_or(0)
    }

    /// The binary pointed at this sandbox through the environment, as a user would.
    pub fn hgsql(&self) -> Command {
        self.hgsql_on(ApiVersion::V1)
    }

    /// The base URL of `version` (the sandbox serves both).
    pub fn url_of(&self, version: ApiVersion) -> String {
        match version {
            ApiVersion::V1 => self.url.clone(),
            ApiVersion::V2 => self.url.replace("/data-api/v1", "/data-api/v2"),
        }
    }

    /// The key of `version`: v2's is `hg_v2_` and v1's.
    pub fn key_of(&self, version: ApiVersion) -> String {
        match version {
            ApiVersion::V1 => self.key.to_string(),
            ApiVersion::V2 => format!("hg_v2_{}", self.key),
        }
    }

    /// The binary pointed at this sandbox's `version` through the environment, with that
    /// version's key, as a user would.
    pub fn hgsql_on(&self, version: ApiVersion) -> Command {
        let mut command = hgsql();
        command.env("HG_API_KEY", self.key_of(version)).env("HG_BASE_URL", self.url_of(version));
        command
    }
}

/// What the sandbox's counters say about `version`'s firmographic lookups: v1's requests (one
/// a company), v2's companies returned in that field group.
pub fn firmographic_lookups(stats: &serde_json::Value, version: ApiVersion) -> u64 {
    match version {
        ApiVersion::V1 => stats["endpoints"]["company/firmographic"]["status"]["200"].as_u64().unwrap_or(0),
        ApiVersion::V2 => stats["endpoints"]["v2/companies/enrich"]["groups"]["firmographics"].as_u64().unwrap_or(0),
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `n` company ids the sandbox knows, from its free search endpoint.
fn company_ids(sandbox: &SandboxProcess, n: usize) -> Vec<String> {
    let out = run(sandbox.hgsql().args([
        "--format",
        "csv",
        "-c",
        &format!("SELECT company_id FROM hg.search ORDER BY company_id LIMIT {n}"),
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let ids: Vec<String> = stdout(&out).lines().skip(1).map(str::to_string).collect();
    assert_eq!(ids.len(), n);
    ids
}

#[test]
fn run_reads_more_output_than_a_pipe_holds() {
    // 1.2 MiB on stdout, more than 16 pipe buffers of 64 KiB: a runner reading it only after the
    // exit would wait for ever on a child blocked writing.
    let out = run(hgsql().args(["--format", "csv", "-c", "SELECT * FROM generate_series(1, 200000)"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.len() > 16 * 64 * 1024, "{} bytes", out.stdout.len());
    assert_eq!(stdout(&out).lines().count(), 200_001, "a header and every row");
}

#[test]
fn dash_c_runs_sql_and_prints_a_table() {
    let out = run(hgsql().args(["-c", "SELECT 1 + 1 AS two, 'x' AS letter"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("| two | letter |"), "{stdout}");
    assert!(stdout.contains("| 2   | x      |"), "{stdout}");
}

#[test]
fn dash_f_runs_statements_over_local_csv_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("accounts.csv");
    std::fs::write(&csv, "account,website\nAcme,acme.com\nGlobex,globex.com\nInitech,initech.com\n").unwrap();
    let sql = dir.path().join("q.sql");
    std::fs::write(
        &sql,
        format!(
            "SELECT count(*) AS n FROM '{}';\nSELECT upper(account) AS a FROM '{}' WHERE website LIKE 'g%';\n",
            csv.display(),
            csv.display()
        ),
    )
    .unwrap();
    let out = run(hgsql().arg("-f").arg(&sql));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let n = stdout.find("| 3 |").expect("count printed");
    let g = stdout.find("| GLOBEX |").expect("second statement printed");
    assert!(n < g, "statements run in order: {stdout}");
}

#[test]
fn errors_exit_non_zero_and_say_why() {
    let out = run(hgsql().args(["-c", "SELEC 1"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("SELEC"), "{}", stderr(&out));
    let out = run(hgsql().args(["-c", "SELECT * FROM 'no/such/file.csv'"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no file 'no/such/file.csv'"), "{}", stderr(&out));
    let out = run(hgsql().args(["-f", "/no/such/file.sql"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/file.sql"));
    let out = run(hgsql().args(["--format", "xml", "-c", "SELECT 1"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(hgsql().args(["--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "empty stdin is an empty script: {}", stderr(&out));
    let out = run(hgsql().args(["-c", "SELECT 1", "-o", "out.xlsx"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".parquet, .csv, .json or .ndjson"), "{}", stderr(&out));
    let out = run(hgsql().args(["sandbox", "--deny", "contacts"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("contacts"));
}

#[test]
fn sandbox_command_prints_its_url_first_and_serves() {
    let mut child = hgsql()
        .args(["sandbox", "--port", "0", "--companies", "200", "--key", "k9", "--rate", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = first_line(&mut child, "hgsql sandbox");
    let url = first.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {first:?}")).to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/data-api/v1"), "{url}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/company/match?domain_name=a.com"))
            .header("Authorization", "k9")
            .send()
            .await
            .unwrap()
            .status()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, 200);
}

#[test]
fn sandbox_dump_writes_parquet_that_sql_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(hgsql().args(["sandbox", "--companies", "150", "--dump"]).arg(dir.path()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let query = format!("SELECT count(*) AS n FROM '{}'", dir.path().join("firmographics.parquet").display());
    let out = run(hgsql().args(["-c", &query]));
    assert!(String::from_utf8(out.stdout).unwrap().contains("| 150 |"));
}

#[test]
fn every_format_prints_the_same_rows() {
    let sql =
        "SELECT * FROM (VALUES (1, 'Acme, Inc.', DATE '2024-05-01'), (2, NULL, NULL)) AS t(id, name, seen) ORDER BY id";
    let run = |format: &str| {
        let out = run(hgsql().args(["--format", format, "-c", sql]));
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(run("csv"), "id,name,seen\n1,\"Acme, Inc.\",2024-05-01\n2,,\n");
    let expected = serde_json::json!([
        {"id": 1, "name": "Acme, Inc.", "seen": "2024-05-01"},
        {"id": 2, "name": null, "seen": null}
    ]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&run("json")).unwrap(), expected);
    let lines: Vec<serde_json::Value> = run("ndjson").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(serde_json::Value::Array(lines), expected);
    let table = run("table");
    assert!(table.contains("| 1  | Acme, Inc. | 2024-05-01 |"), "{table}");
    assert!(table.contains("| 2  | NULL       | NULL       |"), "{table}");
}

#[test]
fn sql_comes_from_stdin_when_it_is_not_a_terminal() {
    let mut child = hgsql()
        .args(["--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"-- a script\nSELECT 6 * 7 AS answer;\nSELECT 'second' AS s;\n").unwrap();
    let out = finish(child, "hgsql --format csv, SQL on stdin");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "answer\n42\ns\nsecond\n");
}

#[test]
fn c_and_f_run_in_command_line_order_and_the_first_error_names_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.sql");
    std::fs::write(&first, "SELECT 'from file' AS f;\n").unwrap();
    let out = run(hgsql()
        .args(["--format", "csv", "-c", "SELECT 'c one' AS c"])
        .arg("-f")
        .arg(&first)
        .args(["-c", "SELECT 'c two' AS c"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "c\nc one\nf\nfrom file\nc\nc two\n");

    let broken = dir.path().join("broken.sql");
    std::fs::write(
        &broken,
        "SELECT 1 AS ok;\n\n-- the next one fails\nSELECT nope FROM (SELECT 1 AS a);\nSELECT 'never' AS n;\n",
    )
    .unwrap();
    let out = run(hgsql().args(["--format", "csv", "-f"]).arg(&broken));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "ok\n1\n", "statements after the error do not run");
    let message = stderr(&out);
    assert!(message.contains(&format!("{}:4: ", broken.display())), "{message}");
    assert!(message.contains("nope"), "{message}");
}

#[test]
fn dash_o_saves_the_last_result_by_extension_and_prints_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT 1 AS n; SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, letter)";
    for (name, check) in [
        ("out.csv", "id,letter\n1,a\n2,b\n"),
        ("out.json", r#"[{"id":1,"letter":"a"},{"id":2,"letter":"b"}]"#),
        ("out.ndjson", "{\"id\":1,\"letter\":\"a\"}\n{\"id\":2,\"letter\":\"b\"}\n"),
    ] {
        let path = dir.path().join(name);
        let out = run(hgsql().args(["--format", "csv", "-c", sql, "-o"]).arg(&path));
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(stdout(&out), "n\n1\n", "only the last statement goes to the file");
        assert_eq!(stderr(&out), "", "stderr that is not a terminal gets warnings and errors only");
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim_end(), check.trim_end(), "{name}");
    }
    let parquet = dir.path().join("out.parquet");
    let out = run(hgsql().args(["-c", sql, "-o"]).arg(&parquet));
    assert!(out.status.success(), "{}", stderr(&out));
    let query = format!("SELECT sum(id) AS s, string_agg(letter, '') AS l FROM '{}'", parquet.display());
    let out = run(hgsql().args(["--format", "csv", "-c", &query]));
    assert_eq!(stdout(&out), "s,l\n3,ab\n");
    assert_eq!(files_in(dir.path()), ["out.csv", "out.json", "out.ndjson", "out.parquet"]);
}

#[test]
fn dash_o_writes_the_bytes_format_prints() {
    // HG rows with a list column (sic_codes), NULLs and text that CSV must quote.
    let query = "SELECT company_id, company_name, employees_total, sic_codes FROM hg.firmographics \
                 WHERE company_id IN (SELECT company_id FROM hg.search ORDER BY company_id LIMIT 20) ORDER BY company_id";
    let sandbox = SandboxProcess::start(&["--companies", "300", "--rate", "0"]);
    let dir = tempfile::tempdir().unwrap();
    for format in ["csv", "json", "ndjson"] {
        let printed = run(sandbox.hgsql().args(["--format", format, "-c", query]));
        assert!(printed.status.success(), "{format}: {}", stderr(&printed));
        let path = dir.path().join(format!("saved.{format}"));
        let saved = run(sandbox.hgsql().args(["-c", query, "-o"]).arg(&path));
        assert!(saved.status.success(), "{format}: {}", stderr(&saved));
        let file = std::fs::read(&path).unwrap();
        assert_eq!(String::from_utf8_lossy(&file), stdout(&printed), "{format}: -o and --format differ");
        assert_eq!(file, printed.stdout, "{format}");
    }
    let csv = std::fs::read_to_string(dir.path().join("saved.csv")).unwrap();
    assert_eq!(csv.lines().count(), 21, "a header and 20 companies: {csv}");
    assert!(csv.contains(",\"[\"\""), "a list is JSON text in a quoted field: {csv}");
}

#[test]
fn a_failing_query_leaves_an_existing_output_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.csv");
    std::fs::write(&path, "precious\n").unwrap();
    // Fails while running (a cast error on the second row), after the file was opened.
    let sql = "SELECT CAST(v AS INT) AS n FROM (VALUES ('1'), ('x')) AS t(v)";
    let out = run(hgsql().args(["-c", sql, "-o"]).arg(&path));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
    let copy = format!("COPY ({sql}) TO '{}'", path.display());
    let out = run(hgsql().args(["-c", &copy]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
    assert_eq!(files_in(dir.path()), ["keep.csv"], "no temporary file is left");
}

#[test]
fn hg_errors_exit_3_and_say_what_to_do() {
    // No key and no --sandbox.
    let out =
        run(hgsql()
            .args(["-c", "SELECT * FROM hg.firmographics WHERE company_id = '00000000000000000000000000000001'"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("HG_API_KEY") && stderr(&out).contains("--sandbox"), "{}", stderr(&out));
    // A key the API refuses.
    let sandbox = SandboxProcess::start(&["--companies", "200", "--rate", "0"]);
    let ids = company_ids(&sandbox, 1);
    let sql = format!("SELECT company_id FROM hg.firmographics WHERE company_id = '{}'", ids[0]);
    let out = run(sandbox.hgsql().env("HG_API_KEY", "wrong-key").args(["-c", &sql]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused") && !stderr(&out).contains("wrong-key"), "{}", stderr(&out));
    // Local SQL still runs without a key.
    let out = run(hgsql().args(["-c", "SELECT 1"]));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_copy_that_runs_out_of_credits_midway_exits_3_and_writes_nothing() {
    let sandbox = SandboxProcess::start(&["--companies", "300", "--rate", "0", "--credits", "40"]);
    let dir = tempfile::tempdir().unwrap();
    let ids = company_ids(&sandbox, 100);
    let csv = dir.path().join("ids.csv");
    std::fs::write(&csv, format!("company_id\n{}\n", ids.join("\n"))).unwrap();
    let existing = dir.path().join("enriched.parquet");
    std::fs::write(&existing, "an earlier run's output").unwrap();
    let query = format!(
        "SELECT i.company_id, f.employees_total FROM '{}' i JOIN hg.firmographics f ON f.company_id = i.company_id",
        csv.display()
    );
    let copy = format!("COPY ({query}) TO '{}'", existing.display());
    let out = run(sandbox.hgsql().args(["-c", &copy]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("credits"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "an earlier run's output");
    let fresh = dir.path().join("fresh.csv");
    let out = run(sandbox.hgsql().args(["-c", &query, "-o"]).arg(&fresh));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(files_in(dir.path()), ["enriched.parquet", "ids.csv"], "no partial or temporary file");
}

#[test]
fn doctor_reports_sources_rate_limit_and_credits_but_never_the_key() {
    let sandbox = SandboxProcess::start(&["--companies", "100", "--credits", "5000"]);
    let out = run(sandbox.hgsql().arg("doctor"));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("api key        set, not shown (from environment variable HG_API_KEY)"), "{text}");
    assert!(
        text.contains(&format!("base url       {} (from environment variable HG_BASE_URL)", sandbox.url)),
        "{text}"
    );
    assert!(text.contains("x-ratelimit-limit 25"), "{text}");
    assert!(text.contains("credits        5000 remaining"), "{text}");
    assert!(!text.contains(sandbox.key) && !stderr(&out).contains(sandbox.key));
    let out = run(sandbox.hgsql().env("HG_API_KEY", "not-the-key").arg("doctor"));
    assert_eq!(out.status.code(), Some(3));
    assert!(!stdout(&out).contains("not-the-key") && !stderr(&out).contains("not-the-key"));
    let out = run(hgsql().args(["doctor", "--sandbox"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(hgsql().arg("doctor"));
    assert_eq!(out.status.code(), Some(3), "no key: {}", stdout(&out));
    assert!(stdout(&out).contains("NOT SET"), "{}", stdout(&out));
}

/// On a v2 key, doctor says so, reads the balance from `GET /credits`, and `--probe` makes only
/// free calls, each compared with the shape hgsql expects (the sandbox's are).
#[test]
fn doctor_on_v2_reads_the_balance_and_probes_with_free_calls_only() {
    let sandbox = SandboxProcess::start(&["--companies", "100", "--credits", "5000"]);
    let out = run(sandbox.hgsql_on(ApiVersion::V2).args(["doctor", "--probe"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("api version    v2 (from the API key's form (hg_v2_…))"), "{text}");
    assert!(text.contains("credits        5000 remaining of 5000 (GET /credits)"), "{text}");
    for probe in ["GET /credits", "POST /companies/match", "POST /companies/search", "POST /companies/enrich/estimate"]
    {
        assert!(text.contains(probe), "{probe}: {text}");
    }
    assert_eq!(text.matches("(free): 0 difference(s)").count(), 4, "{text}");
    assert!(text.contains("HG's answers have the shapes hgsql expects"), "{text}");
    let stats = sandbox.stats();
    assert_eq!(stats["companies_charged"], 0, "{stats}");
    let charged = ["v2/companies/enrich", "v2/intent/enrich", "v2/companies/functional-areas"];
    assert!(charged.iter().all(|e| stats["endpoints"][e].is_null()), "only free endpoints: {stats}");
    assert!(!text.contains(sandbox.key) && !stderr(&out).contains(sandbox.key));
}

/// Where v2's answers carry no balance header, `--timing` reads `GET /credits` before and
/// after the statement, so it reports what HG charged: nothing, for companies HG charged in an
/// earlier run, though this process (without a cache) cannot know it.
#[test]
fn timing_on_v2_reports_hgs_balance_from_get_credits() {
    let sandbox = SandboxProcess::start(&["--companies", "200", "--rate", "0", "--v2-no-credits-header"]);
    let sql = "SELECT count(*) FROM (SELECT company_id FROM hg.search ORDER BY search_rank LIMIT 30) a \
               JOIN hg.firmographics f ON f.company_id = a.company_id";
    let timed = |label: &str| {
        let out = run(sandbox.hgsql_on(ApiVersion::V2).args(["--no-cache", "--timing", "-c", sql]));
        assert!(out.status.success(), "{label}: {}", stderr(&out));
        stderr(&out).lines().last().unwrap_or_default().to_string()
    };
    let first = timed("first run");
    assert!(first.contains(" · 30 credits · HG API v2"), "{first}");
    let second = timed("second run");
    assert!(second.contains(" · 0 credits · HG API v2"), "HG charged nothing again: {second}");
    assert_eq!(sandbox.stats()["companies_charged"], 30);
    assert!(sandbox.stats()["endpoints"]["v2/credits"]["calls"].as_u64().unwrap() >= 4, "{}", sandbox.stats());
}

#[test]
fn ctrl_c_stops_a_script_midway_with_130_and_no_output_file() {
    // Every answer takes 5 s, so the COPY is surely midway when the signal comes.
    let sandbox = SandboxProcess::start(&["--companies", "100", "--latency-ms", "5000"]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.parquet");
    let copy = format!(
        "COPY (SELECT * FROM hg.firmographics WHERE company_id IN ('00000000000000000000000000000001', '00000000000000000000000000000002')) TO '{}'",
        target.display()
    );
    let child = sandbox
        .hgsql()
        .args(["-c", &copy, "-c", "SELECT 'never printed' AS n"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the query reaches the sandbox", || sandbox.in_flight() > 0);
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = finish(child, "hgsql -c COPY …, sent SIGINT");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("never printed"), "the script stops at the cancelled statement");
    assert_eq!(files_in(dir.path()), Vec::<String>::new(), "no partial or temporary file");
}

#[test]
fn copy_to_directories_partitions_file_urls_and_explain_analyze_is_atomic_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let copies = [
        format!("COPY (SELECT 1 AS a) TO '{d}/outdir/' STORED AS CSV"),
        format!("COPY (SELECT 2 AS a) TO '{d}/plain' STORED AS CSV"),
        format!("COPY (SELECT 3 AS a, 'x' AS k) TO '{d}/parts.parquet' PARTITIONED BY (k)"),
        format!("COPY (SELECT 4 AS a) TO 'file://{d}/url.csv'"),
        format!("EXPLAIN ANALYZE COPY (SELECT 5 AS a) TO '{d}/analyzed.csv'"),
    ];
    let mut command = hgsql();
    for copy in &copies {
        command.args(["-c", copy]);
    }
    let out = run(&mut command);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_in(dir.path()), ["analyzed.csv", "outdir", "parts.parquet", "plain", "url.csv"]);
    assert_eq!(files_in(&dir.path().join("outdir")).len(), 1, "a directory of one file, as DataFusion writes");
    assert_eq!(files_in(&dir.path().join("parts.parquet")), ["k=x"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("url.csv")).unwrap(), "a\n4\n");

    // Failing midway, through a file:// URL or under EXPLAIN ANALYZE, the old file stays.
    let failing = "SELECT CAST(v AS INT) AS n FROM (VALUES ('1'), ('x')) AS t(v)";
    for copy in [
        format!("COPY ({failing}) TO 'file://{d}/url.csv'"),
        format!("EXPLAIN ANALYZE COPY ({failing}) TO '{d}/url.csv'"),
        format!("COPY ({failing}) TO '{d}/outdir/' STORED AS CSV"),
    ] {
        let out = run(hgsql().args(["-c", &copy]));
        assert_eq!(out.status.code(), Some(1), "{copy}: {}", stderr(&out));
        assert_eq!(std::fs::read_to_string(dir.path().join("url.csv")).unwrap(), "a\n4\n", "{copy}");
    }
    assert_eq!(files_in(dir.path()), ["analyzed.csv", "outdir", "parts.parquet", "plain", "url.csv"], "no leftovers");
    assert_eq!(files_in(&dir.path().join("outdir")).len(), 1);
}

#[test]
fn a_closed_stdout_ends_quietly_and_says_when_statements_were_skipped() {
    for format in ["csv", "json", "table"] {
        let mut child = hgsql()
            .args(["--format", format, "-c", "SELECT * FROM generate_series(1, 200000)"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away at once, like `| head -0`
        let out = finish(child, &format!("hgsql --format {format}, stdout closed"));
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{format}");
    }
    let mut child = hgsql()
        .args(["--format", "csv", "-c", "SELECT * FROM generate_series(1, 200000)", "-c", "SELECT 1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = finish(child, "hgsql --format csv -c … -c …, stdout closed");
    assert_eq!(out.status.code(), Some(141), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 statements after -c #1:line 1 did not run") || stderr(&out).contains("did not run")
    );
}

#[test]
fn sigterm_cancels_like_ctrl_c_and_leaves_no_temporary_file() {
    let sandbox = SandboxProcess::start(&["--companies", "100", "--latency-ms", "5000"]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.csv");
    let query = "SELECT * FROM hg.firmographics WHERE company_id = '00000000000000000000000000000001'";
    let child = sandbox.hgsql().args(["-c", query, "-o"]).arg(&target).stderr(Stdio::piped()).spawn().unwrap();
    wait_until("the query reaches the sandbox", || sandbox.in_flight() > 0);
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = finish(child, "hgsql -c … -o out.csv, sent SIGTERM");
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

/// Each subcommand's help lists the flags it takes: the sandbox's none of the client's, doctor's
/// the API's, and a client flag given to the sandbox is an error, not a silent no-op.
#[test]
fn each_subcommand_takes_and_lists_its_own_flags() {
    let help = |args: &[&str]| String::from_utf8(run(hgsql().args(args)).stdout).unwrap();
    let sandbox = help(&["sandbox", "--help"]);
    assert!(sandbox.contains("--webhook-rate") && sandbox.contains("--fault-rate"), "{sandbox}");
    for client in ["--sandbox", "--api-key", "--max-credits", "--refresh", "--no-cache", "--init", "--profile"] {
        assert!(!sandbox.contains(client), "hgsql sandbox --help lists {client}:\n{sandbox}");
    }
    let doctor = help(&["doctor", "--help"]);
    assert!(
        doctor.contains("--sandbox") && doctor.contains("--api-key") && !doctor.contains("--max-credits"),
        "{doctor}"
    );
    let main = help(&["--help"]);
    assert!(main.contains("--sandbox") && main.contains("--max-credits"), "{main}");
    let refused = run(hgsql().args(["sandbox", "--sandbox"]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unexpected argument '--sandbox'"));
    // The API flags work on either side of `doctor`.
    for args in [["--sandbox", "doctor"], ["doctor", "--sandbox"]] {
        assert!(run(hgsql().args(args)).status.success(), "hgsql {args:?}");
    }
}
