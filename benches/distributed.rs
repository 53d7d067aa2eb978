//! The local side across workers: 10 million generated event rows in 16 Parquet files,
//! aggregated to 50,000 accounts and enriched with HG (match, then firmographics), run by one
//! `hgsql` process and then by a coordinator with two `hgsql worker` processes on this machine.
//! Run by hand (release build):
//!
//! ```sh
//! cargo bench --bench distributed             # 10M rows, 16 files, 50,000 accounts
//! cargo bench --bench distributed -- quick    # 1M rows, 16 files, 5,000 accounts
//! ```
//!
//! The sandbox runs in this process with no rate limit and no latency, so the time is the
//! local work and hgsql's own; with HG's 25 requests a second the lookups would take most of
//! it, whatever the number of workers. The local part (the aggregation alone) is run and timed
//! by itself first, in both modes. Both modes write the same CSV, sorted, which must be equal
//! byte for byte, and the job must make the same HG calls (each run has no cache). For each
//! process: wall time, CPU seconds and peak RSS (VmHWM); each run gets fresh workers.

#[path = "support/accounts.rs"]
mod accounts;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hgsql::sandbox::{Sandbox, SandboxConfig};

/// Companies in the sandbox data set: more distinct domains than accounts.
const COMPANIES: usize = 200_000;
const FILES: usize = 16;

/// What one process used.
struct Usage {
    cpu: f64,
    peak_rss_mib: f64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let (rows, accounts) = if quick { (1_000_000, 5_000) } else { (10_000_000, 50_000) };
    println!("{}", machine());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let data = hgsql::sandbox::DataSet::shared(SandboxConfig::default().seed, COMPANIES);
    let hosts = accounts::distinct_hosts(&data);
    let dir = std::env::temp_dir().join(format!("hgsql-bench-distributed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let known = write_accounts(&dir, accounts, &hosts);
    let started = Instant::now();
    generate_events(&dir, rows, accounts);
    println!(
        "{rows} event rows over {accounts} accounts ({known} known to HG) in {FILES} Parquet files ({:.0} MiB), generated in {:.1} s",
        size_of_dir(&dir.join("events")) as f64 / 1024.0 / 1024.0,
        started.elapsed().as_secs_f64()
    );
    let sandbox = runtime
        .block_on(Sandbox::start(SandboxConfig {
            companies: COMPANIES,
            rate: None,
            latency: Duration::ZERO,
            credits: None,
            ..SandboxConfig::default()
        }))
        .expect("sandbox starts");

    // The CPU the generation took is not the first run's.
    let _ = children_cpu_since_last();
    let (local_alone_wall, local_alone) = run_job(&dir, &sandbox, &local_part("alone"), None);
    sandbox.reset_stats();
    let (alone_wall, alone) = run_job(&dir, &sandbox, &job("alone"), None);
    let alone_calls = calls(&sandbox);

    // Fresh workers for each run, so each one's peak RSS is that run's.
    let workers = [WorkerProcess::start(), WorkerProcess::start()];
    let urls = format!("{},{}", workers[0].url, workers[1].url);
    let (local_across_wall, local_coordinator) = run_job(&dir, &sandbox, &local_part("across"), Some(&urls));
    let local_workers: Vec<Usage> = workers.iter().map(|w| usage_of(w.child.id())).collect();
    drop(workers);
    // The workers just reaped count as children too: not the next run's.
    let _ = children_cpu_since_last();
    let workers = [WorkerProcess::start(), WorkerProcess::start()];
    let urls = format!("{},{}", workers[0].url, workers[1].url);
    sandbox.reset_stats();
    let (across_wall, coordinator) = run_job(&dir, &sandbox, &job("across"), Some(&urls));
    let across_calls = calls(&sandbox);
    let job_workers: Vec<Usage> = workers.iter().map(|w| usage_of(w.child.id())).collect();
    drop(workers);

    let same =
        |a: &str, b: &str| std::fs::read(dir.join(a)).expect("output") == std::fs::read(dir.join(b)).expect("output");
    let (same_output, same_usage) =
        (same("out-alone.csv", "out-across.csv"), same("usage-alone.csv", "usage-across.csv"));
    let lines = std::fs::read_to_string(dir.join("out-alone.csv")).expect("output").lines().count();
    println!("\noutput: {} rows, the same in both runs: {same_output} (the local part alone: {same_usage})", lines - 1);
    println!("HG calls: one process {alone_calls:?}, across workers {across_calls:?}");
    println!("\n| run | wall s | process | CPU s | peak RSS MiB |\n|---|---|---|---|---|");
    let row = |run: &str, wall: Option<f64>, process: &str, u: &Usage| {
        let wall = wall.map_or(String::new(), |w| format!("{w:.2}"));
        println!("| {run} | {wall} | {process} | {:.2} | {:.0} |", u.cpu, u.peak_rss_mib);
    };
    row("local part, one process", Some(local_alone_wall), "hgsql", &local_alone);
    row("local part, two workers", Some(local_across_wall), "hgsql (coordinator)", &local_coordinator);
    for (i, usage) in local_workers.iter().enumerate() {
        row("", None, &format!("hgsql worker {}", i + 1), usage);
    }
    row("whole job, one process", Some(alone_wall), "hgsql", &alone);
    row("whole job, two workers", Some(across_wall), "hgsql (coordinator)", &coordinator);
    for (i, usage) in job_workers.iter().enumerate() {
        row("", None, &format!("hgsql worker {}", i + 1), usage);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(same_output && same_usage, "the two runs wrote different rows");
    assert_eq!(alone_calls, across_calls, "the two runs made different HG calls");
}

/// Model name, cores and memory of this machine.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("machine: {}, {cores} cores", model.trim())
}

/// `accounts.csv`: `n` accounts, 90% of them known hosts of the data set (spelled as account
/// lists spell them), the rest unknown. Returns how many are known.
fn write_accounts(dir: &Path, n: usize, hosts: &[String]) -> usize {
    let known = n * 90 / 100;
    assert!(hosts.len() >= known, "the data set has {} domains, {known} needed", hosts.len());
    let step = hosts.len() / known;
    let mut csv = std::io::BufWriter::new(std::fs::File::create(dir.join("accounts.csv")).expect("csv"));
    writeln!(csv, "id,website").unwrap();
    for i in 0..n {
        let website = if i < known { accounts::spell(&hosts[i * step], i) } else { format!("unknown-{i}.example") };
        writeln!(csv, "{i},\"{website}\"").unwrap();
    }
    csv.flush().unwrap();
    known
}

/// `events/part-NN.parquet`: `rows` events spread evenly over the accounts, in `FILES` files.
/// Each has a session id (32 hex digits, one per event) as web logs do: it is what makes the
/// files large (about 200 MiB for 10M rows) and what an account's sessions are counted from.
fn generate_events(dir: &Path, rows: usize, accounts: usize) {
    let per_file = rows / FILES;
    let mut sql = String::from("CREATE TABLE accounts AS SELECT * FROM 'accounts.csv';\n");
    for file in 0..FILES {
        let (from, to) = (file * per_file, (file + 1) * per_file);
        sql.push_str(&format!(
            "COPY (SELECT a.website, r.value % 7 AS kind, (r.value * 37) % 1000 AS amount, \
             CAST(r.value AS BIGINT) * 60 AS at_second, md5(CAST(r.value AS VARCHAR)) AS session_id \
             FROM range({from}, {to}) r JOIN accounts a ON a.id = r.value % {accounts}) \
             TO 'events/part-{file:02}.parquet';\n"
        ));
    }
    let out = hgsql(dir).arg("-c").arg(sql).stdout(Stdio::null()).output().expect("hgsql runs");
    assert!(out.status.success(), "generating the events failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn size_of_dir(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map_or(0, |entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
}

/// The events summed up per account: the local part of the job.
const USAGE: &str = "SELECT website, count(*) AS events, sum(amount) AS amount, count(DISTINCT kind) AS kinds, \
                     max(at_second) AS last_seen, approx_distinct(session_id) AS sessions \
                     FROM 'events/' GROUP BY website";

/// The job: the local part, then each account's company and firmographics.
fn job(name: &str) -> String {
    format!(
        "COPY (WITH usage AS ({USAGE}) \
         SELECT u.website, u.events, u.amount, u.kinds, u.last_seen, u.sessions, \
                c.company_id, f.employees_total, f.revenue_band, f.industry_name \
         FROM usage u \
         LEFT JOIN hg.companies c ON c.match_domain = u.website \
         LEFT JOIN hg.firmographics f ON f.company_id = c.company_id \
         ORDER BY u.website, c.company_id) TO 'out-{name}.csv'"
    )
}

/// The local part alone, written out the same way.
fn local_part(name: &str) -> String {
    format!("COPY ({USAGE} ORDER BY website) TO 'usage-{name}.csv'")
}

/// The hgsql binary, in `dir`, with its own config, state and no cache.
fn hgsql(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hgsql"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_STATE_HOME", dir.join("state"));
    command
}

/// Runs `sql` in a coordinator (across `workers` when given), and returns its wall time and
/// what it used.
fn run_job(dir: &Path, sandbox: &Sandbox, sql: &str, workers: Option<&str>) -> (f64, Usage) {
    let config = dir.join("config/hgsql");
    std::fs::create_dir_all(&config).expect("config dir");
    std::fs::write(config.join("config.toml"), "[profiles.default]\nrate = 0\n").expect("config");
    let mut command = hgsql(dir);
    command
        .env("HG_API_KEY", sandbox.key())
        .args(["--base-url", &sandbox.base_url(), "--no-cache"])
        .args(workers.map(|w| ["--workers", w]).into_iter().flatten())
        .args(["-c", sql])
        .stdout(Stdio::null());
    let started = Instant::now();
    let mut child = command.spawn().expect("hgsql starts");
    let peak = PeakRss::watch(child.id());
    let status = child.wait().expect("hgsql ends");
    let wall = started.elapsed().as_secs_f64();
    let peak_rss_mib = peak.stop();
    assert!(status.success(), "hgsql failed ({status}) on {sql}");
    // The child is reaped: its CPU time is in this process's children's usage since the last run.
    (wall, Usage { cpu: children_cpu_since_last(), peak_rss_mib })
}

/// CPU seconds of the children reaped since the last call.
fn children_cpu_since_last() -> f64 {
    static LAST: std::sync::Mutex<f64> = std::sync::Mutex::new(0.0);
    // SAFETY: an all-zero rusage is valid, and getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let total = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    let mut last = LAST.lock().unwrap();
    let since = total - *last;
    *last = total;
    since
}

/// Polls a process's VmHWM until stopped: its peak RSS (wait4's would count the sandbox's
/// data set, which a child starts from as a copy of this process).
struct PeakRss {
    done: Arc<AtomicBool>,
    poller: std::thread::JoinHandle<f64>,
}

impl PeakRss {
    fn watch(pid: u32) -> PeakRss {
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let poller = std::thread::spawn(move || {
            let mut peak_kb = 0.0_f64;
            while !stop.load(Ordering::Relaxed) {
                peak_kb = peak_kb.max(vm_hwm_kb(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak_kb
        });
        PeakRss { done, poller }
    }

    fn stop(self) -> f64 {
        self.done.store(true, Ordering::Relaxed);
        self.poller.join().expect("poller") / 1024.0
    }
}

fn vm_hwm_kb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1));
    hwm.and_then(|kb| kb.parse().ok()).unwrap_or(0.0)
}

/// A running worker's CPU seconds (from /proc/PID/stat) and peak RSS.
fn usage_of(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Usage { cpu: (ticks(14) + ticks(15)) / per_second, peak_rss_mib: vm_hwm_kb(pid) / 1024.0 }
}

/// `HG calls per endpoint` from the sandbox's counters.
fn calls(sandbox: &Sandbox) -> Vec<(String, u64)> {
    let stats = sandbox.stats();
    stats["endpoints"]
        .as_object()
        .map(|e| e.iter().map(|(k, v)| (k.clone(), v["calls"].as_u64().unwrap_or(0))).collect())
        .unwrap_or_default()
}

/// An `hgsql worker` process, killed when dropped.
struct WorkerProcess {
    child: Child,
    url: String,
}

impl WorkerProcess {
    fn start() -> WorkerProcess {
        let dir: PathBuf = std::env::temp_dir();
        let mut child = hgsql(&dir)
            .args(["worker", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("hgsql worker starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the worker's URL");
        let url = line.trim().strip_prefix("hgsql worker listening on ").expect("the worker's URL").to_string();
        WorkerProcess { child, url }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
