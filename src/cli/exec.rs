//! Running statements for the command line: each statement's result goes to stdout in the
//! chosen format or to the `-o` file, with a progress line while HG calls run, an optional
//! timing line after, and Ctrl-C cancelling the statement (its output file is removed).

use std::io::{BufWriter, IsTerminal, Write};
use std::time::{Duration, Instant};

use datafusion::error::DataFusionError;

use super::errors;
use super::format::{self, Format, Table};
use super::output::OutputFile;
use super::progress::{Progress, StatementCalls};
use crate::session::Session;

/// How results are shown.
#[derive(Clone, Debug)]
pub struct PrintOptions {
    pub format: Format,
    /// Rows the table format shows at most (`None`: all).
    pub max_rows: Option<usize>,
    /// After each statement, a line on stderr: rows, elapsed time, HG calls, cache hits, credits.
    pub timing: bool,
    /// Draw the progress line (stderr is a terminal).
    pub progress: bool,
}

impl PrintOptions {
    /// Progress only on a terminal, and not over rows streaming to the same terminal.
    pub fn terminal_progress(format: Format) -> bool {
        std::io::stderr().is_terminal() && (format == Format::Table || !std::io::stdout().is_terminal())
    }
}

/// Where a statement's rows go.
pub enum Destination<'a> {
    Stdout,
    File(&'a OutputFile),
    /// Nowhere (a dry run): the statement runs for its lookups only.
    Discard,
}

/// How long a cancelled statement waits for its webhook posts in flight to be answered.
const WEBHOOK_DRAIN: Duration = Duration::from_secs(60);

/// Why a statement did not complete.
pub enum Failure {
    Error(DataFusionError),
    /// Ctrl-C (or SIGTERM, SIGHUP): the statement was cancelled.
    Interrupted(Signal),
    /// Whoever read stdout went away (`| head`): stop quietly.
    ClosedOutput,
}

impl Failure {
    /// The exit code of a run that stops here.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Error(e) => errors::exit_code(e),
            Failure::Interrupted(signal) => signal.exit_code(),
            Failure::ClosedOutput => super::exit::OK,
        }
    }

    /// What to tell the user, if anything, for `statement` of its script.
    pub fn message(&self, statement: &crate::script::ScriptStatement) -> Option<String> {
        match self {
            Failure::Error(e) => Some(errors::for_statement(e, statement)),
            Failure::Interrupted(Signal::Interrupt) => Some("cancelled (Ctrl-C)".to_string()),
            Failure::Interrupted(signal) => Some(format!("cancelled ({signal:?} signal)")),
            Failure::ClosedOutput => None,
        }
    }
}

/// A statement's rows, gathered for a table or already written.
enum Gathered {
    Table(Table),
    Written(usize),
}

/// What a completed statement did.
pub struct Done {
    pub rows: usize,
    pub elapsed: Duration,
    pub calls: Option<StatementCalls>,
    /// HTTP tables' requests and cache hits during the statement.
    pub http: Option<(u64, u64)>,
}

/// Ctrl-C (SIGINT), and SIGTERM and SIGHUP, listened to from the start of the process: arriving
/// while a statement runs, one cancels that statement (its output file is removed) and the
/// script stops.
pub struct Interrupts {
    signals: Vec<(Signal, tokio::signal::unix::Signal)>,
}

/// A signal that stops hgsql.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    HangUp,
}

impl Signal {
    /// The exit code of a run it stops: 128 + the signal's number, as shells report.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => super::exit::INTERRUPTED,
            Signal::Terminate => 143,
            Signal::HangUp => 129,
        }
    }
}

impl Interrupts {
    /// Takes over SIGINT, SIGTERM and SIGHUP from here on (by default they kill the process
    /// mid-write).
    pub fn listen() -> Interrupts {
        use tokio::signal::unix::{SignalKind, signal};
        let mut signals = Vec::new();
        for (name, kind) in [
            (Signal::Interrupt, SignalKind::interrupt()),
            (Signal::Terminate, SignalKind::terminate()),
            (Signal::HangUp, SignalKind::hangup()),
        ] {
            match signal(kind) {
                Ok(stream) => signals.push((name, stream)),
                Err(e) => {
                    tracing::warn!(error = %e, "{name:?} cannot be caught: it will stop hgsql without cleaning up")
                }
            }
        }
        Interrupts { signals }
    }

    /// Forgets a signal that came while nothing ran (the REPL, before it reads the next line).
    pub fn forget_pending(&mut self) {
        for (_, stream) in &mut self.signals {
            while futures::FutureExt::now_or_never(stream.recv()).is_some() {}
        }
    }

    /// Completes at the next signal (never, if none can be caught).
    async fn next(&mut self) -> Signal {
        if self.signals.is_empty() {
            return std::future::pending().await;
        }
        let waits = self.signals.iter_mut().map(|(name, stream)| {
            let name = *name;
            Box::pin(async move {
                stream.recv().await;
                name
            })
        });
        futures::future::select_all(waits).await.0
    }
}

/// Stdout, noticing when its reader went away: arrow's CSV writer reports that only as text.
struct Stdout<'a> {
    out: BufWriter<std::io::StdoutLock<'a>>,
    closed: &'a std::sync::atomic::AtomicBool,
}

impl Write for Stdout<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf).inspect_err(|e| self.note(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush().inspect_err(|e| self.note(e))
    }
}

impl Stdout<'_> {
    fn note(&self, error: &std::io::Error) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            self.closed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Runs one statement to its destination. Ctrl-C cancels it: every stream is dropped, no more
/// HG requests are sent, and an unfinished output file is removed.
pub async fn run_statement(
    session: &Session,
    sql: &str,
    destination: Destination<'_>,
    options: &PrintOptions,
    interrupts: &mut Interrupts,
) -> Result<Done, Failure> {
    let client = session.client();
    let reports_credits = options.progress || options.timing;
    if let Some(client) = client.filter(|_| reports_credits) {
        client.watch_balance().await;
    }
    let before = client.map(|c| c.metrics());
    let http_before = session.http_context().totals();
    let progress = options.progress.then(|| Progress::start(client, session.http_context().clone()));
    let started = Instant::now();
    let closed = std::sync::atomic::AtomicBool::new(false);
    // A table is gathered first and written once the progress line is gone; other formats
    // stream (progress is then only drawn when stdout is not the terminal).
    let work = async {
        let execution = session.execute(sql).await?;
        match destination {
            Destination::Stdout if options.format == Format::Table => {
                Table::collect(execution.schema, execution.stream, options.max_rows).await.map(Gathered::Table)
            }
            Destination::Stdout => {
                let mut out = Stdout { out: BufWriter::new(std::io::stdout().lock()), closed: &closed };
                format::print(options.format, execution.schema, execution.stream, &mut out, options.max_rows)
                    .await
                    .map(Gathered::Written)
            }
            Destination::File(file) => file.write(execution.schema, execution.stream).await.map(Gathered::Written),
            Destination::Discard => {
                let mut stream = execution.stream;
                let mut rows = 0;
                while let Some(batch) = futures::StreamExt::next(&mut stream).await {
                    rows += batch?.num_rows();
                }
                Ok(Gathered::Written(rows))
            }
        }
    };
    let result = tokio::select! {
        result = work => Ok(result),
        signal = interrupts.next() => Err(signal),
    };
    if let Some(progress) = progress {
        progress.finish().await;
    }
    if result.is_err() {
        // A webhook run stops between posts: the posts in flight are answered and recorded in
        // the ledger before the process may end.
        if !session.webhooks().settled(WEBHOOK_DRAIN).await {
            eprintln!(
                "warning: webhook posts still unanswered after {WEBHOOK_DRAIN:?}; their rows stay pending in the ledger, and the next run lists them as unknown"
            );
        }
    }
    // One line per webhook run, even in scripts: what was sent is worth a log line.
    for report in session.webhooks().take_reports() {
        eprintln!("{}", report.summary());
    }
    let elapsed = started.elapsed();
    let mut calls = None;
    if let Some((client, before)) = client.zip(before) {
        // The statement's calls; then, where HG's balance was watched (v2 without the header),
        // what it says the statement cost (the reads are calls of their own, not counted).
        let mut statement = StatementCalls::between(&before, &client.metrics());
        if reports_credits && let Some(cost) = client.watched_cost().await {
            statement.credits = Some(cost);
        }
        calls = Some(StatementCalls { version: Some(client.config().version), ..statement });
    }
    let result = result.map(|gathered| match gathered {
        Ok(Gathered::Table(table)) => table
            .write(&mut Stdout { out: BufWriter::new(std::io::stdout().lock()), closed: &closed })
            .map(|()| table.rows),
        Ok(Gathered::Written(rows)) => Ok(rows),
        Err(e) => Err(e),
    });
    match result {
        Err(signal) => Err(Failure::Interrupted(signal)),
        Ok(Err(_)) if closed.load(std::sync::atomic::Ordering::Relaxed) => Err(Failure::ClosedOutput),
        Ok(Err(e)) if closed_pipe(&e) => Err(Failure::ClosedOutput),
        Ok(Err(e)) => Err(Failure::Error(e)),
        Ok(Ok(rows)) => {
            let http_now = session.http_context().totals();
            let http = (http_now.calls - http_before.calls, http_now.cache_hits - http_before.cache_hits);
            let done = Done { rows, elapsed, calls, http: (http != (0, 0)).then_some(http) };
            if options.timing {
                eprintln!("{}", timing_line(&done));
            }
            Ok(done)
        }
    }
}

/// What a dry run found: the charged requests it did not make and what they could cost.
pub fn dry_run_report(session: &Session) -> String {
    let (requests, keys) = session.http_context().planned();
    let http = session.http_context().totals();
    let http = if requests + http.cache_hits > 0 {
        format!(
            "\ndry run: HTTP tables: {requests} requests not made (for {keys} keys); {} keys answered from the cache",
            http.cache_hits
        )
    } else {
        String::new()
    };
    let Some(client) = session.client() else { return format!("dry run: no HG API is configured{http}") };
    let metrics = client.metrics();
    let total = metrics.total();
    let hg = metrics.dry_run_hg_estimate.map_or(String::new(), |n| format!(" (HG's own estimate: at most {n})"));
    format!(
        "dry run: {} charged requests not made, up to {} credits{hg}; {} lookups answered from the cache; {} free requests made. \
         Charged lookups were answered with the company id alone, so a filter on their values may hide later lookups.",
        metrics.dry_run_requests, metrics.dry_run_credits, total.cache_hits, total.calls
    ) + &http
}

/// `204 rows in 12.90 s · 341 HG calls · 0 cache hits · 160 credits`.
pub fn timing_line(done: &Done) -> String {
    let mut line =
        format!("{} row{} in {:.3} s", done.rows, if done.rows == 1 { "" } else { "s" }, done.elapsed.as_secs_f64());
    if let Some(calls) = &done.calls {
        line.push_str(" · ");
        line.push_str(&calls.summary());
    }
    if let Some((requests, hits)) = done.http {
        line.push_str(&format!(" · {requests} HTTP-table requests, {hits} from the cache"));
    }
    line
}

fn closed_pipe(error: &DataFusionError) -> bool {
    let mut current: &(dyn std::error::Error + 'static) = error;
    loop {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        if let Some(arrow) = current.downcast_ref::<datafusion::arrow::error::ArrowError>()
            && let datafusion::arrow::error::ArrowError::IoError(_, io) = arrow
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        match current.source() {
            Some(source) => current = source,
            None => return false,
        }
    }
}

/// Flushes stdout, ignoring a reader that went away.
pub fn flush_stdout() {
    let _ = std::io::stdout().flush();
}
