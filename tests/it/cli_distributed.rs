//! The command line across workers, in child processes: two `hgsql worker` processes, and
//! `hgsql --sandbox --workers …` running the main job (queries/enrich.sql) over a fifth of its
//! accounts (the sandbox answers 25 requests a second) as four Parquet files, prints the CSV and makes the HG calls of `hgsql --sandbox` alone. A worker
//! that is gone fails the run with exit code 5, naming it, and writes no file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::cli::{hgsql, run};

/// An `hgsql worker` process, killed when dropped.
struct WorkerProcess {
    child: Child,
    url: String,
}

impl WorkerProcess {
    /// Starts one on 127.0.0.1:0 and reads the URL it prints.
    fn start() -> WorkerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hgsql"))
            .args(["worker", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("hgsql worker listening on ").unwrap_or_else(|| panic!("{line}"));
        assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
        WorkerProcess { url: url.to_string(), child }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The main job's enrichment over the accounts in `dir`: its view, and a query printing its rows.
fn enrichment(dir: &Path) -> (String, &'static str) {
    let job = std::fs::read_to_string("queries/enrich.sql").unwrap();
    // Without its comment lines: `-c -- …` would read as a flag.
    let view: String =
        job.split("COPY (").next().unwrap().lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n");
    assert!(view.contains("'queries/accounts.csv'"), "the main job reads the accounts CSV");
    let view = view.replace("'queries/accounts.csv'", &format!("'{}/'", dir.display()));
    (view, "SELECT * FROM enriched ORDER BY account_id, company_id")
}

/// `204 rows in 0.35 s · 341 HG calls · …` → 341.
fn hg_calls(stderr: &str) -> u64 {
    let line = stderr.lines().rev().find(|l| l.contains(" HG calls")).unwrap_or_else(|| panic!("{stderr}"));
    let before = line.split(" HG calls").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn two_worker_processes_print_the_csv_and_make_the_calls_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts");
    for part in 0..4 {
        let copy = format!(
            "COPY (SELECT * FROM 'queries/accounts.csv' WHERE CAST(substr(account_id, 5) AS INT) % 20 = {part}) \
             TO '{}/part-{part}.parquet'",
            accounts.display()
        );
        let out = run(hgsql().args(["-c", &copy]));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (view, select) = enrichment(&accounts);
    let query = format!("{view}\n{select}");
    let alone = run(hgsql().args(["--sandbox", "--format", "csv", "--timing", "-c", &query]));
    assert!(alone.status.success(), "{}", String::from_utf8_lossy(&alone.stderr));
    let workers = [WorkerProcess::start(), WorkerProcess::start()];
    let urls = format!("{},{}", workers[0].url, workers[1].url);
    // Tiny files are split across every task, so the workers really scan them.
    let fan_out = "SET distributed.file_scan_config_bytes_per_partition = 1";
    let across = run(hgsql().args([
        "--sandbox",
        "--workers",
        &urls,
        "--format",
        "csv",
        "--timing",
        "-c",
        fan_out,
        "-c",
        &query,
    ]));
    let (alone_err, across_err) = (String::from_utf8_lossy(&alone.stderr), String::from_utf8_lossy(&across.stderr));
    assert!(across.status.success(), "{across_err}");
    let csv = String::from_utf8(alone.stdout).unwrap();
    assert!(csv.lines().count() > 20, "{csv}");
    assert_eq!(String::from_utf8(across.stdout).unwrap(), csv, "the same CSV across workers");
    assert_eq!(hg_calls(&across_err), hg_calls(&alone_err), "the same HG calls:\n{alone_err}\n{across_err}");
    // EXPLAIN shows the stages and their tasks; EXPLAIN ANALYZE what each ran, and the tasks
    // sent over the network to the workers.
    let explain = format!("{view}\nEXPLAIN {select}");
    let explained = run(hgsql().args(["--sandbox", "--workers", &urls, "-c", fan_out, "-c", &explain]));
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(text.contains("distributed_plan") && text.contains("Stage 1") && text.contains("tasks=3"), "{text}");
    let analyze = format!("{view}\nEXPLAIN ANALYZE {select}");
    let explained = run(hgsql().args(["--sandbox", "--workers", &urls, "-c", fan_out, "-c", &analyze]));
    let text = String::from_utf8_lossy(&explained.stdout);
    let remote = text.split("remote_coordinator_channels=").nth(1).and_then(|r| r.split(',').next());
    assert!(remote.is_some_and(|n| n.parse::<u64>().unwrap() > 0), "{text}");

    // A worker gone: the run fails naming it, with exit code 5, and writes no file.
    let [first, second] = workers;
    let gone = second.url.clone();
    drop(second);
    let output = dir.path().join("enriched.csv");
    let failed = run(hgsql()
        .args(["--sandbox", "--workers", &format!("{},{gone}", first.url), "-c", fan_out, "-c", &query, "-o"])
        .arg(&output));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains(&gone) && stderr.contains("hgsql worker"), "{stderr}");
    assert!(!output.exists(), "no file from a failed run");
}

#[test]
fn doctor_checks_each_worker_is_reachable_and_of_this_build() {
    let live = WorkerProcess::start();
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let out = run(hgsql().args(["doctor", "--sandbox", "--workers", &live.url]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("{}: reachable, {}", live.url, hgsql::distributed::BUILD)), "{stdout}");
    let out = run(hgsql().args(["doctor", "--sandbox", "--workers", &format!("{},{gone}", live.url)]));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("{gone}: cannot reach hgsql worker {gone}: nothing listens there")), "{stdout}");
    assert!(stderr.contains("a worker is unreachable"), "{stderr}");
}
