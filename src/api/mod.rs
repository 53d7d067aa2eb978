//! Talking to APIs. [`transport`] is what every HTTP caller shares (rate gate per host and
//! credential, retries, rate headers, timeouts, secrets); [`hg`] is the HG Data API on top of
//! it, and [`http`] any JSON API (so far, its URL templates). None of them knows anything of
//! DataFusion, so each can be used on its own:
//!
//! ```no_run
//! # async fn demo() -> Result<(), hgsql::api::HgError> {
//! use hgsql::api::{ApiKey, ClientConfig, Endpoint, HgClient, MatchQuery};
//! let client = HgClient::new(ClientConfig::new(hgsql::api::DEFAULT_BASE_URL, ApiKey::new("key")))?;
//! let query = MatchQuery { domain_name: Some("acme.com".into()), limit: 1, ..Default::default() };
//! let rows = client.company_match(Endpoint::MATCH, &query).await?;
//! # Ok(()) }
//! ```

pub mod files;
pub mod hg;
pub mod http;
pub mod options;
pub mod transport;
pub mod webhook;

pub use hg::cache;
pub use hg::*;
pub use transport::{ApiKey, AuthScheme, RateHeaders, RetryPolicy};

/// Lower-case hex of `bytes`: how digests name things (a ledger's destination, a cache scope)
/// without showing what they were taken of.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
