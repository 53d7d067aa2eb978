//! Generates companies family by family: a global headquarters, then domestic headquarters
//! and sites that share its domain, with sizes drawn from a heavy-tailed distribution.

use std::collections::HashSet;

use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;

use super::reference::{COUNTRIES, INDUSTRIES, Language, legal_suffixes, name_heads, name_tails, romanise};
use super::{Company, CompanyLevel, normalize_domain};

const MIDDLE_WORDS: &[&str] = &[
    "Global",
    "United",
    "First",
    "National",
    "Advanced",
    "Pacific",
    "Atlantic",
    "Digital",
    "Applied",
    "Integrated",
    "General",
    "Premier",
];

pub fn generate(seed: u64, count: usize) -> Vec<Company> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC0_4BA41E5);
    let country_weights: Vec<u32> = COUNTRIES.iter().map(|c| c.weight).collect();
    let total_weight: u32 = country_weights.iter().sum();
    let pick_country = |rng: &mut ChaCha8Rng| -> u16 {
        let mut x = rng.random_range(0..total_weight);
        for (i, w) in country_weights.iter().enumerate() {
            if x < *w {
                return i as u16;
            }
            x -= w;
        }
        0
    };
    let mut companies: Vec<Company> = Vec::with_capacity(count);
    let mut domains: HashSet<String> = HashSet::new();
    while companies.len() < count {
        let size = family_size(&mut rng).min(count - companies.len());
        let home = pick_country(&mut rng);
        let (core, domain_stem) = company_core(&mut rng, home);
        let domain = unique_domain(&mut domains, &domain_stem, COUNTRIES[home as usize].tld);
        let industry = if rng.random_ratio(1, 100) { None } else { Some(rng.random_range(0..INDUSTRIES.len()) as u16) };
        let family_revenue = log_normal(&mut rng, 16.5, 2.3).clamp(50_000.0, 6.8e11);
        let revenue_per_employee = log_normal(&mut rng, 12.4, 0.5);
        let ghq = companies.len() as u32;
        let mut countries_used = vec![home];
        for member in 0..size {
            let (level, country) = if member == 0 {
                (CompanyLevel::GlobalHq, home)
            } else if rng.random_ratio(2, 5) {
                let country = pick_country(&mut rng);
                if countries_used.contains(&country) {
                    (CompanyLevel::Site, country)
                } else {
                    countries_used.push(country);
                    (CompanyLevel::DomesticHq, country)
                }
            } else {
                (CompanyLevel::Site, home)
            };
            let share = match level {
                CompanyLevel::GlobalHq => 1.0,
                CompanyLevel::DomesticHq => rng.random_range(0.05..0.30),
                CompanyLevel::Site => rng.random_range(0.005..0.05),
            };
            let revenue_known = match level {
                CompanyLevel::GlobalHq => !rng.random_ratio(1, 100),
                _ => !rng.random_ratio(1, 25),
            };
            let revenue = revenue_known.then_some((family_revenue * share) as i64);
            let employees = (level == CompanyLevel::GlobalHq || !rng.random_ratio(1, 50))
                .then(|| ((family_revenue * share / revenue_per_employee) as i64).max(1));
            let it_spend = match (revenue, industry) {
                (Some(r), Some(i)) if !rng.random_ratio(1, 33) => {
                    let bp = INDUSTRIES[i as usize].it_spend_bp as f64 * rng.random_range(0.6..1.4);
                    Some((r as f64 * bp / 10_000.0) as i64)
                }
                _ => None,
            };
            let country_info = &COUNTRIES[country as usize];
            let city = rng.random_range(0..country_info.cities.len()) as u8;
            let postal_code = (!rng.random_ratio(1, 20))
                .then(|| format!("{}{:02}", country_info.cities[city as usize].2, rng.random_range(0..100)));
            let name = if level == CompanyLevel::Site || country == home {
                full_name(&core, home, &mut rng, member == 0)
            } else {
                full_name(&core, country, &mut rng, true)
            };
            let shown_domain = if rng.random_ratio(3, 20) { format!("www.{domain}") } else { domain.clone() };
            companies.push(Company {
                id: company_id(&mut rng),
                name,
                domain_normalized: normalize_domain(&shown_domain),
                domain: shown_domain,
                level,
                global_hq: ghq,
                country,
                city,
                postal_code,
                industry,
                revenue,
                employees,
                it_spend,
                forbes_2000_rank: None,
                fortune_500_rank: None,
            });
        }
        // Sites carry the family's legal name exactly.
        let ghq_name = companies[ghq as usize].name.clone();
        for company in &mut companies[ghq as usize + 1..] {
            if company.level == CompanyLevel::Site {
                company.name = ghq_name.clone();
            }
        }
    }
    assign_ranks(&mut companies);
    companies
}

/// Family sizes: most companies stand alone, a few have dozens of locations.
fn family_size(rng: &mut ChaCha8Rng) -> usize {
    match rng.random_range(0..100) {
        0..72 => 1,
        72..88 => rng.random_range(2..=3),
        88..97 => rng.random_range(4..=8),
        _ => rng.random_range(9..=25),
    }
}

/// The name without its legal form, and the stem its domain is built from.
fn company_core(rng: &mut ChaCha8Rng, country: u16) -> (String, String) {
    let language = COUNTRIES[country as usize].language;
    let head = *name_heads(language).choose(rng).expect("heads");
    let tail = *name_tails(language).choose(rng).expect("tails");
    if language == Language::Japanese {
        return (format!("{head}{tail}"), format!("{}-{}", romanise(head), romanise(tail)));
    }
    let middle =
        (language == Language::English && rng.random_bool(0.5)).then(|| *MIDDLE_WORDS.choose(rng).expect("words"));
    let joined_head = if head.ends_with('\'') { head.to_string() } else { format!("{head} ") };
    let core = match middle {
        Some(m) => format!("{joined_head}{m} {tail}"),
        None => format!("{joined_head}{tail}"),
    };
    let stem = [Some(head), middle, Some(tail)].into_iter().flatten().map(romanise).collect::<String>();
    (core, stem)
}

fn full_name(core: &str, country: u16, rng: &mut ChaCha8Rng, random_suffix: bool) -> String {
    let suffixes = legal_suffixes(COUNTRIES[country as usize].code);
    let suffix = if random_suffix { *suffixes.choose(rng).expect("suffixes") } else { suffixes[0] };
    if suffix == "株式会社" { format!("{core}{suffix}") } else { format!("{core} {suffix}") }
}

fn unique_domain(used: &mut HashSet<String>, stem: &str, tld: &str) -> String {
    let mut candidate = format!("{stem}.{tld}");
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        candidate = format!("{stem}{n}.{tld}");
        n += 1;
    }
    candidate
}

fn company_id(rng: &mut ChaCha8Rng) -> u128 {
    let id: u128 = rng.random();
    // One in a hundred ids has two leading zero digits on top of the natural one in sixteen.
    if rng.random_ratio(1, 100) { id >> 8 } else { id }
}

/// exp(N(mu, sigma)) by the Box–Muller transform.
fn log_normal(rng: &mut ChaCha8Rng, mu: f64, sigma: f64) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (mu + sigma * z).exp()
}

/// Fortune 500 ranks go to the largest US global HQs, Forbes 2000 ranks to the largest global
/// HQs anywhere; each list is scaled to the size of the data set.
fn assign_ranks(companies: &mut [Company]) {
    let mut ghqs: Vec<usize> = (0..companies.len())
        .filter(|&i| companies[i].level == CompanyLevel::GlobalHq && companies[i].revenue.is_some())
        .collect();
    ghqs.sort_by_key(|&i| (std::cmp::Reverse(companies[i].revenue), companies[i].id));
    let forbes = (ghqs.len() / 10).min(2000);
    for (rank, &i) in ghqs.iter().take(forbes).enumerate() {
        companies[i].forbes_2000_rank = Some(rank as i64 + 1);
    }
    let us: Vec<usize> =
        ghqs.iter().copied().filter(|&i| COUNTRIES[companies[i].country as usize].code == "US").collect();
    let fortune = (us.len() / 10).min(500);
    for (rank, &i) in us.iter().take(fortune).enumerate() {
        companies[i].fortune_500_rank = Some(rank as i64 + 1);
    }
}
