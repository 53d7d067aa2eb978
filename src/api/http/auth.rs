//! How an HTTP table proves who it is: `bearer` (`Authorization: Bearer <token>`), `basic`
//! (`username` and `password`), `header` (the token bare in `auth_header`, e.g. `x-api-key`)
//! or `query` (the token in the query parameter `auth_param`). The secret goes into a
//! transport [`Credential`], which sends it and shows it nowhere.

use base64::Engine;
use reqwest::header::{AUTHORIZATION, HeaderName};
use secrecy::ExposeSecret;

use super::options::{Auth, HttpOptions};
use crate::api::transport::Credential;

/// Why the auth options do not fit together; each message names the options to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("'auth' '{auth}' needs {needs}")]
    Missing { auth: &'static str, needs: &'static str },
    #[error("'token' is set but 'auth' is 'none'; say how to send it: 'auth' 'bearer', 'header' or 'query'")]
    Unused,
    #[error("'auth_header' '{0}' is not a valid header name")]
    BadHeader(String),
    #[error("{0}")]
    Unsendable(String),
}

/// The name `auth` has in SQL.
pub fn auth_name(auth: Auth) -> &'static str {
    match auth {
        Auth::None => "none",
        Auth::Bearer => "bearer",
        Auth::Basic => "basic",
        Auth::Header => "header",
        Auth::Query => "query",
    }
}

/// The credential `options` describe, or `None` for `auth` `none`.
pub fn credential(options: &HttpOptions) -> Result<Option<Credential>, AuthError> {
    let token = options.token.as_ref().map(|t| t.expose_secret().to_string());
    let missing = |needs| AuthError::Missing { auth: auth_name(options.auth), needs };
    let header = |name: HeaderName, value: &str| Credential::header(name, value).map_err(AuthError::Unsendable);
    match options.auth {
        Auth::None if token.is_some() => Err(AuthError::Unused),
        Auth::None => Ok(None),
        Auth::Bearer => {
            let token = token.ok_or_else(|| missing("'token' ('${env:NAME}' or a connection)"))?;
            header(AUTHORIZATION, &format!("Bearer {token}")).map(Some)
        }
        Auth::Basic => {
            let (Some(user), Some(password)) = (&options.username, &options.password) else {
                return Err(missing("'username' and 'password' ('${env:NAME}' or a connection)"));
            };
            let pair = format!("{user}:{}", password.expose_secret());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            header(AUTHORIZATION, &format!("Basic {encoded}")).map(Some)
        }
        Auth::Header => {
            let name = options
                .auth_header
                .as_deref()
                .ok_or_else(|| missing("'auth_header' (e.g. 'x-api-key') and 'token'"))?;
            let token = token.ok_or_else(|| missing("'auth_header' (e.g. 'x-api-key') and 'token'"))?;
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| AuthError::BadHeader(name.to_string()))?;
            header(name, &token).map(Some)
        }
        Auth::Query => {
            let param =
                options.auth_param.as_deref().ok_or_else(|| missing("'auth_param' (e.g. 'api_key') and 'token'"))?;
            let token = token.ok_or_else(|| missing("'auth_param' (e.g. 'api_key') and 'token'"))?;
            Ok(Some(Credential::query(param, &token)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn options(pairs: &[(&str, &str)]) -> HttpOptions {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        HttpOptions::parse(&map, &|_| Some("tok3n".to_string())).unwrap()
    }

    #[test]
    fn each_style_needs_its_options_and_never_shows_the_secret() {
        assert!(credential(&options(&[])).unwrap().is_none());
        for pairs in [
            vec![("auth", "bearer"), ("token", "${env:T}")],
            vec![("auth", "basic"), ("username", "u"), ("password", "${env:T}")],
            vec![("auth", "header"), ("auth_header", "x-api-key"), ("token", "${env:T}")],
            vec![("auth", "query"), ("auth_param", "api_key"), ("token", "${env:T}")],
        ] {
            let made = credential(&options(&pairs)).unwrap().expect("a credential");
            assert!(!format!("{made:?}").contains("tok3n"), "{pairs:?}");
        }
        let missing = credential(&options(&[("auth", "header"), ("token", "${env:T}")])).unwrap_err().to_string();
        assert!(missing.contains("'auth_header'"), "{missing}");
        assert_eq!(credential(&options(&[("token", "${env:T}")])).unwrap_err(), AuthError::Unused);
    }
}
