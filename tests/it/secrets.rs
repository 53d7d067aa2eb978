//! The API key never leaves the process: not on stdout or stderr (logs at the most verbose
//! level included), not in EXPLAIN text, output files, the cache file or the history, along
//! every command path, on HG's v1 and v2 (whose key holds v1's: `hg_v2_` and the same text).

use std::path::Path;
use std::process::{Command, Stdio};

use hgsql::api::ApiVersion::{self, V1, V2};

use super::cli::{SandboxProcess, run};

/// What the key looks like nowhere but in the request header.
const KEY: &str = "test-key-7f3a9c";

/// Every file under `dir`, as text.
pub fn all_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text.push_str(&all_text(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

#[test]
fn the_key_appears_in_no_output_log_file_or_plan() {
    key_nowhere(V1);
}

#[test]
fn the_key_appears_in_no_output_log_file_or_plan_on_v2() {
    key_nowhere(V2);
}

fn key_nowhere(version: ApiVersion) {
    let sandbox = SandboxProcess::start(&["--companies", "300", "--rate", "0"]);
    assert_eq!(sandbox.key, KEY, "the sandbox process accepts the recognisable key");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let ids = "SELECT company_id FROM hg.search ORDER BY company_id LIMIT 30";
    let join = format!(
        "SELECT f.company_id, f.employees_total, i.product_name FROM ({ids}) a \
         JOIN hg.firmographics f ON f.company_id = a.company_id LEFT JOIN hg.installs i ON i.company_id = a.company_id"
    );
    let o = out.display();
    let runs: Vec<Vec<String>> = vec![
        vec!["-c".into(), join.clone()],
        vec!["--format".into(), "json".into(), "-c".into(), join.clone()],
        vec!["--timing".into(), "-c".into(), join.clone(), "-o".into(), format!("{o}/o.parquet")],
        vec!["-c".into(), format!("COPY ({join}) TO '{o}/copy.csv'")],
        vec!["-c".into(), format!("EXPLAIN {join}")],
        vec!["-c".into(), format!("EXPLAIN ANALYZE {join}")],
        vec![
            "-c".into(),
            "EXPLAIN SELECT * FROM hg.firmographics WHERE company_id = '00000000000000000000000000000001'".into(),
        ],
        vec!["--dry-run".into(), "-c".into(), join.clone()],
        vec!["--refresh".into(), "-c".into(), join.clone()],
        vec!["-c".into(), "SET hg.on_error = 'null'".into(), "-c".into(), join.clone()],
        vec!["-c".into(), "SELECT * FROM hg.firmographics".into()],
        vec!["-c".into(), "SELEC oops".into()],
        vec!["doctor".into()],
        vec!["cache".into(), "stats".into()],
    ];
    let mut seen = String::new();
    for (i, args) in runs.iter().enumerate() {
        for via_flag in [false, true] {
            let mut command = sandbox.hgsql_on(version);
            command
                .env("HGSQL_LOG", "trace")
                .env("XDG_CACHE_HOME", &cache)
                .env("XDG_STATE_HOME", &state)
                .stdin(Stdio::null());
            if via_flag {
                // The flag form, as a user who ignores the advice to use the environment would.
                command.env_remove("HG_API_KEY").args(["--api-key", &sandbox.key_of(version)]);
            }
            let output = run(command.args(args));
            let text =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(!text.contains(KEY), "run {i} {args:?} (flag: {via_flag}) printed the key:\n{text}");
            seen.push_str(&text);
        }
    }
    assert!(seen.contains("TRACE") || seen.contains("DEBUG"), "the most verbose logs were on");
    assert!(seen.contains("ApiScanExec") && seen.contains("api_calls"), "EXPLAIN and EXPLAIN ANALYZE ran");
    // A base URL that does not answer: the transport error names the URL, never the key.
    let unreachable = run(Command::new(env!("CARGO_BIN_EXE_hgsql"))
        .env("HG_API_KEY", sandbox.key_of(version))
        .env("HG_BASE_URL", format!("http://127.0.0.1:9/data-api/{version}"))
        .env("XDG_CACHE_HOME", &cache)
        .env("HGSQL_LOG", "trace")
        .args(["-c", &format!("SELECT * FROM hg.firmographics WHERE company_id = '{}'", "0".repeat(31) + "1")]));
    let text =
        format!("{}{}", String::from_utf8_lossy(&unreachable.stdout), String::from_utf8_lossy(&unreachable.stderr));
    assert_eq!(unreachable.status.code(), Some(3), "{text}");
    assert!(!text.contains(KEY), "{text}");

    let files = all_text(dir.path());
    assert!(files.contains("firmographic"), "the cache and outputs were written");
    assert!(!files.contains(KEY), "a file under {} holds the key", dir.path().display());
}
