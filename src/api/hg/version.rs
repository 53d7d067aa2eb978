//! Which HG Data API a client speaks. HG serves two: v1 (one company a firmographic request)
//! and v2 (ten a match, 25 an enrich), and a key works on one of them only. The choice is made
//! once, before any call, in the order docs/hg-api-v2.md §1 gives: the setting, else the key's
//! prefix, else the base URL's last segment, else v1.

use std::fmt;

use crate::api::transport::ApiKey;

/// An HG Data API version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    #[default]
    V1,
    V2,
}

/// What v2 keys start with.
pub const V2_KEY_PREFIX: &str = "hg_v2_";

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }

    /// `v1` or `v2` (any case, blanks around).
    pub fn parse(text: &str) -> Result<ApiVersion, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "v1" | "1" => Ok(ApiVersion::V1),
            "v2" | "2" => Ok(ApiVersion::V2),
            other => Err(format!("'{other}' is not an HG API version: give v1 or v2")),
        }
    }

    /// The version a key is for, when its form says: v2 keys start with `hg_v2_`.
    pub fn of_key(key: &ApiKey) -> Option<ApiVersion> {
        key.starts_with(V2_KEY_PREFIX).then_some(ApiVersion::V2)
    }

    /// The version a base URL's last path segment names (`…/data-api/v2`), if it names one.
    pub fn of_base_url(url: &str) -> Option<ApiVersion> {
        let path = url.trim().trim_end_matches('/');
        match path.rsplit('/').next()? {
            "v1" => Some(ApiVersion::V1),
            "v2" => Some(ApiVersion::V2),
            _ => None,
        }
    }

    /// HG's documented base URL of this version.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ApiVersion::V1 => "https://api.hginsights.com/data-api/v1",
            ApiVersion::V2 => "https://api.hginsights.com/data-api/v2",
        }
    }

    /// The version to speak, from what is known in the order of precedence: an explicit
    /// setting, the key, the base URL, else v1. A base URL that names the other version than
    /// the one chosen is refused: every request would fail with a 401 or a 404.
    pub fn choose(
        setting: Option<ApiVersion>,
        key: Option<&ApiKey>,
        base_url: Option<&str>,
    ) -> Result<ApiVersion, String> {
        let from_url = base_url.and_then(ApiVersion::of_base_url);
        let chosen = setting.or_else(|| key.and_then(ApiVersion::of_key)).or(from_url).unwrap_or_default();
        match (from_url, base_url) {
            (Some(named), Some(url)) if named != chosen => Err(format!(
                "the base URL {url} is HG's {named} API, but hgsql is to speak {chosen} ({}); \
                 give the base URL of {chosen} (e.g. {}) or set the API version to {named}",
                if setting.is_some() { "as set" } else { "the key is a v2 key" },
                chosen.default_base_url()
            )),
            _ => Ok(chosen),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ApiVersion::{self, V1, V2};
    use crate::api::ApiKey;

    #[test]
    fn the_setting_then_the_key_then_the_url_then_v1() {
        let (plain, v2) = (ApiKey::new("abc"), ApiKey::new(" hg_v2_abc"));
        let choose = |setting, key: Option<&str>, url| {
            let key = key.map(|k| if k.contains("hg_v2_") { &v2 } else { &plain });
            ApiVersion::choose(setting, key, url)
        };
        assert_eq!(choose(None, None, None), Ok(V1));
        assert_eq!(choose(None, Some("abc"), None), Ok(V1));
        assert_eq!(choose(None, Some(" hg_v2_abc"), None), Ok(V2));
        assert_eq!(choose(None, Some("abc"), Some("http://127.0.0.1:9/data-api/v2/")), Ok(V2));
        assert_eq!(choose(Some(V1), Some("hg_v2_abc"), None), Ok(V1), "the setting wins over the key");
        assert_eq!(choose(Some(V2), None, Some("http://proxy.local/hg")), Ok(V2), "a URL naming no version");
        let wrong = choose(None, Some("hg_v2_abc"), Some("https://api.hginsights.com/data-api/v1")).unwrap_err();
        assert!(wrong.contains("v1 API") && wrong.contains("data-api/v2") && wrong.contains("v2 key"), "{wrong}");
        let wrong = choose(Some(V1), None, Some("http://x/data-api/v2")).unwrap_err();
        assert!(wrong.contains("as set"), "{wrong}");
    }

    #[test]
    fn versions_parse_in_any_case() {
        assert_eq!(ApiVersion::parse(" V2 "), Ok(V2));
        assert_eq!(ApiVersion::parse("v1"), Ok(V1));
        assert!(ApiVersion::parse("v3").unwrap_err().contains("v1 or v2"));
    }
}
