//! The `hg.*` settings of a session, set in SQL (`SET hg.cache_ttl = '1 day'`) or by the command
//! line (`--max-credits`), and read by every HG scan when it is planned.

use std::fmt;
use std::time::Duration;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ConfigField, ExtensionOptions, Visit};
use datafusion::config::OptimizerOptions;
use datafusion::error::{DataFusionError, Result};

use crate::api::LookupOptions;

/// How old a cached answer may be, as `SET hg.cache_ttl` takes it: seconds, or a number with a
/// unit (`30m`, `12 hours`, `7 days`, `2w`); `0` fetches everything again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheTtl(pub Duration);

impl Default for CacheTtl {
    fn default() -> Self {
        CacheTtl(LookupOptions::default().max_age)
    }
}

impl fmt::Display for CacheTtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        match seconds {
            s if s > 0 && s % 86_400 == 0 => write!(f, "{} days", s / 86_400),
            s if s > 0 && s % 3600 == 0 => write!(f, "{} hours", s / 3600),
            s => write!(f, "{s} seconds"),
        }
    }
}

impl CacheTtl {
    pub fn parse(text: &str) -> Result<CacheTtl, String> {
        let text = text.trim().trim_matches('\'').trim().to_lowercase();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let bad = || {
            format!(
                "hg.cache_ttl = '{text}': give seconds or a number with a unit, e.g. '7 days', '12h', '30m' (0 = always fetch)"
            )
        };
        let number: u64 = number.parse().map_err(|_| bad())?;
        let seconds = match unit.trim() {
            "" | "s" | "sec" | "second" | "seconds" => 1,
            "m" | "min" | "minute" | "minutes" => 60,
            "h" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return Err(bad()),
        };
        Ok(CacheTtl(Duration::from_secs(number.saturating_mul(seconds))))
    }
}

impl ConfigField for CacheTtl {
    fn visit<V: Visit>(&self, v: &mut V, key: &str, description: &'static str) {
        v.some(key, self, description)
    }

    fn set(&mut self, _key: &str, value: &str) -> Result<()> {
        *self = CacheTtl::parse(value).map_err(DataFusionError::Configuration)?;
        Ok(())
    }
}

/// What a failed lookup does, as `SET hg.on_error` takes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// The query fails with the API's error (after retries).
    #[default]
    Fail,
    /// The lookup gives one row: its key, NULL data, `_hg_status = 'error'` and `_hg_error`.
    Null,
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnError::Fail => "fail",
            OnError::Null => "null",
        })
    }
}

impl ConfigField for OnError {
    fn visit<V: Visit>(&self, v: &mut V, key: &str, description: &'static str) {
        v.some(key, self, description)
    }

    fn set(&mut self, _key: &str, value: &str) -> Result<()> {
        *self = match value.trim().trim_matches('\'').to_lowercase().as_str() {
            "fail" => OnError::Fail,
            "null" => OnError::Null,
            other => {
                return Err(DataFusionError::Configuration(format!(
                    "hg.on_error = '{other}': use 'fail' (the query stops at a failed lookup) or 'null' (the row is kept with _hg_status = 'error')"
                )));
            }
        };
        Ok(())
    }
}

/// hgsql's settings, under the `hg.` prefix (`SET hg.cache_ttl = '1 day'`, `SHOW ALL`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HgOptions {
    /// Cached HG answers older than this are fetched again.
    pub cache_ttl: CacheTtl,
    /// Credits the session may spend at most.
    pub max_credits: Option<u64>,
    /// What a lookup that failed after retries does.
    pub on_error: OnError,
}

impl ConfigField for HgOptions {
    fn visit<V: Visit>(&self, v: &mut V, key_prefix: &str, _description: &'static str) {
        let key = |name: &str| if key_prefix.is_empty() { name.to_string() } else { format!("{key_prefix}.{name}") };
        self.cache_ttl.visit(
            v,
            &key("cache_ttl"),
            "Cached HG answers older than this are fetched again ('7 days' by default; '0' fetches everything).",
        );
        self.max_credits.visit(
            v,
            &key("max_credits"),
            "Credits the session may spend at most; a request that could pass it is not sent (NULL: no budget).",
        );
        self.on_error.visit(
            v,
            &key("on_error"),
            "'fail' (default) or 'null': what a lookup that failed after retries does.",
        );
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let (key, rest) = key.split_once('.').unwrap_or((key, ""));
        match key {
            "cache_ttl" => self.cache_ttl.set(rest, value),
            "max_credits" => self.max_credits.set(rest, value),
            "on_error" => self.on_error.set(rest, value),
            other => Err(DataFusionError::Configuration(format!(
                "hg.{other} is not a setting; the hg settings are hg.cache_ttl, hg.max_credits and hg.on_error"
            ))),
        }
    }
}

/// By hand rather than with DataFusion's `extensions_options!`, whose entries drop the prefix:
/// `SHOW ALL` and `information_schema.df_settings` list these as `hg.cache_ttl`, the name `SET`
/// takes.
impl ExtensionOptions for HgOptions {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        ConfigField::set(self, key, value)
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        struct Entries(Vec<ConfigEntry>);
        impl Visit for Entries {
            fn some<V: fmt::Display>(&mut self, key: &str, value: V, description: &'static str) {
                self.0.push(ConfigEntry { key: key.to_string(), value: Some(value.to_string()), description });
            }

            fn none(&mut self, key: &str, description: &'static str) {
                self.0.push(ConfigEntry { key: key.to_string(), value: None, description });
            }
        }
        let mut entries = Entries(Vec::new());
        self.visit(&mut entries, Self::PREFIX, "");
        entries.0
    }
}

impl ConfigExtension for HgOptions {
    const PREFIX: &'static str = "hg";
}

impl HgOptions {
    /// The client settings a scan planned now uses.
    pub fn lookup(&self) -> LookupOptions {
        LookupOptions { max_age: self.cache_ttl.0, max_credits: self.max_credits }
    }
}

/// Settings of HG scans.
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// How long a scan waits for its join's keys while nothing happens: no HG request finishes
    /// anywhere in the session. A join whose build side is itself an HG lookup keeps the clock
    /// reset; a filter nobody will ever fill (a plan DataFusion rewrote) fails instead of hanging.
    pub join_wait_idle: Duration,
    /// What a lookup that failed (after retries) does: fail the query, or give a row with NULL
    /// data and `_hg_status = 'error'` (`SET hg.on_error`).
    pub on_error: OnError,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { join_wait_idle: Duration::from_secs(300), on_error: OnError::Fail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_takes_seconds_or_a_unit_and_refuses_the_rest_with_examples() {
        assert_eq!(CacheTtl::parse("90").unwrap().0, Duration::from_secs(90));
        assert_eq!(CacheTtl::parse("'12h'").unwrap().0, Duration::from_secs(12 * 3600));
        assert_eq!(CacheTtl::parse("7 days").unwrap().0, Duration::from_secs(7 * 86_400));
        assert_eq!(CacheTtl::parse("0").unwrap().0, Duration::ZERO);
        assert!(CacheTtl::parse("soon").unwrap_err().contains("'7 days'"));
        assert!(CacheTtl::parse("3 fortnights").is_err());
        assert_eq!(CacheTtl::default().to_string(), "7 days");
    }

    #[test]
    fn settings_are_listed_and_set_under_their_prefix() {
        let mut options = HgOptions::default();
        let keys: Vec<String> = options.entries().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["hg.cache_ttl", "hg.max_credits", "hg.on_error"]);
        ExtensionOptions::set(&mut options, "on_error", "null").unwrap();
        ExtensionOptions::set(&mut options, "max_credits", "5").unwrap();
        assert_eq!((options.on_error, options.max_credits), (OnError::Null, Some(5)));
        let unknown = ExtensionOptions::set(&mut options, "cache_tll", "1").unwrap_err().to_string();
        assert!(unknown.contains("hg.cache_tll") && unknown.contains("hg.cache_ttl"), "{unknown}");
    }
}

/// Set on the session configuration while a plain `EXPLAIN` (not `ANALYZE`) is planned: its
/// scans of literal keys then also ask HG's free estimate (v2), which no other statement pays a
/// request for. DataFusion may plan a scan more than once for one EXPLAIN; the estimates are
/// kept here, so HG is asked once per lookup.
#[derive(Debug, Default)]
pub struct ExplainOnly {
    estimates: std::sync::Mutex<std::collections::HashMap<String, Option<u64>>>,
}

impl ExplainOnly {
    /// The estimate kept for `lookup`, if it was asked already.
    pub fn known(&self, lookup: &str) -> Option<Option<u64>> {
        self.estimates.lock().expect("estimates").get(lookup).copied()
    }

    pub fn keep(&self, lookup: String, estimate: Option<u64>) {
        self.estimates.lock().expect("estimates").insert(lookup, estimate);
    }
}

/// The optimizer settings lookup joins need, wherever a plan runs (docs/architecture.md,
/// "Large key sets"): every session hgsql builds, and every worker session, applies them.
pub fn apply_lookup_settings(optimizer: &mut OptimizerOptions) {
    // Join keys must reach lookup scans as a readable IN list, however many there are: the
    // defaults (150 values, 128 KiB) turn larger key sets into an opaque hash probe.
    optimizer.hash_join_inlist_pushdown_max_distinct_values = 1_000_000;
    optimizer.hash_join_inlist_pushdown_max_size = 64 * 1024 * 1024;
    // Only hash joins send their keys to the probe side.
    optimizer.prefer_hash_join = true;
    optimizer.enable_join_dynamic_filter_pushdown = true;
}
