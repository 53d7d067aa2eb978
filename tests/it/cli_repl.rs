//! The REPL under a real pseudo-terminal, as a person types at it: completion, `\d`, Ctrl-C
//! cancelling a slow query, history, Ctrl-D.

use std::process::Command;

use rexpect::session::{Options, PtySession, spawn_with_options};

use super::cli::{SandboxProcess, hgsql};

const TIMEOUT_MS: u64 = 60_000;

fn repl(mut command: Command, state: &std::path::Path) -> PtySession {
    command.env("XDG_STATE_HOME", state).env("TERM", "xterm");
    let mut session =
        spawn_with_options(command, Options::new().timeout_ms(Some(TIMEOUT_MS)).strip_ansi_escape_codes(true)).unwrap();
    session.exp_string("hgsql> ").expect("the prompt");
    session
}

#[test]
fn a_table_and_a_column_name_complete_and_history_is_kept() {
    let state = tempfile::tempdir().unwrap();
    let mut command = hgsql();
    command.arg("--sandbox");
    let mut p = repl(command, state.path());
    p.send("SELECT count(*) AS rows_found FROM hg.inst").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("hg.installs").expect("the table name completes");
    p.send(" WHERE compa\t").unwrap();
    p.flush().unwrap();
    p.exp_string("company_id").expect("the column name completes");
    // The completed text is valid SQL only if both completions happened.
    p.send_line(" = '00000000000000000000000000000001';").unwrap();
    p.exp_regex(r"\|\s*rows_found\s*\|").expect("the query ran");
    p.exp_regex(r"\|\s*0\s*\|").unwrap();
    p.exp_string("hgsql> ").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(state.path().join("hgsql").join("history")).unwrap();
    assert!(history.contains("FROM hg.installs WHERE company_id"), "{history}");
}

#[test]
fn describe_marks_company_id_as_the_key_of_hg_installs() {
    let state = tempfile::tempdir().unwrap();
    let mut p = repl(hgsql(), state.path());
    p.send_line("\\d hg.installs").unwrap();
    p.exp_regex(r"\|\s*company_id\s*\|\s*VARCHAR\s*\|\s*key: = or IN, or a join \(required\)")
        .expect("company_id is the key");
    p.exp_regex(r"\|\s*product_id\s*\|\s*BIGINT\s*\|\s*\|\s*=, IN, <>, NOT IN: filters.products").unwrap();
    p.exp_string("hgsql> ").unwrap();
    p.send_line("\\d").unwrap();
    p.exp_regex(r"\|\s*hg.firmographics\s*\|").unwrap();
    p.exp_string("hgsql> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn ctrl_c_cancels_a_slow_query_and_the_next_one_runs() {
    // Every HG answer takes 5 s: the query is still waiting when Ctrl-C comes.
    let sandbox = SandboxProcess::start(&["--companies", "100", "--latency-ms", "5000"]);
    let state = tempfile::tempdir().unwrap();
    let mut p = repl(sandbox.hgsql(), state.path());
    p.send_line("SELECT * FROM hg.firmographics WHERE company_id IN ('00000000000000000000000000000001', '00000000000000000000000000000002');")
        .unwrap();
    // The progress line shows once the lookups are planned: the query is running.
    p.exp_string("HG calls").expect("progress while the query runs");
    p.send_control('c').unwrap();
    p.exp_string("cancelled (Ctrl-C)").expect("the query is cancelled");
    p.exp_string("hgsql> ").unwrap();
    p.send_line("SELECT 40 + 2 AS answer;").unwrap();
    p.exp_regex(r"\|\s*42\s*\|").expect("the REPL still runs queries");
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn a_dry_run_is_for_scripts_not_the_repl() {
    let state = tempfile::tempdir().unwrap();
    let mut command = hgsql();
    command.arg("--dry-run").env("XDG_STATE_HOME", state.path());
    let mut p =
        spawn_with_options(command, Options::new().timeout_ms(Some(TIMEOUT_MS)).strip_ansi_escape_codes(true)).unwrap();
    p.exp_string("--dry-run previews scripts").expect("refused with the fix");
    p.exp_eof().unwrap();
    let status = format!("{:?}", p.process_mut().wait().unwrap());
    assert!(status.starts_with("Exited(") && status.ends_with(", 2)"), "{status}");
}
