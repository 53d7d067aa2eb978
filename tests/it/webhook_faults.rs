//! The webhook sink as a user runs it (the `hgsql` binary, a destination in the config file),
//! against a receiver injecting one kind of fault at 5% and at 30% of posts, killed with
//! SIGKILL midway and run again; and two runs at once. Whatever happens, the receiver never
//! gets a row twice (`on_unknown 'skip'`), every row is received or listed `unknown`, and the
//! ledger agrees with what the receiver counted.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

use futures::StreamExt;
use hgsql::api::webhook::{Destination, Ledger, Named, State};
use hgsql::sandbox::webhook::TOKEN;
use hgsql::sandbox::{Fault, Sandbox};

use crate::cli::finish;
use crate::support::{sandbox, wait_until_async};

const ROWS: usize = 150;

/// The run every child makes: 150 accounts to `webhook://hook`, 100 rows a second (so a kill
/// lands midway), enough retries that 30% faults cannot exhaust them by bad luck (0.3^11 a
/// post), and every row tried whatever happens to others.
const COPY: &str = "COPY (SELECT 'd' || value AS domain, value AS n FROM range(150)) TO 'webhook://hook' STORED AS WEBHOOK \
                    OPTIONS ('key' 'domain', 'rate' '100/s', 'burst' '10', 'max_in_flight' '4', 'max_retries' '10', \
                    'on_error' 'continue')";

/// What a receiver does wrong, and how often.
#[derive(Clone, Copy, Debug)]
enum Trouble {
    Fault(Fault),
    /// Accepts the rows, then resets the connection: the answer is lost.
    Lost,
}

/// Directories of one user: config (with `[webhooks.hook]` on `url`), state (the ledger), cache.
pub struct Home {
    pub dir: tempfile::TempDir,
    url: String,
}

impl Home {
    pub fn new(url: String) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config/hgsql");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(config.join("config.toml"), format!("[webhooks.hook]\nurl = \"{url}\"\ntoken = \"{TOKEN}\"\n"))
            .unwrap();
        Home { dir, url }
    }

    /// `hgsql` as this user (its config, state and cache directories).
    pub fn hgsql(&self) -> Command {
        let path = |p: &str| self.dir.path().join(p);
        let mut command = Command::new(env!("CARGO_BIN_EXE_hgsql"));
        command
            .env("XDG_CONFIG_HOME", path("config"))
            .env("XDG_STATE_HOME", path("state"))
            .env("XDG_CACHE_HOME", path("cache"))
            .env("HOME", self.dir.path())
            .env_remove("HG_API_KEY");
        command
    }

    /// `hgsql -c COPY` of [`COPY`], its output piped.
    fn start(&self) -> Child {
        self.spawn(COPY)
    }

    /// `hgsql -c sql`, its output piped.
    pub fn spawn(&self, sql: &str) -> Child {
        let mut command = self.hgsql();
        command.args(["-c", sql]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.spawn().expect("hgsql starts")
    }

    /// The ledger's state of each domain.
    pub fn ledger(&self) -> BTreeMap<String, State> {
        let named: Named = [(
            "hook".to_string(),
            [("url".to_string(), self.url.clone()), ("token".to_string(), TOKEN.to_string())].into_iter().collect(),
        )]
        .into_iter()
        .collect();
        let destination = Destination::resolve("webhook://hook", None, &BTreeMap::new(), &named, &|_| None).unwrap();
        let ledger = Ledger::open(&self.dir.path().join("state/hgsql/webhooks.sqlite")).unwrap();
        ledger
            .records(&destination.id)
            .unwrap()
            .into_iter()
            .map(|record| {
                let row: serde_json::Value = serde_json::from_str(&record.payload).unwrap();
                (row["domain"].as_str().unwrap().to_string(), record.entry.state)
            })
            .collect()
    }
}

/// Checks, for the receiver `id` of `sandbox` and the ledger of `home`, that no row arrived
/// twice, that every row is received or unknown, and that both tell the same story.
fn agree(sandbox: &Sandbox, id: &str, home: &Home, case: &str) -> Result<(), String> {
    let stats = sandbox.stats()["webhooks"][id].clone();
    let twice = stats["rows_received_twice"].as_u64().unwrap_or(0);
    let received: Vec<String> =
        sandbox.webhook_rows(id).iter().map(|r| r["domain"].as_str().unwrap().to_string()).collect();
    let received_set: BTreeSet<String> = received.iter().cloned().collect();
    let ledger = home.ledger();
    let with = |state: State| -> BTreeSet<String> {
        ledger.iter().filter(|(_, s)| **s == state).map(|(d, _)| d.clone()).collect()
    };
    let (sent, unknown) = (with(State::Sent), with(State::Unknown));
    let all: BTreeSet<String> = (0..ROWS).map(|i| format!("d{i}")).collect();
    let problems = [
        (twice != 0 || received.len() != received_set.len(), format!("{twice} rows arrived twice")),
        (!sent.is_subset(&received_set), "the ledger says sent, the receiver has no such row".into()),
        (
            !received_set.is_subset(&sent.union(&unknown).cloned().collect()),
            "a row arrived that the ledger calls neither sent nor unknown".into(),
        ),
        (
            sent.union(&unknown).cloned().collect::<BTreeSet<_>>() != all,
            format!(
                "rows neither sent nor unknown: {:?}",
                ledger.iter().filter(|(_, s)| !matches!(s, State::Sent | State::Unknown)).collect::<Vec<_>>()
            ),
        ),
        (
            stats["rows_received"].as_u64() != Some(received.len() as u64),
            "the receiver's count disagrees with its rows".into(),
        ),
    ];
    match problems.iter().find(|(bad, _)| *bad) {
        Some((_, what)) => {
            Err(format!("{case}: {what} (sent {}, unknown {}, received {})", sent.len(), unknown.len(), received.len()))
        }
        None => Ok(()),
    }
}

/// One case: a receiver with `trouble` at `rate`; a run killed once 50 rows arrived; a rerun.
async fn killed_and_rerun(trouble: Trouble, rate: f64, seed: u64) -> Result<(), String> {
    let case = format!("{trouble:?} at {:.0}%", rate * 100.0);
    let sandbox = sandbox(|c| {
        c.webhook_rate = None;
        c.seed = seed;
        match trouble {
            Trouble::Fault(fault) => {
                c.fault_rate = rate;
                c.fault_kinds = vec![fault];
            }
            Trouble::Lost => c.webhook_lost_rate = rate,
        }
    })
    .await;
    let id = "crm";
    let home = Home::new(sandbox.clay_webhook_url(id));
    let mut child = home.start();
    let arrived = || sandbox.stats()["webhooks"][id]["rows_received"].as_u64().unwrap_or(0);
    wait_until_async(&format!("{case}: 50 rows arrive"), || arrived() >= 50).await;
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    if status.signal() != Some(9) {
        return Err(format!("{case}: the first run ended before the kill ({status})"));
    }
    let before = arrived();
    let rerun = {
        let (child, what) = (home.start(), case.clone());
        // `finish` blocks: off the runtime, so the other cases go on.
        tokio::task::spawn_blocking(move || finish(child, &what)).await.unwrap()
    };
    if !rerun.status.success() {
        return Err(format!("{case}: the rerun failed: {}", String::from_utf8_lossy(&rerun.stderr)));
    }
    let summary = String::from_utf8_lossy(&rerun.stderr).to_string();
    if !summary.contains("hook: ") || before == 0 {
        return Err(format!("{case}: no summary line, or nothing before the kill: {summary}"));
    }
    agree(&sandbox, id, &home, &case)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_fault_killed_midway_and_rerun_no_row_arrives_twice_or_goes_untold() {
    let mut cases = Vec::new();
    let troubles = Fault::ALL.into_iter().map(Trouble::Fault).chain([Trouble::Lost]);
    for (i, trouble) in troubles.enumerate() {
        for (j, rate) in [0.05, 0.30].into_iter().enumerate() {
            cases.push((trouble, rate, 7 + (i * 2 + j) as u64));
        }
    }
    let outcomes: Vec<Result<(), String>> = futures::stream::iter(cases)
        .map(|(trouble, rate, seed)| killed_and_rerun(trouble, rate, seed))
        .buffer_unordered(4)
        .collect()
        .await;
    let failures: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_at_once_deliver_each_row_once() {
    let sandbox = sandbox(|c| c.webhook_rate = None).await;
    let id = "shared";
    let home = Home::new(sandbox.clay_webhook_url(id));
    let (first, second) = (home.start(), home.start());
    let first = tokio::task::spawn_blocking(move || finish(first, "the first run"));
    let second = tokio::task::spawn_blocking(move || finish(second, "the second run"));
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    for run in [&first, &second] {
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    }
    agree(&sandbox, id, &home, "two runs").unwrap();
    let received = sandbox.webhook_rows(id).len();
    assert_eq!(received, ROWS, "each row once, between them");
    assert!(home.ledger().values().all(|s| *s == State::Sent));
}
