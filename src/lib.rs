//! hgsql: query the HG Insights company-data API with SQL.
//!
//! HG endpoints become Apache DataFusion tables in schema `hg`; predicates push down onto API
//! parameters; the keys of a local table become batched, rate-limited, cached API lookups. See
//! `docs/architecture.md` for the architecture. Data flows one way:
//! `cli` → [`session`] → `tables` → `plan` → `api` → HG (or [`sandbox`]); [`session`] →
//! [`distributed`] → `plan` when a query runs across workers.

pub mod api;
pub mod atomic;
pub mod cli;
pub mod config;
pub mod distributed;
pub mod plan;
pub mod sandbox;
pub mod script;
pub mod session;
pub mod sink;
pub mod tables;

pub use session::{Session, SessionError};
