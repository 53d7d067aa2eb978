//! `POST /companies/functional-areas` and its estimate: for one company and the products it
//! uses, each department × role × location where a product is in use, with the titles of its
//! decision makers and influencers (docs/hg-api-v2.md §2.6). Made up from the company's
//! installs, the same every run. Charged once per company and product returned.

use serde_json::{Value, json};

use super::intent::{company, paging};
use super::{Answer, Group};
use crate::sandbox::data::{DataSet, Install};
use crate::sandbox::endpoints::installs;
use crate::sandbox::error::ApiError;
use crate::sandbox::request::Obj;

const DEPARTMENTS: [&str; 7] = ["IT", "Finance", "Sales", "Marketing", "Operations", "Human Resources", "Engineering"];
const ROLES: [&str; 4] = ["Executive", "Director", "Manager", "Individual Contributor"];
const MAX_LIMIT: i64 = 100;

/// One functional area.
struct Area {
    product: i64,
    product_name: String,
    department: &'static str,
    role: &'static str,
    country_code: Value,
    signal_strength: i64,
}

/// The ledger's key of a company and a product: FAI charges each pair once.
pub fn charge_key(company: u128, product: i64) -> u128 {
    company.rotate_left(17) ^ product as u128
}

struct Parsed {
    company: Option<u32>,
    products: Option<Vec<i64>>,
    page: (usize, usize),
}

fn parse(data: &DataSet, body: &Value) -> Result<Parsed, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["company", "filters", "limit", "offset"])?;
    let company = company(data, &root)?;
    let mut products = None;
    if let Some(filters) = root.object("filters")? {
        filters.only(&["products"])?;
        if let Some(p) = filters.object("products")? {
            p.only(&["ids"])?;
            let ids = p.array("ids")?.ok_or_else(|| ApiError::invalid("/filters/products/ids", "'ids' is required"))?;
            products = Some(
                ids.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_i64().ok_or_else(|| {
                            ApiError::invalid(format!("/filters/products/ids/{i}"), "a product id is an integer")
                        })
                    })
                    .collect::<Result<Vec<i64>, _>>()?,
            );
        }
    }
    Ok(Parsed { company, products, page: paging(&root, MAX_LIMIT)? })
}

/// Every area of company `index` for `products` (all when `None`): by product id, strongest
/// signal first, then department and role.
fn areas(data: &DataSet, index: u32, products: Option<&[i64]>) -> Vec<Area> {
    let company = data.company(index);
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for install in data.installs_of(index) {
        let product = &data.catalog.products[install.product as usize];
        if products.is_some_and(|p| !p.contains(&product.id)) || !seen.insert((product.id, install.country)) {
            continue;
        }
        let seed = company.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (product.id as u128) << 7 ^ install.country as u128;
        let count = 1 + (seed % 3) as usize;
        for k in 0..count {
            let h = seed.wrapping_mul(2 * k as u128 + 1).rotate_left(13 * k as u32 + 5);
            out.push(area(data, install, product.id, product.name.clone(), h));
        }
    }
    out.sort_by(|a, b| {
        (a.product, std::cmp::Reverse(a.signal_strength), a.department, a.role).cmp(&(
            b.product,
            std::cmp::Reverse(b.signal_strength),
            b.department,
            b.role,
        ))
    });
    out.dedup_by(|a, b| {
        (a.product, a.department, a.role, &a.country_code) == (b.product, b.department, b.role, &b.country_code)
    });
    out
}

fn area(data: &DataSet, install: &Install, product: i64, product_name: String, h: u128) -> Area {
    Area {
        product,
        product_name,
        department: DEPARTMENTS[(h % DEPARTMENTS.len() as u128) as usize],
        role: ROLES[((h >> 8) % ROLES.len() as u128) as usize],
        country_code: installs::value(data, install, "country_code"),
        signal_strength: 1 + ((h >> 16) % 100) as i64,
    }
}

fn render(data: &DataSet, index: u32, area: &Area) -> Value {
    let company = data.company(index);
    let here = area.country_code.as_str() == Some(company.country().code);
    let (dept, role) = (area.department, area.role);
    json!({
        "product_id": area.product,
        "product_name": area.product_name,
        "department": dept,
        "role": role,
        "city_name": if here { json!(company.city_name()) } else { Value::Null },
        "state_name": if here { json!(company.state_name()) } else { Value::Null },
        "country_code": area.country_code,
        "signal_strength": area.signal_strength,
        "decision_maker_titles": [format!("Head of {dept}"), format!("VP {dept}")],
        "influencer_titles": [format!("{dept} {role}"), format!("Senior {dept} Analyst")],
    })
}

pub fn handle(data: &DataSet, body: &Value) -> Result<Answer, ApiError> {
    let parsed = parse(data, body)?;
    let Some(index) = parsed.company else {
        return Ok(Answer {
            body: json!({"count": 0, "data": []}),
            companies: 1,
            asked: vec![Group::FunctionalAreas],
            ..Answer::default()
        });
    };
    let all = areas(data, index, parsed.products.as_deref());
    let (limit, offset) = parsed.page;
    let shown: Vec<&Area> = all.iter().skip(offset).take(limit).collect();
    let id = data.company(index).id;
    let mut pairs: Vec<u128> = shown.iter().map(|a| charge_key(id, a.product)).collect();
    pairs.dedup();
    let returned = if pairs.is_empty() { Vec::new() } else { vec![(Group::FunctionalAreas, pairs)] };
    let rows: Vec<Value> = shown.iter().map(|a| render(data, index, a)).collect();
    let asked = vec![Group::FunctionalAreas];
    Ok(Answer { body: json!({"count": all.len(), "data": rows}), returned, companies: 1, asked })
}

/// The ceiling: the company's products with areas under the filter, not yet charged.
pub fn estimate(data: &DataSet, body: &Value, not_charged: &dyn Fn(Group, u128) -> bool) -> Result<Answer, ApiError> {
    let parsed = parse(data, body)?;
    let mut estimate = 0;
    if let Some(index) = parsed.company {
        let id = data.company(index).id;
        let mut products: Vec<i64> = areas(data, index, parsed.products.as_deref()).iter().map(|a| a.product).collect();
        products.dedup();
        estimate = products.iter().filter(|p| not_charged(Group::FunctionalAreas, charge_key(id, **p))).count();
    }
    Ok(Answer {
        body: json!({"credits_estimate": estimate}),
        companies: 1,
        asked: vec![Group::FunctionalAreas],
        ..Answer::default()
    })
}
