//! Sending query results to a webhook (a Clay table's, or any HTTP intake) so that no row is
//! sent twice, DataFusion-free. A destination ([`destination`]) is a target and its options
//! ([`options`]) resolved with its profile's defaults; each row ([`row`]) is filed in the
//! delivery ledger ([`ledger`]: a row is marked `pending` and committed before it is sent)
//! under its key, and the ledger with the destination's rules ([`policy`]) says whether it goes
//! again. A run ([`deliver`]) sends the rows through the shared transport and counts what
//! happened ([`report`]). The SQL side is `sink/`.

pub mod deliver;
pub mod destination;
pub mod ledger;
pub mod options;
pub mod policy;
pub mod report;
pub mod row;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

pub use deliver::{Busy, Run, WebhookError};
pub use destination::{Destination, DestinationError, Named, Target};
pub use ledger::{Ledger, LedgerError, Record, State};
pub use report::{Counts, Report};
pub use row::{OutRow, RowError};

use crate::api::transport::{Gates, RateGate};

/// What the webhook destinations of a session share: the ledger, the config file's named
/// destinations, the rate gates (Clay's rate binds every Clay webhook), whether this is a dry
/// run, and the reports of the runs so far.
pub struct WebhookContext {
    ledger_path: PathBuf,
    ledger: Mutex<Option<Arc<Ledger>>>,
    /// `[webhooks.NAME]` of the config file.
    pub named: Named,
    /// Count and check rows, send none.
    pub dry_run: bool,
    gates: Gates,
    /// Gates kept from one statement to the next: a new gate would start with a full bucket
    /// the receiver's does not have.
    kept: Mutex<Vec<Arc<RateGate>>>,
    reports: Arc<Mutex<Vec<Report>>>,
    busy: Arc<watch::Sender<usize>>,
}

impl std::fmt::Debug for WebhookContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookContext")
            .field("ledger", &self.ledger_path)
            .field("named", &self.named.keys().collect::<Vec<_>>())
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl Default for WebhookContext {
    fn default() -> WebhookContext {
        WebhookContext::new(ledger::default_ledger_file(), Named::new(), false)
    }
}

impl WebhookContext {
    /// A context whose ledger is the file `ledger_path` (opened when a run first needs it).
    pub fn new(ledger_path: PathBuf, named: Named, dry_run: bool) -> WebhookContext {
        WebhookContext {
            ledger_path,
            ledger: Mutex::new(None),
            named,
            dry_run,
            gates: Gates::default(),
            kept: Mutex::default(),
            reports: Arc::default(),
            busy: Arc::new(watch::channel(0).0),
        }
    }

    /// The ledger, opened once.
    pub fn ledger(&self) -> Result<Arc<Ledger>, LedgerError> {
        let mut ledger = self.ledger.lock().expect("ledger");
        if let Some(ledger) = &*ledger {
            return Ok(ledger.clone());
        }
        let opened = Arc::new(Ledger::open(&self.ledger_path)?);
        *ledger = Some(opened.clone());
        Ok(opened)
    }

    /// Starts a run to `destination`; a `preview` sends nothing.
    pub async fn start(&self, destination: Arc<Destination>, preview: bool) -> Result<Run, WebhookError> {
        let ledger = self.ledger().map_err(WebhookError::Ledger)?;
        let transport = destination.transport(&self.gates).map_err(WebhookError::Client)?;
        {
            let mut kept = self.kept.lock().expect("kept");
            if !kept.iter().any(|g| Arc::ptr_eq(g, transport.gate())) {
                kept.push(transport.gate().clone());
            }
        }
        let busy = Busy::new(self.busy.clone());
        Run::start(destination, ledger, Arc::new(transport), preview, busy, self.reports.clone()).await
    }

    /// Keeps `report` for whoever shows it ([`WebhookContext::take_reports`]).
    pub fn keep_report(&self, report: Report) {
        self.reports.lock().expect("reports").push(report);
    }

    /// The reports of the runs since the last call.
    pub fn take_reports(&self) -> Vec<Report> {
        std::mem::take(&mut *self.reports.lock().expect("reports"))
    }

    /// Waits, at most `within`, until every run's posts in flight are answered and settled (a
    /// cancelled run's go on after it); whether they all were.
    pub async fn settled(&self, within: Duration) -> bool {
        let mut receiver = self.busy.subscribe();
        tokio::time::timeout(within, receiver.wait_for(|n| *n == 0)).await.is_ok_and(|r| r.is_ok())
    }
}
