//! One run of rows to one destination, by the ledger's protocol:
//!
//! 1. Each row is checked here first (a NULL key, a payload over `max_payload_bytes`, a key that
//!    came earlier in the run) and looked up in the ledger, whose entry and the destination's
//!    rules ([`Policy`](super::policy::Policy)) say whether it goes.
//! 2. Rows that go are grouped into posts of `batch_size` rows and handed to up to
//!    `max_in_flight` senders. A post waits for the rate gate (counted in records), then claims
//!    its rows in the ledger (`pending`, committed, the entry read afresh, `max_rows` checked),
//!    and only then leaves.
//! 3. Its answer settles the rows: a 2xx `sent`; a 4xx `rejected` (a post of several rows is
//!    halved until the refused row is alone); 429, 5xx and a connection that failed before
//!    sending are retried, and when retries run out the rows are `failed` (never delivered, so
//!    they go again next run); a connection that broke after the body left leaves them
//!    `unknown`, never guessed, never resent blindly. A 3xx, 401, 403, 404 or 410 is about the
//!    destination, not the row: the run stops (after a 3xx but 307 and 308 the rows are
//!    `unknown`: the receiver may have processed the post before it redirected).
//!
//! A preview (a dry run, EXPLAIN ANALYZE) does step 1 only and counts what would go. Dropping a
//! run before it finished (Ctrl-C) stops it between posts: posts in flight are answered and
//! settled, no other leaves or waits on, and the senders leave the run's report when done.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use super::destination::Destination;
use super::ledger::{Claim, Claimed, Entry, Ledger, LedgerError, Settled, State};
use super::options::OnError;
use super::policy::{Decision, Skip};
use super::report::{Counts, Report};
use super::row::{OutRow, RowError};
use crate::api::transport::{Halt, NoAnswer, Prepared, Response, SendError, Transport, Verdict};

/// Why rows could not all be delivered, or could not be sent at all.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Ledger(LedgerError),
    /// No HTTP client could be made for the destination (its header, say).
    #[error("cannot post to the webhook: {0}")]
    Client(String),
    /// The run stopped; [`Run::finish`] says why.
    #[error("the run to the webhook stopped")]
    Stopped,
    #[error(
        "{reason}. {}. Rows not sent go on the next run of the statement; a webhook table on the same target lists each row's status (SELECT * FROM t WHERE _status <> 'sent')",
        report.summary()
    )]
    Incomplete { reason: String, report: Box<Report> },
}

/// Counts the runs whose posts are not all settled yet; held by each run's senders.
pub struct Busy(Arc<watch::Sender<usize>>);

impl Busy {
    /// One more run busy on `count`, until this is dropped.
    pub fn new(count: Arc<watch::Sender<usize>>) -> Busy {
        count.send_modify(|n| *n += 1);
        Busy(count)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Why a run stopped early.
#[derive(Clone, Debug)]
enum Stop {
    /// Dropped before it finished: Ctrl-C, or the query failed elsewhere.
    Cancelled,
    /// A row was not accepted and `on_error` is `fail`.
    Failure(String),
    /// The receiver refused the destination itself (a bad token, a deleted webhook).
    Destination(String),
    /// The ledger could not be written: nothing more may be sent.
    Ledger(String),
}

/// What a run shares with its senders.
struct Shared {
    destination: Arc<Destination>,
    ledger: Arc<Ledger>,
    transport: Arc<Transport>,
    counts: Arc<Counts>,
    /// Raised when the run stops: no post claims after it, and no post waits on (for the
    /// rate, or to be sent again).
    halted: Halt,
    stop: Mutex<Option<Stop>>,
    /// Where a run cancelled before its end keeps its report, once its posts are settled.
    reports: Arc<Mutex<Vec<Report>>>,
    /// Nothing is sent: rows are counted.
    preview: bool,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.halted.is_raised()
    }

    /// Stops the run for `reason`, unless it stopped already (the first reason is kept).
    fn halt(&self, reason: Stop) {
        let mut stop = self.stop.lock().expect("stop");
        if stop.is_none() {
            *stop = Some(reason);
        }
        self.halted.raise();
    }

    fn report(&self) -> Report {
        let destination = &self.destination;
        Report::of(&destination.name, self.preview, &self.counts, destination.max_rows, destination.max_payload_bytes)
    }

    /// A row was not accepted: under `on_error 'fail'` the run goes no further. A preview goes
    /// on counting.
    fn not_accepted(&self, what: &str) {
        if self.destination.on_error == OnError::Fail && !self.preview {
            self.halt(Stop::Failure(what.to_string()));
        }
    }
}

/// One run to one destination.
pub struct Run {
    shared: Arc<Shared>,
    queue: Option<mpsc::Sender<Vec<OutRow>>>,
    worker: Option<tokio::task::JoinHandle<()>>,
    /// Keys met so far in this run (their hashes' first 16 bytes).
    seen: HashSet<u128>,
    post: Vec<OutRow>,
    post_bytes: usize,
    /// Rows that may have reached the receiver before the run, for a preview's `max_rows`.
    submitted_before: u64,
}

impl Run {
    /// Starts a run: `pending` rows of runs that are gone become `unknown`, and, unless this is
    /// a `preview`, senders wait for posts.
    pub(super) async fn start(
        destination: Arc<Destination>,
        ledger: Arc<Ledger>,
        transport: Arc<Transport>,
        preview: bool,
        busy: Busy,
        reports: Arc<Mutex<Vec<Report>>>,
    ) -> Result<Run, WebhookError> {
        let id = destination.id.clone();
        let before = blocking(ledger.clone(), move |ledger| {
            ledger.recover(&id)?;
            ledger.submitted(&id)
        })
        .await?;
        let shared = Arc::new(Shared {
            destination,
            ledger,
            transport,
            counts: Arc::new(Counts::default()),
            halted: Halt::default(),
            stop: Mutex::new(None),
            reports,
            preview,
        });
        let (queue, worker) = match preview {
            true => (None, None),
            false => {
                let in_flight = shared.destination.max_in_flight;
                let (sender, receiver) = mpsc::channel::<Vec<OutRow>>(in_flight);
                let worker = tokio::spawn(send_posts(shared.clone(), receiver, busy));
                (Some(sender), Some(worker))
            }
        };
        Ok(Run {
            shared,
            queue,
            worker,
            seen: HashSet::new(),
            post: Vec::new(),
            post_bytes: 0,
            submitted_before: before,
        })
    }

    /// The run's counters, as they go.
    pub fn counts(&self) -> Arc<Counts> {
        self.shared.counts.clone()
    }

    /// Takes the next rows of the query. An error means the run stopped (see [`Run::finish`]
    /// for why): no more rows are wanted.
    pub async fn push(&mut self, rows: Vec<Result<OutRow, RowError>>) -> Result<(), WebhookError> {
        if self.shared.stopped() {
            return Err(WebhookError::Stopped);
        }
        let destination = self.shared.destination.clone();
        let counts = self.shared.counts.clone();
        let mut fresh = Vec::with_capacity(rows.len());
        for row in rows {
            let row = match row {
                Ok(row) => row,
                Err(error) => {
                    Counts::add(&counts.null_key, 1);
                    self.shared.not_accepted(&format!("a row was refused before sending: {error}"));
                    continue;
                }
            };
            // Posted alone, a row of a batching destination is still an array: `[row]`.
            let posted = row.payload.len() + if destination.batch_size > 1 { 2 } else { 0 };
            if let Some(max) = destination.max_payload_bytes
                && posted > max
            {
                Counts::add(&counts.too_large, 1);
                self.shared.not_accepted(&format!(
                    "a row of {posted} bytes (as posted) was refused before sending: it is over max_payload_bytes {max}"
                ));
                continue;
            }
            let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(row.key.as_bytes()));
            let short = u128::from_le_bytes(digest[..16].try_into().expect("16 bytes"));
            if !self.seen.insert(short) {
                Counts::add(&counts.repeated, 1);
                continue;
            }
            fresh.push(row);
        }
        let id = destination.id.clone();
        let keys: Vec<String> = fresh.iter().map(|r| r.key.clone()).collect();
        let looked_up = blocking(self.shared.ledger.clone(), move |ledger| ledger.lookup(&id, &keys)).await;
        let entries = looked_up.inspect_err(|e| self.shared.halt(Stop::Ledger(e.to_string())))?;
        for row in fresh {
            match destination.policy.decide(entries.get(&row.key), &row.hash) {
                Decision::Skip(skip) => Counts::add(skipped(&counts, skip), 1),
                Decision::Send if self.shared.preview => self.preview_send(),
                Decision::Send => self.add_to_post(row).await?,
            }
        }
        if self.shared.stopped() {
            return Err(WebhookError::Stopped);
        }
        Ok(())
    }

    fn preview_send(&mut self) {
        let counts = &self.shared.counts;
        let would = counts.would_send.load(Ordering::Relaxed);
        match self.shared.destination.max_rows {
            Some(max) if self.submitted_before + would >= max => Counts::add(&counts.over_cap, 1),
            _ => Counts::add(&counts.would_send, 1),
        }
    }

    async fn add_to_post(&mut self, row: OutRow) -> Result<(), WebhookError> {
        let destination = self.shared.destination.clone();
        // A post is a JSON array of its rows: brackets and a comma a row besides the rows
        // themselves (`post_bytes` counts each row and its comma).
        let fits = destination.max_payload_bytes.is_none_or(|max| self.post_bytes + row.payload.len() + 2 <= max);
        if !self.post.is_empty() && !fits {
            self.flush().await?;
        }
        self.post_bytes += row.payload.len() + 1;
        self.post.push(row);
        if self.post.len() >= destination.batch_size {
            self.flush().await?;
        }
        Ok(())
    }

    /// Hands the post being filled to the senders.
    async fn flush(&mut self) -> Result<(), WebhookError> {
        if self.post.is_empty() {
            return Ok(());
        }
        let post = std::mem::take(&mut self.post);
        self.post_bytes = 0;
        let Some(queue) = &self.queue else { return Ok(()) };
        if let Err(returned) = queue.send(post).await {
            // The senders are gone before their queue closed: nothing more can be sent.
            Counts::add(&self.shared.counts.not_sent, returned.0.len());
            self.shared.halt(Stop::Failure("the senders stopped before the rows were all handed over".into()));
            return Err(WebhookError::Stopped);
        }
        Ok(())
    }

    /// Ends the run once every post is answered and settled: its report, or why it stopped
    /// ([`WebhookError::Incomplete`], with the report inside).
    pub async fn finish(mut self) -> Result<Report, WebhookError> {
        if self.shared.stopped() {
            Counts::add(&self.shared.counts.not_sent, self.post.len());
            self.post.clear();
        }
        let _ = self.flush().await;
        self.queue = None;
        // The worker stays ours while we wait: cancelled here, the run still stops (`Drop`).
        if let Some(worker) = &mut self.worker {
            let _ = worker.await;
        }
        self.worker = None;
        let destination = &self.shared.destination;
        let report = self.shared.report();
        if self.shared.preview {
            // A preview tells what would happen, refusals included, and fails nothing.
            return Ok(report);
        }
        let stop = self.shared.stop.lock().expect("stop").clone();
        let reason = match stop {
            Some(Stop::Destination(reason) | Stop::Ledger(reason)) => reason,
            Some(Stop::Failure(reason)) => reason,
            Some(Stop::Cancelled) => "the run was cancelled".to_string(),
            None if report.undelivered() > 0 && destination.on_error == OnError::Fail => {
                "not every row was accepted".to_string()
            }
            None => return Ok(report),
        };
        Err(WebhookError::Incomplete { reason, report: Box::new(report) })
    }
}

impl Drop for Run {
    /// A run dropped before [`Run::finish`] (Ctrl-C) sends nothing more; posts in flight are
    /// still answered and settled by the senders, which outlive it.
    fn drop(&mut self) {
        if self.worker.is_some() {
            self.shared.halt(Stop::Cancelled);
        }
    }
}

fn skipped(counts: &Counts, skip: Skip) -> &std::sync::atomic::AtomicU64 {
    match skip {
        Skip::AlreadySent => &counts.already_sent,
        Skip::Rejected => &counts.skipped_rejected,
        Skip::Unknown => &counts.skipped_unknown,
        Skip::Held => &counts.held,
    }
}

/// Runs `work` on the ledger off the async threads (SQLite blocks, and a claim waits for the
/// disk).
async fn blocking<T: Send + 'static>(
    ledger: Arc<Ledger>,
    work: impl FnOnce(&Ledger) -> Result<T, LedgerError> + Send + 'static,
) -> Result<T, WebhookError> {
    tokio::task::spawn_blocking(move || work(&ledger))
        .await
        .map_err(|e| WebhookError::Ledger(LedgerError { path: Default::default(), message: e.to_string() }))?
        .map_err(WebhookError::Ledger)
}

/// The senders: up to `max_in_flight` posts at once, until the queue closes. `busy` is held
/// until the last post is settled, so a process that is ending can wait for them; a run
/// cancelled before its end leaves its report then.
async fn send_posts(shared: Arc<Shared>, receiver: mpsc::Receiver<Vec<OutRow>>, busy: Busy) {
    let in_flight = shared.destination.max_in_flight.max(1);
    let posts =
        futures::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|post| (post, receiver)) },
        );
    posts
        .map(|post| {
            let shared = shared.clone();
            async move { send_post(&shared, post).await }
        })
        .buffer_unordered(in_flight)
        .for_each(|()| async {})
        .await;
    if matches!(*shared.stop.lock().expect("stop"), Some(Stop::Cancelled)) {
        shared.reports.lock().expect("reports").push(shared.report());
    }
    drop(busy);
}

/// How one post ended.
#[derive(Debug)]
enum Outcome {
    Accepted(u16),
    /// A 4xx about the rows.
    Rejected {
        status: u16,
        detail: String,
    },
    /// The body may have arrived; no answer did.
    Unknown(String),
    /// Never delivered: 429/5xx/no connection until retries ran out, or the run stopped.
    Failed {
        status: Option<u16>,
        message: String,
    },
    /// A 3xx, 401, 403, 404 or 410: the destination itself is refused. Only a 307 or 308
    /// says the post was not processed; after another 3xx the rows may have been taken.
    Refused {
        status: u16,
        detail: String,
    },
    /// Nothing of the post was claimed (another run took it, or the cap was reached).
    NothingClaimed,
    Ledger(String),
}

/// Claims `post`'s rows and sends them; settles what came of it.
async fn send_post(shared: &Arc<Shared>, post: Vec<OutRow>) {
    if shared.stopped() {
        Counts::add(&shared.counts.not_sent, post.len());
        return;
    }
    let tokens = post.len() as u32;
    let claimed: Arc<Mutex<Vec<OutRow>>> = Arc::default();
    let prepare = {
        let (shared, claimed) = (shared.clone(), claimed.clone());
        async move { claim(&shared, post, &claimed).await }
    };
    let outcome = deliver(shared, claimed.clone(), tokens, Some(prepare)).await;
    let rows = std::mem::take(&mut *claimed.lock().expect("claimed"));
    settle(shared, rows, outcome).await;
}

/// Claims what of `post` is still to send, and keeps it in `claimed`.
async fn claim(shared: &Arc<Shared>, post: Vec<OutRow>, claimed: &Mutex<Vec<OutRow>>) -> Result<(), Outcome> {
    // The run may have stopped while the post waited for the rate gate.
    if shared.stopped() {
        Counts::add(&shared.counts.not_sent, post.len());
        return Err(Outcome::NothingClaimed);
    }
    let destination = shared.destination.clone();
    let claims: Vec<Claim> =
        post.iter().map(|r| Claim { key: r.key.clone(), hash: r.hash.clone(), payload: r.payload.clone() }).collect();
    let id = destination.id.clone();
    let policy = destination.policy;
    let max_rows = destination.max_rows;
    let still = move |entry: &Entry, hash: &str| policy.decide(Some(entry), hash) == Decision::Send;
    let outcomes = blocking(shared.ledger.clone(), move |ledger| ledger.claim(&id, &claims, &still, max_rows))
        .await
        .map_err(|e| Outcome::Ledger(e.to_string()))?;
    let counts = &shared.counts;
    let mut kept = Vec::with_capacity(post.len());
    for (row, outcome) in post.into_iter().zip(outcomes) {
        match outcome {
            Claimed::Yes => kept.push(row),
            Claimed::Held => Counts::add(&counts.held, 1),
            // Another run settled it meanwhile: counted as what its entry now says.
            Claimed::Settled(entry) => match policy.decide(Some(&entry), &row.hash) {
                Decision::Skip(skip) => Counts::add(skipped(counts, skip), 1),
                Decision::Send => Counts::add(&counts.already_sent, 1),
            },
            Claimed::OverCap => {
                Counts::add(&counts.over_cap, 1);
                let max = max_rows.unwrap_or_default();
                shared.not_accepted(&format!(
                    "the destination has taken its max_rows of {max} rows (counted across runs); a row more would pass it"
                ));
            }
        }
    }
    if kept.is_empty() {
        return Err(Outcome::NothingClaimed);
    }
    *claimed.lock().expect("claimed") = kept;
    Ok(())
}

/// Sends the rows in `claimed` (after `prepare` claimed them, when given) until an answer
/// settles them.
/// `tokens`: the records the post holds at most, what the rate gate counts.
async fn deliver(
    shared: &Arc<Shared>,
    claimed: Arc<Mutex<Vec<OutRow>>>,
    tokens: u32,
    prepare: Option<impl Future<Output = Result<(), Outcome>>>,
) -> Outcome {
    let body = Arc::new(Mutex::new(bytes::Bytes::new()));
    let fill = {
        let (claimed, body) = (claimed.clone(), body.clone());
        async move {
            if let Some(prepare) = prepare {
                prepare.await?;
            }
            *body.lock().expect("body") = post_body(&claimed.lock().expect("claimed"), shared.destination.batch_size);
            Ok(())
        }
    };
    let destination = &shared.destination;
    let prepared = Prepared { tokens, prepare: fill, halt: Some(&shared.halted) };
    let result = shared
        .transport
        .send_prepared(
            prepared,
            |http| destination.post(http, body.lock().expect("body").clone()),
            shared.counts.as_ref(),
            |answer| verdict(answer, shared.stopped()),
        )
        .await;
    match result {
        Ok(status) => Outcome::Accepted(status),
        Err(SendError::Failed(outcome)) => outcome,
        Err(SendError::Exhausted { attempts, last, .. }) => match last {
            Outcome::Failed { status, message } => {
                Outcome::Failed { status, message: format!("{message} ({attempts} attempts)") }
            }
            other => other,
        },
    }
}

/// The body of a post: one row's object, or, for a destination that batches, an array.
fn post_body(rows: &[OutRow], batch_size: usize) -> bytes::Bytes {
    if batch_size == 1 && rows.len() == 1 {
        return bytes::Bytes::from(rows[0].payload.clone());
    }
    let mut body = String::with_capacity(rows.iter().map(|r| r.payload.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&row.payload);
    }
    body.push(']');
    bytes::Bytes::from(body)
}

/// What an answer means for the rows of a post. Once the run stopped, nothing more is tried.
fn verdict(answer: Result<Response, NoAnswer>, stopped: bool) -> Verdict<u16, Outcome> {
    let retry = |outcome: Outcome| if stopped { Verdict::Fail(outcome) } else { Verdict::Retry(outcome) };
    match answer {
        Ok(response) if (200..300).contains(&response.status) => Verdict::Done(response.status),
        Ok(response) => {
            let status = response.status;
            let detail = excerpt(&response.body);
            match status {
                408 | 429 | 500..=599 => {
                    retry(Outcome::Failed { status: Some(status), message: format!("HTTP {status}{detail}") })
                }
                300..=399 | 401 | 403 | 404 | 410 => Verdict::Fail(Outcome::Refused { status, detail }),
                _ => Verdict::Fail(Outcome::Rejected { status, detail }),
            }
        }
        // The status line said the rows were taken; only the rest of the answer was lost.
        Err(NoAnswer { status: Some(status), .. }) if (200..300).contains(&status) => Verdict::Done(status),
        Err(no) if !no.may_have_arrived => retry(Outcome::Failed { status: None, message: no.message }),
        Err(no) => Verdict::Fail(Outcome::Unknown(no.message)),
    }
}

/// The start of an answer's body, on one line, for the ledger and messages: `: <text>`.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return String::new();
    }
    let cut: String = text.chars().take(300).collect();
    format!(": {cut}{}", if cut.len() < text.len() { "…" } else { "" })
}

/// Records what came of a post in the ledger and the counters; a rejected post of several rows
/// is halved and each half sent again (they are claimed already), until the refused rows are
/// alone.
async fn settle(shared: &Arc<Shared>, rows: Vec<OutRow>, outcome: Outcome) {
    if rows.is_empty() {
        if let Outcome::Ledger(message) = outcome {
            shared.halt(Stop::Ledger(message));
        }
        return;
    }
    let counts = &shared.counts;
    let name = &shared.destination.name;
    let (state, http_status, error) = match outcome {
        Outcome::Accepted(status) => {
            Counts::add(&counts.sent, rows.len());
            (State::Sent, Some(status), None)
        }
        Outcome::Rejected { status, .. } if rows.len() > 1 => {
            let mut rows = rows;
            let second = rows.split_off(rows.len() / 2);
            tracing::debug!(status, rows = rows.len() + second.len(), "a post was rejected; sending its halves");
            for half in [rows, second] {
                if shared.stopped() {
                    // Claimed, not sent again: never delivered as far as anyone knows.
                    let stopped = Outcome::Failed { status: None, message: "the run stopped first".into() };
                    Box::pin(settle(shared, half, stopped)).await;
                    continue;
                }
                let tokens = half.len() as u32;
                let claimed = Arc::new(Mutex::new(half));
                let no_claim = None::<std::future::Ready<Result<(), Outcome>>>;
                let outcome = Box::pin(deliver(shared, claimed.clone(), tokens, no_claim)).await;
                let half = std::mem::take(&mut *claimed.lock().expect("claimed"));
                Box::pin(settle(shared, half, outcome)).await;
            }
            return;
        }
        Outcome::Rejected { status, detail } => {
            Counts::add(&counts.rejected, rows.len());
            shared.not_accepted(&format!("{name} rejected a row (HTTP {status}{detail})"));
            (State::Rejected, Some(status), Some(format!("HTTP {status}{detail}")))
        }
        Outcome::Unknown(message) => {
            Counts::add(&counts.unknown, rows.len());
            let error = format!("the outcome is unknown: {message}; the body may have arrived");
            shared.not_accepted(&format!("{name}: {error}"));
            (State::Unknown, None, Some(error))
        }
        Outcome::Failed { status, message } => {
            Counts::add(&counts.failed, rows.len());
            let error = format!("not delivered: {message}");
            if !shared.stopped() {
                shared.not_accepted(&format!("{name}: {error}"));
            }
            (State::Failed, status, Some(error))
        }
        Outcome::Refused { status, detail } => {
            shared.halt(Stop::Destination(refusal(name, status, &detail)));
            let error = format!("the destination refused the post (HTTP {status}{detail})");
            if (300..400).contains(&status) && !matches!(status, 307 | 308) {
                // A 303 after a POST, say, may follow rows the receiver kept.
                Counts::add(&counts.unknown, rows.len());
                (State::Unknown, Some(status), Some(format!("{error}; the rows may have been taken")))
            } else {
                Counts::add(&counts.failed, rows.len());
                (State::Failed, Some(status), Some(error))
            }
        }
        Outcome::NothingClaimed => return,
        Outcome::Ledger(message) => {
            shared.halt(Stop::Ledger(message));
            return;
        }
    };
    let settled: Vec<Settled> =
        rows.iter().map(|r| Settled { key: r.key.clone(), state, http_status, error: error.clone() }).collect();
    let id = shared.destination.id.clone();
    if let Err(error) = blocking(shared.ledger.clone(), move |ledger| ledger.settle(&id, &settled)).await {
        // The rows stay `pending`: the next run takes them as unknown, which is true.
        shared.halt(Stop::Ledger(error.to_string()));
    }
}

/// What to tell of a destination that refuses posts, and what to do.
fn refusal(name: &str, status: u16, detail: &str) -> String {
    let advice = match status {
        401 => "it refused the token: check 'token' (or token in [webhooks.NAME]) and 'auth_header'",
        403 => {
            "it refused the post: the webhook may have taken all the rows it accepts (Clay: 50,000), or the token lacks the right"
        }
        404 | 410 => "it has no such webhook: it may have been deleted or replaced; copy its URL again",
        _ => {
            "it answered with a redirect, which hgsql does not follow (the token would go along): use the URL it points to"
        }
    };
    format!("{name} refused the destination (HTTP {status}{detail}): {advice}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Response, NoAnswer> {
        Ok(Response { status, headers: Default::default(), body: bytes::Bytes::from(body.to_string()) })
    }

    #[test]
    fn answers_sort_into_accepted_retried_rejected_refused_and_unknown() {
        assert!(matches!(verdict(answer(202, "whatever"), false), Verdict::Done(202)));
        assert!(matches!(verdict(answer(503, ""), false), Verdict::Retry(Outcome::Failed { status: Some(503), .. })));
        assert!(matches!(verdict(answer(429, ""), true), Verdict::Fail(Outcome::Failed { .. })), "stopped: no retry");
        assert!(matches!(
            verdict(answer(422, "{\"error\": \"bad\"}"), false),
            Verdict::Fail(Outcome::Rejected { status: 422, ref detail }) if detail.contains("bad")
        ));
        assert!(matches!(verdict(answer(404, ""), false), Verdict::Fail(Outcome::Refused { status: 404, .. })));
        assert!(matches!(verdict(answer(307, ""), false), Verdict::Fail(Outcome::Refused { status: 307, .. })));
        let before = NoAnswer { message: "connection failed".into(), may_have_arrived: false, status: None };
        assert!(matches!(verdict(Err(before), false), Verdict::Retry(Outcome::Failed { status: None, .. })));
        let after = NoAnswer { message: "connection reset".into(), may_have_arrived: true, status: None };
        assert!(matches!(verdict(Err(after), false), Verdict::Fail(Outcome::Unknown(_))));
        let cut = NoAnswer { message: "body cut".into(), may_have_arrived: true, status: Some(200) };
        assert!(matches!(verdict(Err(cut), false), Verdict::Done(200)), "a 2xx status line is enough");
    }

    #[test]
    fn a_post_is_the_row_or_an_array_of_rows() {
        let row = |p: &str| OutRow { key: p.into(), payload: p.into(), hash: p.into() };
        assert_eq!(post_body(&[row("{\"a\":1}")], 1), "{\"a\":1}");
        assert_eq!(post_body(&[row("{\"a\":1}")], 10), "[{\"a\":1}]");
        assert_eq!(post_body(&[row("{\"a\":1}"), row("{\"a\":2}")], 10), "[{\"a\":1},{\"a\":2}]");
        assert_eq!(excerpt(b"  line one\n line two "), ": line one line two");
        assert!(excerpt("x".repeat(500).as_bytes()).ends_with('…'));
    }
}
