//! The sandbox's synthetic company universe: deterministic under a seed, generated in memory,
//! served by the endpoints and written out by `--dump`.
//!
//! Rows refer to each other by index (`u32`) into the vectors of [`DataSet`] so that the default
//! 20,000 companies with their ~300,000 installs stay compact and generate quickly.

mod activity;
mod catalog;
mod companies;
pub mod reference;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

pub use catalog::{Catalog, Category, Product, Topic, Vendor};

use reference::{COUNTRIES, Country, INDUSTRIES, Industry};

/// Day number (days since 1970-01-01) of the date the data set describes: "today" for the
/// sandbox. Fixed, not the wall clock, so that data is identical on every run.
pub const AS_OF_DAY: i32 = 20_758; // 2026-11-01

/// Where a company sits in its corporate family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CompanyLevel {
    GlobalHq,
    DomesticHq,
    Site,
}

impl CompanyLevel {
    pub fn label(self) -> &'static str {
        match self {
            CompanyLevel::GlobalHq => "GLOBAL_HQ",
            CompanyLevel::DomesticHq => "DOMESTIC_HQ",
            CompanyLevel::Site => "SITE",
        }
    }
}

/// One company location (HG models global HQs, domestic HQs and sites as companies).
#[derive(Clone, Debug, PartialEq)]
pub struct Company {
    pub id: u128,
    pub name: String,
    /// As HG stores it; sometimes with a leading `www.`.
    pub domain: String,
    pub domain_normalized: String,
    pub level: CompanyLevel,
    /// Index of this family's global headquarters (itself for a global HQ).
    pub global_hq: u32,
    pub country: u16,
    pub city: u8,
    pub postal_code: Option<String>,
    pub industry: Option<u16>,
    pub revenue: Option<i64>,
    pub employees: Option<i64>,
    pub it_spend: Option<i64>,
    pub forbes_2000_rank: Option<i64>,
    pub fortune_500_rank: Option<i64>,
}

impl Company {
    pub fn country(&self) -> &'static Country {
        &COUNTRIES[self.country as usize]
    }

    pub fn city_name(&self) -> &'static str {
        self.country().cities[self.city as usize].0
    }

    pub fn state_name(&self) -> Option<&'static str> {
        self.country().cities[self.city as usize].1
    }

    pub fn industry(&self) -> Option<&'static Industry> {
        self.industry.map(|i| &INDUSTRIES[i as usize])
    }

    pub fn revenue_band(&self) -> Option<&'static str> {
        self.revenue.map(revenue_band)
    }

    pub fn employees_band(&self) -> Option<&'static str> {
        self.employees.map(employees_band)
    }
}

/// One technology install: a product seen at a company in a country.
#[derive(Clone, Debug, PartialEq)]
pub struct Install {
    pub company: u32,
    pub product: u32,
    pub country: u16,
    /// The family member whose location the install was seen at.
    pub location: u32,
    pub intensity: i64,
    pub first_verified: i32,
    pub last_verified: i32,
}

/// Estimated IT spend of a company in one category and country.
#[derive(Clone, Debug, PartialEq)]
pub struct Spend {
    pub company: u32,
    pub category: u32,
    pub country: u16,
    pub spend: i64,
}

/// A research topic a company shows interest in.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    pub company: u32,
    pub topic: u32,
    pub signal_strength: i64,
    pub signal_trend: f64,
    pub location_strength: i64,
    pub journey: u8,
    /// Bit `i` set means `INTENT_CONTEXTS[i]` applies.
    pub contexts: u8,
    pub datestamp: i32,
}

/// The whole synthetic universe plus the indexes the endpoints look rows up by.
pub struct DataSet {
    pub seed: u64,
    pub catalog: Catalog,
    pub companies: Vec<Company>,
    pub installs: Vec<Install>,
    pub spend: Vec<Spend>,
    pub intent: Vec<Intent>,
    install_offsets: Vec<u32>,
    spend_offsets: Vec<u32>,
    intent_offsets: Vec<u32>,
    by_id: HashMap<u128, u32>,
    by_domain: HashMap<String, Vec<u32>>,
    by_name_word: HashMap<String, Vec<u32>>,
    /// All companies, largest revenue first (unknown revenue last), then by id: search's order.
    pub by_revenue: Vec<u32>,
}

impl DataSet {
    /// Generates the data set for `seed` with `companies` companies. Equal arguments give equal
    /// data; the first companies of a larger set equal those of a smaller one.
    pub fn generate(seed: u64, companies: usize) -> DataSet {
        let catalog = Catalog::generate(seed);
        let companies = companies::generate(seed, companies);
        let activity = activity::generate(seed, &catalog, &companies);
        DataSet::index(seed, catalog, companies, activity)
    }

    /// Returns a shared copy of the data set, generating it once per `(seed, companies)` in this
    /// process: tests start many sandboxes over the same data.
    pub fn shared(seed: u64, companies: usize) -> Arc<DataSet> {
        type Cache = Mutex<HashMap<(u64, usize), Arc<DataSet>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        if let Some(data) = cache.lock().expect("data cache").get(&(seed, companies)) {
            return data.clone();
        }
        let data = Arc::new(DataSet::generate(seed, companies));
        cache.lock().expect("data cache").entry((seed, companies)).or_insert(data).clone()
    }

    fn index(seed: u64, catalog: Catalog, companies: Vec<Company>, activity: activity::Activity) -> DataSet {
        let n = companies.len();
        let by_id = companies.iter().enumerate().map(|(i, c)| (c.id, i as u32)).collect();
        let mut by_domain: HashMap<String, Vec<u32>> = HashMap::new();
        let mut by_name_word: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, company) in companies.iter().enumerate() {
            by_domain.entry(company.domain_normalized.clone()).or_default().push(i as u32);
            let mut words = name_words(&company.name);
            words.sort();
            words.dedup();
            for word in words {
                by_name_word.entry(word).or_default().push(i as u32);
            }
        }
        let mut by_revenue: Vec<u32> = (0..n as u32).collect();
        by_revenue.sort_by_key(|&i| {
            let c = &companies[i as usize];
            (c.revenue.is_none(), std::cmp::Reverse(c.revenue), c.id)
        });
        DataSet {
            seed,
            catalog,
            by_revenue,
            install_offsets: offsets(n, activity.installs.iter().map(|r| r.company)),
            spend_offsets: offsets(n, activity.spend.iter().map(|r| r.company)),
            intent_offsets: offsets(n, activity.intent.iter().map(|r| r.company)),
            installs: activity.installs,
            spend: activity.spend,
            intent: activity.intent,
            companies,
            by_id,
            by_domain,
            by_name_word,
        }
    }

    /// Index of the company with this id, if any.
    pub fn company_index(&self, id: u128) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    pub fn company(&self, index: u32) -> &Company {
        &self.companies[index as usize]
    }

    pub fn installs_of(&self, company: u32) -> &[Install] {
        &self.installs[range(&self.install_offsets, company)]
    }

    pub fn spend_of(&self, company: u32) -> &[Spend] {
        &self.spend[range(&self.spend_offsets, company)]
    }

    pub fn intent_of(&self, company: u32) -> &[Intent] {
        &self.intent[range(&self.intent_offsets, company)]
    }

    /// Companies whose normalised domain equals `normalized_domain`.
    pub fn companies_with_domain(&self, normalized_domain: &str) -> &[u32] {
        self.by_domain.get(normalized_domain).map_or(&[], Vec::as_slice)
    }

    /// Companies whose name contains every word of `words` (already normalised).
    pub fn companies_with_name_words(&self, words: &[String]) -> Vec<u32> {
        let mut lists: Vec<&Vec<u32>> = Vec::new();
        for word in words {
            match self.by_name_word.get(word) {
                Some(list) => lists.push(list),
                None => return Vec::new(),
            }
        }
        lists.sort_by_key(|l| l.len());
        let Some((first, rest)) = lists.split_first() else {
            return Vec::new();
        };
        first.iter().copied().filter(|c| rest.iter().all(|l| l.binary_search(c).is_ok())).collect()
    }
}

fn range(offsets: &[u32], company: u32) -> Range<usize> {
    offsets[company as usize] as usize..offsets[company as usize + 1] as usize
}

/// Start offset of each company's rows in a vector grouped by company, plus the end.
fn offsets(companies: usize, row_companies: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut counts = vec![0u32; companies + 1];
    for company in row_companies {
        counts[company as usize + 1] += 1;
    }
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    counts
}

/// Legal-form words that name matching ignores (docs/hg-api.md §3.1 lists the first eight; the
/// rest are the other forms this data set uses).
const LEGAL_WORDS: &[&str] = &[
    "inc",
    "llc",
    "ltd",
    "gmbh",
    "sa",
    "corp",
    "corporation",
    "co",
    "plc",
    "ag",
    "kg",
    "sas",
    "sl",
    "kk",
    "bv",
    "nv",
    "ab",
    "as",
    "asa",
    "pty",
    "limited",
    "株式会社",
];

/// The words of a company name as name matching compares them: lower-case, split on anything
/// that is not a letter or digit, legal forms dropped.
pub fn name_words(name: &str) -> Vec<String> {
    let name = name.trim().strip_suffix("株式会社").unwrap_or(name.trim());
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !LEGAL_WORDS.contains(&w.as_str()))
        .collect()
}

/// A domain as the sandbox compares them: lower-case, without scheme, `www.`, path, query,
/// fragment, port or trailing dot.
pub fn normalize_domain(raw: &str) -> String {
    let mut s = raw.trim().to_lowercase();
    if let Some(i) = s.find("://") {
        s = s[i + 3..].to_string();
    }
    if let Some(i) = s.find(['/', '?', '#']) {
        s.truncate(i);
    }
    if let Some(i) = s.rfind('@') {
        s = s[i + 1..].to_string();
    }
    if let Some(i) = s.find(':') {
        s.truncate(i);
    }
    let s = s.trim_end_matches('.');
    s.strip_prefix("www.").unwrap_or(s).to_string()
}

/// HG-style revenue band label for a revenue in USD.
pub fn revenue_band(revenue: i64) -> &'static str {
    const M: i64 = 1_000_000;
    match revenue {
        r if r < M => "$0 - $1M",
        r if r < 10 * M => "$1M - $10M",
        r if r < 50 * M => "$10M - $50M",
        r if r < 100 * M => "$50M - $100M",
        r if r < 250 * M => "$100M - $250M",
        r if r < 500 * M => "$250M - $500M",
        r if r < 1_000 * M => "$500M - $1B",
        r if r < 5_000 * M => "$1B - $5B",
        r if r < 10_000 * M => "$5B - $10B",
        _ => "$10B+",
    }
}

/// HG-style employee band label for a head count.
pub fn employees_band(employees: i64) -> &'static str {
    match employees {
        e if e < 10 => "1 - 9",
        e if e < 50 => "10 - 49",
        e if e < 200 => "50 - 199",
        e if e < 500 => "200 - 499",
        e if e < 1_000 => "500 - 999",
        e if e < 5_000 => "1,000 - 4,999",
        e if e < 10_000 => "5,000 - 9,999",
        e if e < 50_000 => "10,000 - 49,999",
        _ => "50,000+",
    }
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: i32) -> String {
    let date = chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163).expect("valid day");
    date.format("%Y-%m-%d").to_string()
}

/// The id as the API emits it: upper-case hex with leading zeros dropped.
pub fn emitted_id(id: u128) -> String {
    format!("{id:X}")
}

/// Parses an id in any form the API accepts: hex of up to 32 digits, any case, padded or not.
pub fn parse_id(raw: &str) -> Option<u128> {
    if raw.is_empty() || raw.len() > 32 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(raw, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_normalise_the_way_the_contract_says() {
        for raw in [
            "acme.com",
            "ACME.com",
            "https://www.acme.com/about?x=1",
            "http://acme.com:8080",
            "www.acme.com.",
            "  Acme.COM/ ",
        ] {
            assert_eq!(normalize_domain(raw), "acme.com", "{raw}");
        }
        assert_eq!(normalize_domain("shop.acme.co.uk"), "shop.acme.co.uk");
    }

    #[test]
    fn name_words_drop_legal_forms_and_case() {
        assert_eq!(name_words("Northwind Analytics, Inc."), ["northwind", "analytics"]);
        assert_eq!(name_words("Müller Maschinenbau GmbH"), ["müller", "maschinenbau"]);
        assert_eq!(name_words("東京精密株式会社"), ["東京精密"]);
    }

    #[test]
    fn ids_round_trip_in_every_form() {
        let id = 0x03B36D42E7F8E60BE58BA4356B6AF40C_u128;
        assert_eq!(emitted_id(id), "3B36D42E7F8E60BE58BA4356B6AF40C");
        assert_eq!(parse_id("3b36d42e7f8e60be58ba4356b6af40c"), Some(id));
        assert_eq!(parse_id("03B36D42E7F8E60BE58BA4356B6AF40C"), Some(id));
        assert_eq!(parse_id("03B36D42E7F8E60BE58BA4356B6AF40C0"), None);
        assert_eq!(parse_id("XYZ"), None);
    }

    #[test]
    fn days_format_as_iso_dates() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(AS_OF_DAY), "2026-11-01");
    }
}
