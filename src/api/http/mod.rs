//! Any JSON API as a SQL table (`CREATE EXTERNAL TABLE … STORED AS HTTP`), DataFusion-free
//! like the HG client beside it. Built so far: the URL template of a table's `LOCATION`
//! (`template`) and its `OPTIONS`, read and checked (`options`). The table provider, auth,
//! paging and lookups that use them are still to come.

pub mod options;
pub mod template;
