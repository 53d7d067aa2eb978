//! An API key as a secret: it can be sent in a header and nowhere else. Its `Debug` and
//! `Display` print `***`, so it cannot leak through a log line, an error or EXPLAIN text.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// An HG API key.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(SecretString::from(key.into().trim().to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.expose_secret().is_empty()
    }

    /// Whether the key is of a kind that starts with `prefix` (HG's v2 keys: `hg_v2_`): the
    /// only thing told of a key besides sending it.
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.expose_secret().starts_with(prefix)
    }

    /// The value of the `Authorization` header. Only the transport calls this.
    pub(crate) fn header_value(&self, scheme: AuthScheme) -> String {
        match scheme {
            AuthScheme::Bearer => format!("Bearer {}", self.0.expose_secret()),
            AuthScheme::Bare => self.0.expose_secret().to_string(),
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the key is sent: `Authorization: Bearer <key>` (default) or the bare key. HG's pages
/// disagree on which the API wants (docs/hg-api.md §1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    #[default]
    Bearer,
    Bare,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_key() {
        let key = ApiKey::new("hg_live_SECRET123");
        assert_eq!(format!("{key}"), "***");
        assert!(!format!("{key:?}").contains("SECRET"));
        assert!(!format!("{:?}", Some(&key)).contains("SECRET"));
        assert_eq!(key.header_value(AuthScheme::Bearer), "Bearer hg_live_SECRET123");
        assert_eq!(key.header_value(AuthScheme::Bare), "hg_live_SECRET123");
    }
}
