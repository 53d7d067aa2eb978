//! The `hgsql` binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn hgsql() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hgsql"))
}

#[test]
fn dash_c_runs_sql_and_prints_a_table() {
    let out = hgsql().args(["-c", "SELECT 1 + 1 AS two, 'x' AS letter"]).output().unwrap();
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
    let out = hgsql().arg("-f").arg(&sql).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let n = stdout.find("| 3 |").expect("count printed");
    let g = stdout.find("| GLOBEX |").expect("second statement printed");
    assert!(n < g, "statements run in order: {stdout}");
}

#[test]
fn errors_exit_non_zero_and_say_why() {
    let out = hgsql().args(["-c", "SELEC 1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SQL syntax error"));
    let out = hgsql().args(["-c", "SELECT * FROM 'no/such/file.csv'"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = hgsql().args(["-f", "/no/such/file.sql"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.sql"));
    let out = hgsql().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = hgsql().args(["sandbox", "--deny", "contacts"]).output().unwrap();
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
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
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
    let out = hgsql().args(["sandbox", "--companies", "150", "--dump"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let query = format!("SELECT count(*) AS n FROM '{}'", dir.path().join("firmographics.parquet").display());
    let out = hgsql().args(["-c", &query]).output().unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("| 150 |"));
}
