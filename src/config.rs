//! Settings from flags, environment (`HG_API_KEY`, `HG_BASE_URL`) and the config file.
//! Filled in with the HG client.
