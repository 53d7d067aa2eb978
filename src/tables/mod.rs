//! One declarative `TableSpec` per HG endpoint (schema `hg`). Filled in with the SQL tables.
