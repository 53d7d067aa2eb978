//! The one error type of the client. Every message names the endpoint, the HTTP status and the
//! API's own `detail`, says what to do, and never contains the key.

use std::time::Duration;

/// Something the HG API or the way to it did wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HgError {
    #[error(
        "HG {endpoint}: the API key was refused (HTTP {status}: {detail}); check HG_API_KEY or the profile in use (`hgsql doctor` shows where the key came from)"
    )]
    Authentication { endpoint: &'static str, status: u16, detail: String },

    #[error(
        "HG {endpoint}: your HG plan does not include the '{field_group}' data{} (HTTP 401: {detail}); ask your HG account manager for it, or leave this table out of the query",
        table.map(|t| format!(", which hg.{t} reads")).unwrap_or_default()
    )]
    NotEntitled { endpoint: &'static str, field_group: String, detail: String, table: Option<&'static str> },

    #[error(
        "HG {endpoint}: credits exhausted (HTTP {status}: {detail}); nothing more can be fetched until the balance is topped up"
    )]
    CreditsExhausted { endpoint: &'static str, status: u16, detail: String },

    #[error("HG {endpoint}: the API refused the request (HTTP 422 at {pointer}): {detail}")]
    InvalidRequest { endpoint: &'static str, pointer: String, detail: String },

    #[error("HG {endpoint}: HTTP {status}: {detail}")]
    Http { endpoint: &'static str, status: u16, detail: String },

    #[error("HG {endpoint}: no answer from {base_url}: {message}; check the network and HG_BASE_URL")]
    Transport { endpoint: &'static str, base_url: String, message: String },

    #[error("HG {endpoint}: the response could not be read: {message}")]
    Decode { endpoint: &'static str, message: String },

    #[error("HG {endpoint}: gave up after {attempts} attempt{} in {elapsed:.1?}; last error: {last}", if *attempts == 1 { "" } else { "s" })]
    RetriesExhausted { endpoint: &'static str, attempts: u32, elapsed: Duration, last: Box<HgError> },

    #[error(
        "HG {endpoint}: stopped before passing the credit budget of {max}: {spent} credits spent in this run, the next request could cost {next}, and the query needs about {needed} more for companies not in the cache. Raise the budget (--max-credits N, or SET hg.max_credits = N) or narrow the query; everything fetched so far is cached, so a rerun pays only for the rest"
    )]
    CreditBudget { endpoint: &'static str, max: u64, spent: u64, next: u64, needed: u64 },

    #[error("{0}")]
    Config(String),

    /// Another query that was fetching the same key was cancelled; whoever waited fetches it.
    #[error("HG {endpoint}: the lookup this query was waiting for was cancelled")]
    Cancelled { endpoint: &'static str },
}

impl HgError {
    /// Whether the error is about one lookup (it may be kept as that row's status under
    /// `hg.on_error = 'null'`), not about the whole run: a refused key, a missing entitlement,
    /// exhausted credits or the budget stop every query.
    pub fn is_per_lookup(&self) -> bool {
        !matches!(
            self,
            HgError::Authentication { .. }
                | HgError::NotEntitled { .. }
                | HgError::CreditsExhausted { .. }
                | HgError::CreditBudget { .. }
                | HgError::Config(_)
        ) && !matches!(self, HgError::RetriesExhausted { last, .. } if !last.is_per_lookup())
    }

    /// The error as `hg.{table}` reports it: an entitlement names the table that needs it.
    pub fn for_table(self, table: &'static str) -> HgError {
        match self {
            HgError::NotEntitled { endpoint, field_group, detail, .. } => {
                HgError::NotEntitled { endpoint, field_group, detail, table: Some(table) }
            }
            other => other,
        }
    }

    /// The HTTP status the API answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HgError::Authentication { status, .. }
            | HgError::CreditsExhausted { status, .. }
            | HgError::Http { status, .. } => Some(*status),
            HgError::NotEntitled { .. } => Some(401),
            HgError::InvalidRequest { .. } => Some(422),
            HgError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }
}
