//! Any JSON API as a SQL table (`CREATE EXTERNAL TABLE … STORED AS HTTP`), DataFusion-free
//! like the HG client beside it. Built so far: the URL template of a table's `LOCATION`
//! (`template`), its `OPTIONS`, read and checked (`options`), and rows and typed values out of
//! an answer (`extract`). The table provider, auth, paging and lookups that use them are still
//! to come.

pub mod extract;
pub mod options;
pub mod template;
