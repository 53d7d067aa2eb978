//! HTTP tables through the binary: definitions from `init.sql` and `-r`, a secret from the
//! environment or a connection of the config file, `\d` with secrets redacted, `--timing`,
//! `--dry-run`, the cache across runs and `hgsql cache stats`.

use std::path::Path;
use std::process::Command;

use rexpect::session::{Options, spawn_with_options};

use crate::cli::{SandboxProcess, hgsql, run};

/// The sandbox's REST API.
fn rest_url(sandbox: &SandboxProcess) -> String {
    sandbox.url.replace("/data-api/v1", "/rest")
}

fn rest_requests(sandbox: &SandboxProcess, route: &str) -> u64 {
    sandbox.stats()["rest"]["requests"][route].as_u64().unwrap_or(0)
}

fn crm_definition(sandbox: &SandboxProcess, options: &str) -> String {
    format!(
        "CREATE EXTERNAL TABLE crm (domain TEXT NOT NULL, name TEXT, owner TEXT)
         STORED AS HTTP LOCATION '{}/bearer/accounts/{{domain}}'
         OPTIONS ('auth' 'bearer', 'rows_path' '/account', 'path.owner' '/owner/name'{options});\n",
        rest_url(sandbox)
    )
}

/// A command with its own config and cache directories under `home`.
fn in_home(home: &Path) -> Command {
    let mut command = hgsql();
    command.env("XDG_CONFIG_HOME", home.join("config")).env("XDG_CACHE_HOME", home.join("cache"));
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_sql_defines_tables_every_run_and_a_rerun_is_answered_by_the_cache() {
    let sandbox = SandboxProcess::start(&["--companies", "500"]);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config/hgsql")).unwrap();
    let init = crm_definition(&sandbox, ", 'token' '${env:CRM_TOKEN}'");
    std::fs::write(home.path().join("config/hgsql/init.sql"), init).unwrap();
    let query = "SELECT domain, owner, _status FROM crm WHERE domain IN ('a.example', 'b.example', 'c.example') ORDER BY domain";
    let first =
        run(in_home(home.path()).env("CRM_TOKEN", "rest-token").args(["--timing", "--format", "csv", "-c", query]));
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains("3 HTTP-table requests, 0 from the cache"), "{}", text(&first.stderr));
    assert_eq!(rest_requests(&sandbox, "accounts"), 3);
    let second =
        run(in_home(home.path()).env("CRM_TOKEN", "rest-token").args(["--timing", "--format", "csv", "-c", query]));
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert_eq!(text(&first.stdout), text(&second.stdout));
    assert!(text(&second.stderr).contains("0 HTTP-table requests, 3 from the cache"), "{}", text(&second.stderr));
    assert_eq!(rest_requests(&sandbox, "accounts"), 3, "the rerun asks nothing (404s are cached too)");
    let stats = run(in_home(home.path()).args(["cache", "stats"]));
    assert!(text(&stats.stdout).contains("http:crm"), "{}", text(&stats.stdout));
    // Without the variable the init file fails, naming itself and the variable.
    let unset = run(in_home(home.path()).args(["-c", "SELECT 1"]));
    assert_eq!(unset.status.code(), Some(1));
    let error = text(&unset.stderr);
    assert!(error.contains("init.sql") && error.contains("CRM_TOKEN") && error.contains("--no-init"), "{error}");
    let skipped = run(in_home(home.path()).args(["--no-init", "-c", "SELECT 1"]));
    assert_eq!(skipped.status.code(), Some(0), "{}", text(&skipped.stderr));
}

#[test]
fn a_dry_run_sends_no_request_and_says_what_it_would_send() {
    let sandbox = SandboxProcess::start(&["--companies", "500"]);
    let home = tempfile::tempdir().unwrap();
    let init = home.path().join("tables.sql");
    std::fs::write(&init, crm_definition(&sandbox, ", 'token' '${env:CRM_TOKEN}'")).unwrap();
    let out = run(in_home(home.path()).env("CRM_TOKEN", "rest-token").arg("-r").arg(&init).args([
        "--dry-run",
        "-c",
        "SELECT * FROM (VALUES ('a.example'), ('b.example')) v(d) JOIN crm c ON c.domain = v.d",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("HTTP tables: 2 requests not made (for 2 keys)"), "{}", text(&out.stderr));
    assert_eq!(rest_requests(&sandbox, "accounts"), 0);
}

#[test]
fn describe_shows_keys_pointers_and_options_with_secrets_redacted() {
    let sandbox = SandboxProcess::start(&["--companies", "500"]);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config/hgsql")).unwrap();
    std::fs::write(
        home.path().join("config/hgsql/config.toml"),
        "[http.crm]\ntoken = \"rest-token\"\nrate = \"5/s\"\n",
    )
    .unwrap();
    std::fs::write(home.path().join("config/hgsql/init.sql"), crm_definition(&sandbox, ", 'connection' 'crm'"))
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut command = in_home(home.path());
    command.env("XDG_STATE_HOME", state.path()).env("TERM", "xterm");
    let mut p =
        spawn_with_options(command, Options::new().timeout_ms(Some(60_000)).strip_ansi_escape_codes(true)).unwrap();
    p.exp_string("hgsql> ").unwrap();
    p.send_line("\\d crm").unwrap();
    p.exp_regex(r"\|\s*domain\s*\|\s*Utf8\s*\|\s*key: = / IN or a join").expect("domain is the key");
    p.exp_regex(r"\|\s*owner\s*\|\s*Utf8\s*\|\s*\|\s*/account/owner/name").expect("where owner is read from");
    let before = p.exp_string("hgsql> ").unwrap();
    assert!(before.contains("token = *** (connection crm)"), "{before}");
    assert!(before.contains("rate = 5/s (connection crm)") && before.contains("(request)"), "{before}");
    assert!(!before.contains("rest-token"), "{before}");
    p.send_line("\\d").unwrap();
    p.exp_regex(r"\|\s*crm\s*\|\s*HTTP GET http://127.0.0.1:\d+/rest/bearer/accounts/\{domain\}")
        .expect("\\d lists it");
    p.exp_string("hgsql> ").unwrap();
    // A secret typed into the SQL is refused, and not kept in the history.
    p.send_line("CREATE EXTERNAL TABLE leak (id TEXT) STORED AS HTTP LOCATION 'https://x.example/{id}' OPTIONS ('auth' 'bearer', 'token' 'sk-typed-secret');").unwrap();
    p.exp_string("${env:NAME}").expect("refused with the fix");
    p.exp_string("hgsql> ").unwrap();
    p.send_line("SELECT owner, _status FROM crm WHERE domain = 'a.example';").unwrap();
    // The prompt is redrawn as the line is typed: wait for the result itself.
    p.exp_string("HTTP-table requests").unwrap();
    p.exp_string("hgsql> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(state.path().join("hgsql/history")).unwrap();
    assert!(history.contains("\\d crm") && !history.contains("sk-typed-secret"), "{history}");
    assert_eq!(sandbox.stats()["rest"]["unauthorized"], 0, "the connection's token was sent");
    assert_eq!(rest_requests(&sandbox, "accounts"), 1);
}

#[test]
fn the_worked_example_joins_hg_and_a_clay_shaped_api_in_one_query() {
    let sandbox = SandboxProcess::start(&["--rate", "0"]);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config/hgsql")).unwrap();
    // What --sandbox gives the file: a connection to the sandbox's REST API.
    let config = format!("[http.sandbox]\nbase_url = \"{}/bearer\"\ntoken = \"rest-token\"\n", rest_url(&sandbox));
    std::fs::write(home.path().join("config/hgsql/config.toml"), config).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = sandbox.hgsql();
    command
        .current_dir(root)
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .args(["--format", "csv", "-f", "queries/clay_enrich.sql"]);
    let out = run(&mut command);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 20, "{stdout}");
    assert!(rows.iter().filter(|r| r.ends_with(",ok")).count() >= 10, "most accounts are known to both: {stdout}");
    // Every domain HG gave was asked of the enrich route once, whatever the accounts repeat.
    let stats = sandbox.stats();
    assert_eq!(stats["rest"]["repeated"]["enrich"].as_u64().unwrap_or(0), 0, "{stats}");
    assert!(stats["rest"]["requests"]["enrich"].as_u64().unwrap() > 100, "{stats}");
}
