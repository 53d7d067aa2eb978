//! Generates what companies do: technology installs, IT spend by category and intent topics.
//! Each company draws from its own random stream, so its activity does not depend on how many
//! companies were generated.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::reference::{BUYERS_JOURNEY, INTENT_CONTEXTS};
use super::{AS_OF_DAY, Catalog, Company, CompanyLevel, Install, Intent, Spend};

/// First day an install can have been verified: 2012-01-01.
const FIRST_DAY: i32 = 15_340;

pub struct Activity {
    pub installs: Vec<Install>,
    pub spend: Vec<Spend>,
    pub intent: Vec<Intent>,
}

pub fn generate(seed: u64, catalog: &Catalog, companies: &[Company]) -> Activity {
    let popularity: Vec<u32> = catalog
        .products
        .iter()
        .scan(0, |total, p| {
            *total += p.popularity;
            Some(*total)
        })
        .collect();
    let spend_categories: Vec<u32> =
        (0..catalog.categories.len() as u32).filter(|&i| catalog.categories[i as usize].level == 2).collect();
    // For each global HQ, one member per other country it operates in.
    let mut family_countries: HashMap<u32, Vec<(u16, u32)>> = HashMap::new();
    for (i, company) in companies.iter().enumerate() {
        let members = family_countries.entry(company.global_hq).or_default();
        if !members.iter().any(|(country, _)| *country == company.country) {
            members.push((company.country, i as u32));
        }
    }
    let mut activity = Activity { installs: Vec::new(), spend: Vec::new(), intent: Vec::new() };
    for (i, company) in companies.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ company.id as u64 ^ (company.id >> 64) as u64,
        );
        let reach: &[(u16, u32)] = match company.level {
            CompanyLevel::GlobalHq => family_countries.get(&(i as u32)).map_or(&[], Vec::as_slice),
            _ => &[],
        };
        installs(&mut rng, i as u32, company, reach, &popularity, &mut activity.installs);
        spend(&mut rng, i as u32, company, reach, &spend_categories, &mut activity.spend);
        intent(&mut rng, i as u32, catalog, &mut activity.intent);
    }
    activity
}

fn install_count(rng: &mut ChaCha8Rng, company: &Company) -> usize {
    if rng.random_ratio(1, 20) {
        return 0;
    }
    match company.employees {
        None => rng.random_range(0..=6),
        Some(e) if e < 50 => rng.random_range(0..=6),
        Some(e) if e < 1_000 => rng.random_range(3..=15),
        Some(e) if e < 10_000 => rng.random_range(8..=28),
        Some(_) => rng.random_range(15..=40),
    }
}

fn installs(
    rng: &mut ChaCha8Rng,
    index: u32,
    company: &Company,
    reach: &[(u16, u32)],
    popularity: &[u32],
    out: &mut Vec<Install>,
) {
    let wanted = install_count(rng, company);
    let total = *popularity.last().expect("products exist");
    let mut rows: Vec<Install> = Vec::with_capacity(wanted);
    let mut attempts = 0;
    while rows.len() < wanted && attempts < wanted * 4 {
        attempts += 1;
        let x = rng.random_range(0..total);
        let product = popularity.partition_point(|&cum| cum <= x) as u32;
        let (country, location) = if reach.len() > 1 && rng.random_ratio(1, 4) {
            reach[rng.random_range(0..reach.len())]
        } else {
            (company.country, index)
        };
        if rows.iter().any(|r| r.product == product && r.country == country) {
            continue;
        }
        let first_verified = rng.random_range(FIRST_DAY..AS_OF_DAY - 120);
        let earliest_last = first_verified.max(AS_OF_DAY - 730);
        let recency: f64 = rng.random::<f64>().powi(2);
        let last_verified = AS_OF_DAY - (recency * f64::from(AS_OF_DAY - earliest_last)) as i32;
        let intensity = ((rng.random::<f64>().powf(1.5) * 366.0) as i64).min(365);
        rows.push(Install { company: index, product, country, location, intensity, first_verified, last_verified });
    }
    out.extend(rows);
}

fn spend(
    rng: &mut ChaCha8Rng,
    index: u32,
    company: &Company,
    reach: &[(u16, u32)],
    categories: &[u32],
    out: &mut Vec<Spend>,
) {
    let budget = company
        .it_spend
        .or(company.revenue.map(|r| r / 50))
        .unwrap_or_else(|| rng.random_range(20_000..500_000))
        .max(1_000) as f64;
    let count = rng.random_range(3..=10).min(categories.len());
    let mut chosen: Vec<u32> = Vec::with_capacity(count);
    while chosen.len() < count {
        let category = categories[rng.random_range(0..categories.len())];
        if !chosen.contains(&category) {
            chosen.push(category);
        }
    }
    let weights: Vec<f64> = chosen.iter().map(|_| rng.random_range(0.2..1.0)).collect();
    let weight_sum: f64 = weights.iter().sum();
    for (category, weight) in chosen.into_iter().zip(weights) {
        let amount = budget * weight / weight_sum;
        out.push(Spend { company: index, category, country: company.country, spend: amount.round() as i64 });
        for &(country, _) in reach.iter().filter(|(c, _)| *c != company.country).take(2) {
            let share = rng.random_range(0.05..0.3);
            out.push(Spend { company: index, category, country, spend: (amount * share).round() as i64 });
        }
    }
}

fn intent(rng: &mut ChaCha8Rng, index: u32, catalog: &Catalog, out: &mut Vec<Intent>) {
    let count = if rng.random_ratio(1, 5) { 0 } else { rng.random_range(1..=15) };
    let mut topics: Vec<u32> = Vec::with_capacity(count);
    while topics.len() < count {
        let topic = rng.random_range(0..catalog.topics.len() as u32);
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    for topic in topics {
        let mut contexts = 0u8;
        for _ in 0..rng.random_range(1..=3) {
            contexts |= 1 << rng.random_range(0..INTENT_CONTEXTS.len());
        }
        out.push(Intent {
            company: index,
            topic,
            signal_strength: rng.random_range(1..=100),
            signal_trend: (rng.random_range(-50.0..50.0_f64) * 10.0).round() / 10.0,
            location_strength: rng.random_range(1..=100),
            journey: rng.random_range(0..BUYERS_JOURNEY.len()) as u8,
            contexts,
            datestamp: AS_OF_DAY - rng.random_range(0..90),
        });
    }
}
