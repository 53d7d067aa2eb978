//! HG's hexadecimal ids (companies, categories, intent topics) in their one normal form.
//!
//! The API may print the same id with its leading zeros dropped (31 characters or fewer) and in
//! either case. Joins and cache keys compare ids as text, so every id is upper-cased and
//! left-padded with `0` to 32 characters on the way in and out.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 128-bit HG id in the 32-character upper-case normal form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HexId(String);

/// A company's HG id.
pub type CompanyId = HexId;

/// Why a text is not an HG id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an HG id: expected up to 32 hexadecimal digits")]
pub struct InvalidId(pub String);

impl HexId {
    /// Normalises `raw` (trimmed; any case; padded or not).
    pub fn parse(raw: &str) -> Result<HexId, InvalidId> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 32 || !trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidId(raw.to_string()));
        }
        Ok(HexId(format!("{:0>32}", trimmed.to_ascii_uppercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexId({})", self.0)
    }
}

impl Serialize for HexId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HexId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<HexId, D::Error> {
        let raw = String::deserialize(deserializer)?;
        HexId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_normalises_to_32_upper_case_digits() {
        let want = "03B36D42E7F8E60BE58BA4356B6AF40C";
        for raw in [
            "3B36D42E7F8E60BE58BA4356B6AF40C",
            "3b36d42e7f8e60be58ba4356b6af40c",
            want,
            " 03b36d42e7f8e60be58ba4356b6af40c ",
        ] {
            assert_eq!(HexId::parse(raw).unwrap().as_str(), want, "{raw}");
        }
        assert_eq!(HexId::parse("1").unwrap().as_str(), "00000000000000000000000000000001");
    }

    #[test]
    fn non_ids_are_refused() {
        for raw in ["", "  ", "XYZ", "0x1F", &"1".repeat(33), "12 34"] {
            assert!(HexId::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn serde_round_trip_normalises() {
        let id: HexId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"00000000000000000000000000000ABC\"");
    }

    proptest::proptest! {
        /// Any text either is refused or becomes 32 upper-case hex digits that parse to
        /// themselves and denote the same number.
        #[test]
        fn any_text_is_refused_or_normalised(raw in ".{0,40}|[0-9a-fA-F ]{0,36}") {
            match HexId::parse(&raw) {
                Ok(id) => {
                    let s = id.as_str();
                    proptest::prop_assert_eq!(s.len(), 32);
                    proptest::prop_assert!(s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
                    proptest::prop_assert_eq!(HexId::parse(s).unwrap(), id.clone());
                    let value = u128::from_str_radix(raw.trim(), 16).unwrap();
                    proptest::prop_assert_eq!(u128::from_str_radix(s, 16).unwrap(), value);
                }
                Err(_) => {
                    let t = raw.trim();
                    proptest::prop_assert!(t.is_empty() || t.len() > 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()));
                }
            }
        }
    }
}
