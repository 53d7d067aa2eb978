//! Any JSON API as a SQL table (`CREATE EXTERNAL TABLE … STORED AS HTTP`), DataFusion-free
//! like the HG client beside it: the URL template of a table's `LOCATION` (`template`) and its
//! JSON body (`body`), its `OPTIONS` read and checked (`options`) and checked together with its
//! columns (`definition`), how it authenticates (`auth`), pages (`paginate`) and fetches by key
//! through the shared transport and cache (`client`), and rows and typed values out of an
//! answer (`extract`). The SQL side is `plan/http_*.rs`.

pub mod auth;
pub mod body;
pub mod client;
pub mod definition;
pub mod extract;
pub mod options;
pub mod paginate;
pub mod template;

pub use client::{Answer, HttpClient, HttpContext, HttpError, Key, KeyFailure, Outcome};
pub use definition::{ColumnDef, DefinitionError, HttpTableDef};
