//! The bad-input table: what users feed hgsql by mistake, run through the binary. Each case
//! gets the right answer or a clear error (naming what is at fault) with its exit code, and
//! never a panic or a hang: every run has a deadline (`cli::run`'s). The cases that reach HG
//! run on v1 and on v2 (`…_on_v2`).

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use hgsql::api::ApiVersion::{self, V1, V2};

use crate::cli::{SandboxProcess, hgsql, run};

/// One row of the table: what to run, and what it must end with.
struct Case {
    name: &'static str,
    sql: String,
    exit: i32,
    /// Each must appear in stderr (on failure) or stdout (on success).
    says: Vec<String>,
}

impl Case {
    fn new(name: &'static str, sql: impl Into<String>, exit: i32, says: &[&str]) -> Case {
        Case { name, sql: sql.into(), exit, says: says.iter().map(|s| s.to_string()).collect() }
    }

    fn check(&self, out: &Output) {
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(self.exit), "{}: exit code\nstdout: {stdout}\nstderr: {stderr}", self.name);
        for needle in &self.says {
            let text = if self.exit == 0 { &stdout } else { &stderr };
            assert!(text.contains(needle.as_str()), "{}: {needle:?} missing from\n{text}\nstderr: {stderr}", self.name);
        }
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{}: {stderr}", self.name);
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    name.to_string()
}

#[test]
fn bad_local_input_gets_a_clear_error_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "malformed.csv", b"account_id,website\n1,acme.com\n2,globex.com,extra\n3,initech.com\n");
    write(d, "no_website.csv", b"account_id,domain\n1,acme.com\n");
    write(d, "latin1.csv", b"account_id,website\n1,m\xfcller.de\n");
    write(d, "empty.csv", b"");
    write(d, "header_only.csv", b"account_id,website\n");
    let cases = [
        Case::new(
            "malformed row",
            "SELECT * FROM 'malformed.csv'",
            1,
            &["'malformed.csv': line 3 has 3 fields where the header has 2"],
        ),
        Case::new(
            "missing column",
            "SELECT a.website FROM 'no_website.csv' a",
            1,
            &["website", "account_id", "domain"],
        ),
        Case::new("non-UTF-8 bytes", "SELECT * FROM 'latin1.csv'", 1, &["'latin1.csv': line 2 is not UTF-8 text"]),
        Case::new("empty file", "SELECT website FROM 'empty.csv'", 1, &["website", "'empty.csv' is empty"]),
        Case::new("header only", "SELECT count(website) AS n FROM 'header_only.csv'", 0, &["| 0 |"]),
        Case::new("missing file", "SELECT * FROM 'nowhere.csv'", 1, &["no file 'nowhere.csv'"]),
        Case::new("syntax error", "SELECT 1;\n\nSELEC website FROM x;", 1, &["line 3", "SELEC"]),
        Case::new("unknown table", "SELECT * FROM hg.compnies", 1, &["no table hg.compnies", "hg.companies"]),
        Case::new("hg table without schema", "SELECT * FROM firmographics", 1, &["hg.firmographics"]),
        Case::new(
            "unknown column",
            "SELECT employees FROM hg.firmographics WHERE company_id = '0A'",
            1,
            &["employees", "employees_total"],
        ),
    ];
    for version in ["v1", "v2"] {
        for case in &cases {
            let mut command = hgsql();
            command.current_dir(d).env("HG_API_VERSION", version).args(["-c", &case.sql]);
            case.check(&run(&mut command));
        }
    }
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 5, "no file written or removed");
}

#[test]
fn not_in_over_a_column_that_may_be_null_says_to_write_a_left_join_which_works() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "accounts.csv", b"account_id,website\n1,acme.com\n2,\n");
    let not_in = "SELECT count(*) FROM 'accounts.csv' a WHERE a.website NOT IN (SELECT match_domain FROM hg.companies)";
    let says = ["NOT IN (SELECT match_domain FROM hg.companies)", "may be NULL", "WHERE t.match_domain IS NULL"];
    let mut command = hgsql();
    command.current_dir(dir.path()).args(["--sandbox", "-c", not_in]);
    Case::new("NOT IN over a column that may be NULL", not_in, 1, &says).check(&run(&mut command));
    let rewritten = "SELECT count(*) AS n FROM 'accounts.csv' a LEFT JOIN hg.companies t ON t.match_domain = a.website \
                     WHERE t.match_domain IS NULL";
    let mut command = hgsql();
    command.current_dir(dir.path()).args(["--sandbox", "-c", rewritten]);
    Case::new("the LEFT JOIN it suggests", rewritten, 0, &["| 2 |"]).check(&run(&mut command));
}

/// Known domains of the sandbox, from its free search endpoint.
fn domains(sandbox: &SandboxProcess, n: usize) -> Vec<String> {
    let mut command = sandbox.hgsql();
    command.args([
        "--format",
        "csv",
        "-c",
        &format!("SELECT domain_name_normalized FROM hg.search ORDER BY company_id LIMIT {n}"),
    ]);
    let out = run(&mut command);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().skip(1).map(str::to_string).collect()
}

#[test]
fn odd_domains_are_sent_encoded_and_change_no_other_parameter() {
    odd_domains(V1);
}

#[test]
fn odd_domains_are_sent_encoded_and_change_no_other_parameter_on_v2() {
    odd_domains(V2);
}

fn odd_domains(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "300", "--rate", "0"]);
    let known = domains(&sandbox, 2);
    let (a, b) = (&known[0], &known[1]);
    let dir = tempfile::tempdir().unwrap();
    // Account 1..4 are `a` behind query strings, fragments and spaces; 5 asks for 100 matches
    // through the value; 6..8 are no domain HG knows.
    let csv = format!(
        "account_id,website\n1,{a}?utm=1&limit=100\n2,https://{a}/#top\n3,  {a}  \n4,{b}/path?x=1&limit=100\n\
         5,{a}&limit=100\n6,ac me.com\n7,bücher.de\n8,{a}%26limit%3D100\n"
    );
    write(dir.path(), "odd.csv", csv.as_bytes());
    let mut command = sandbox.hgsql_on(version);
    command.current_dir(dir.path()).args([
        "--format",
        "csv",
        "-c",
        "SELECT a.account_id, c.domain_name, c.match_rank FROM 'odd.csv' a \
         LEFT JOIN hg.companies c ON c.match_domain = a.website ORDER BY a.account_id, c.match_rank",
    ]);
    let out = run(&mut command);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Vec<&str>> = stdout.lines().skip(1).map(|l| l.split(',').collect()).collect();
    // One row per account: a `limit` in the value did not become a parameter.
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), ["1", "2", "3", "4", "5", "6", "7", "8"], "{stdout}");
    let domain = |r: &Vec<&str>| r[1].trim_start_matches("www.").to_string();
    for row in &rows[..3] {
        assert_eq!(domain(row), *a, "{stdout}");
        assert_eq!(row[2], "1");
    }
    assert_eq!(domain(&rows[3]), *b, "{stdout}");
    for row in &rows[4..] {
        assert_eq!(row[1], "", "{row:?} is no domain HG knows: {stdout}");
    }
}

#[test]
fn bad_ids_match_nothing_and_say_so() {
    bad_ids(V1);
}

#[test]
fn bad_ids_match_nothing_and_say_so_on_v2() {
    bad_ids(V2);
}

fn bad_ids(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "300", "--rate", "0"]);
    let mut command = sandbox.hgsql_on(version);
    command.args([
        "--format",
        "csv",
        "-c",
        "SELECT company_id, employees_total FROM hg.firmographics \
         WHERE company_id IN ('xyz', '123456789012345678901234567890123', 'ABC', '')",
    ]);
    let out = run(&mut command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1, "only the header: no company has these ids");
    assert!(
        stderr.contains("hg.firmographics: 3 value(s) of company_id are not HG ids") && stderr.contains("'xyz'"),
        "the user hears of the typos: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {stderr:?}");
}

#[test]
fn unreachable_silent_and_refusing_apis_exit_3_in_bounded_time() {
    unreachable_silent_refusing(V1);
}

#[test]
fn unreachable_silent_and_refusing_apis_exit_3_in_bounded_time_on_v2() {
    unreachable_silent_refusing(V2);
}

fn unreachable_silent_refusing(version: ApiVersion) {
    let sql = "SELECT company_id FROM hg.firmographics WHERE company_id = '0A'";
    let root = format!("/data-api/{version}");
    let key = if version == V2 { "hg_v2_k" } else { "k" };
    // Nothing listens on port 1.
    let mut command = hgsql();
    command.env("HG_API_KEY", key).args(["--base-url", &format!("http://127.0.0.1:1{root}"), "-c", sql]);
    Case::new("unreachable", sql, 3, &["127.0.0.1:1", "connection failed"]).check(&run(&mut command));

    // A server that accepts and never answers: the request times out (1 s here, by config).
    // Nobody calls accept(): the kernel completes the connections queued for it, so the client
    // connects, sends its request and waits for an answer that never comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{root}", silent.local_addr().unwrap());
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config.path().join("hgsql")).unwrap();
    std::fs::write(
        config.path().join("hgsql/config.toml"),
        "[profiles.default]\ntimeout_seconds = 1\nmax_attempts = 2\n",
    )
    .unwrap();
    let started = Instant::now();
    let mut command = hgsql();
    command.env("XDG_CONFIG_HOME", config.path()).env("HG_API_KEY", key).args(["--base-url", &url, "-c", sql]);
    Case::new("never answers", sql, 3, &["timed out"]).check(&run(&mut command));
    assert!(started.elapsed() < Duration::from_secs(15), "two 1 s attempts took {:?}", started.elapsed());
    drop(silent);

    // A key the API refuses.
    let sandbox = SandboxProcess::start(&["--companies", "300", "--rate", "0"]);
    let mut command = sandbox.hgsql_on(version);
    let wrong = if version == V2 { "hg_v2_wrong-key-5e1" } else { "wrong-key-5e1" };
    command.env("HG_API_KEY", wrong).args(["-c", sql]);
    let out = run(&mut command);
    Case::new("wrong key", sql, 3, &["refused"]).check(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-key-5e1"), "the key is never echoed");
}

/// The bad-input table for HTTP tables: each definition or answer that cannot work fails with
/// the thing at fault and the fix, before any request where the definition alone says so.
#[test]
fn bad_http_table_definitions_and_answers_get_a_clear_error() {
    let sandbox = SandboxProcess::start(&["--companies", "300", "--rate", "0"]);
    let rest = sandbox.url.replace("/data-api/v1", "/rest");
    let create = |location: &str, columns: &str, options: &str| {
        format!("CREATE EXTERNAL TABLE t ({columns}) STORED AS HTTP LOCATION '{location}' OPTIONS ({options})")
    };
    let accounts = format!("{rest}/open/accounts/{{domain}}");
    let query = "; SELECT * FROM t WHERE domain = 'x.example'";
    let cases = [
        Case::new(
            "malformed template",
            create(&format!("{rest}/open/accounts/{{domain"), "domain TEXT", "'rows_path' '/account'"),
            1,
            &["LOCATION", "never closed", "{column}"],
        ),
        Case::new(
            "a placeholder in the host",
            create("https://{domain}.example.com/x", "domain TEXT", "'rows_path' '/account'"),
            1,
            &["{domain}", "host", "path or the query"],
        ),
        Case::new(
            "unknown option",
            create(&accounts, "domain TEXT", "'rows_pth' '/account'"),
            1,
            &["unknown option 'rows_pth'", "rows_path", "paginate", "path.<column>"],
        ),
        Case::new(
            "literal secret",
            create(&accounts, "domain TEXT", "'auth' 'bearer', 'token' 'sk-live-1234'"),
            1,
            &["'token'", "${env:NAME}", "connection"],
        ),
        Case::new(
            "a body that is not JSON answers 200",
            create(&format!("{rest}/open/broken/{{domain}}"), "domain TEXT, name TEXT", "'max_retries' '1'") + query,
            3,
            &["t: domain = 'x.example'", "not JSON", "<html>"],
        ),
        Case::new(
            "a pointer to nothing",
            create(&accounts, "domain TEXT, name TEXT", "'rows_path' '/acount'")
                + "; SELECT * FROM (SELECT domain_name_normalized AS d FROM hg.search ORDER BY company_id LIMIT 10) s JOIN t ON t.domain = s.d",
            3,
            &["rows_path '/acount' points to nothing", "account"],
        ),
        Case::new(
            "a type that does not fit",
            create(&accounts, "domain TEXT, name BIGINT", "'rows_path' '/account'")
                + "; SELECT * FROM (SELECT domain_name_normalized AS d FROM hg.search ORDER BY company_id LIMIT 10) s JOIN t ON t.domain = s.d",
            1,
            &["name:", "is not a whole number", "declare the column as TEXT"],
        ),
        Case::new(
            "a looping cursor",
            create(
                &format!("{rest}/open/deals/loop/{{owner}}"),
                "owner TEXT, id TEXT",
                "'rows_path' '/deals', 'paginate' 'cursor', 'cursor_path' '/next_cursor', 'cursor_param' 'cursor'",
            ) + "; SELECT * FROM t WHERE owner = 'Ana Ruiz'",
            3,
            &["t: owner = 'Ana Ruiz'", "cursor 'c1' a second time", "loops"],
        ),
        Case::new(
            "no keys",
            create(&accounts, "domain TEXT, name TEXT", "'rows_path' '/account'") + "; SELECT * FROM t",
            1,
            &["t: rows are found by domain", "JOIN t x ON x.domain"],
        ),
        Case::new(
            "a column type HTTP tables cannot read",
            create(&accounts, "domain TEXT, names TEXT[]", "'rows_path' '/account'"),
            1,
            &["column names", "declare it TEXT"],
        ),
    ];
    for case in &cases {
        let mut command = sandbox.hgsql();
        command.args(["-c", &case.sql]);
        case.check(&run(&mut command));
    }
    assert_eq!(sandbox.stats()["rest"]["unauthorized"], 0);
}
