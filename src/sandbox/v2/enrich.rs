//! `POST /companies/enrich` and `/companies/enrich/estimate`: up to 25 companies a request,
//! by id or by domain, with any of the field groups `firmographics`, `technographics` and
//! `spend` (docs/hg-api-v2.md §2.2, §2.3). Values are the v1 endpoints' own; the names and the
//! envelope are v2's.

use serde_json::{Map, Value, json};

use super::{Answer, Quirks};
use crate::sandbox::data::{DataSet, Install, Spend, emitted_id, parse_id};
use crate::sandbox::endpoints::company_match::candidates;
use crate::sandbox::endpoints::{FIRMOGRAPHIC_FIELDS, INSTALL_FIELDS, SPEND_FIELDS, firmographic, installs, spend};
use crate::sandbox::error::ApiError;
use crate::sandbox::request::Obj;

/// A v2 field group: what a request asks for, and what the ledger charges once per company.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Firmographics,
    Technographics,
    Spend,
    /// `POST /intent/enrich`: charged per company.
    Intent,
    /// `POST /companies/functional-areas`: charged per company and product.
    FunctionalAreas,
}

/// The groups an enrich request may name.
pub const GROUPS: [Group; 3] = [Group::Firmographics, Group::Technographics, Group::Spend];

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Firmographics => "firmographics",
            Group::Technographics => "technographics",
            Group::Spend => "spend",
            Group::Intent => "intent",
            Group::FunctionalAreas => "functional_areas",
        }
    }

    fn parse(name: &str) -> Option<Group> {
        GROUPS.into_iter().find(|g| g.name() == name)
    }
}

/// Rows a group's page holds at most.
const MAX_PAGE: i64 = 1000;
const DEFAULT_PAGE: i64 = 100;

/// A parsed enrich body.
struct Request {
    /// The companies found, in input order (an unknown id is `Err` with its id, for a stub).
    companies: Vec<Result<u32, u128>>,
    groups: Vec<Group>,
    tech: TechFilters,
    spend_categories: Option<Vec<u128>>,
    tech_page: (usize, usize),
    spend_page: (usize, usize),
}

#[derive(Default)]
struct TechFilters {
    products: Option<Vec<i64>>,
    vendors: Option<Vec<i64>>,
    categories: Option<Vec<u128>>,
    countries: Option<Vec<String>>,
}

pub fn handle(data: &DataSet, body: &Value, quirks: Quirks) -> Result<Answer, ApiError> {
    let request = parse(data, body, quirks)?;
    let mut entries: Vec<(u128, Value)> = Vec::new();
    let mut returned: Vec<(Group, Vec<u128>)> = request.groups.iter().map(|g| (*g, Vec::new())).collect();
    for found in &request.companies {
        let index = match found {
            Ok(index) => *index,
            Err(id) => {
                if quirks.stubs {
                    let mut stub = Map::new();
                    stub.insert("company_id".into(), json!(emitted_id(*id)));
                    for group in &request.groups {
                        stub.insert(group.name().into(), Value::Null);
                    }
                    entries.push((*id, Value::Object(stub)));
                }
                continue;
            }
        };
        let id = data.company(index).id;
        let mut entry = Map::new();
        entry.insert("company_id".into(), json!(emitted_id(id)));
        for (group, companies) in returned.iter_mut() {
            let (value, has_data) = match group {
                Group::Firmographics => (firmographics(data, index, quirks), true),
                Group::Technographics => technographics(data, index, &request, quirks),
                Group::Spend => spend_group(data, index, &request),
                // Not enrich groups: the request's parse refuses them.
                Group::Intent | Group::FunctionalAreas => (Value::Null, false),
            };
            if has_data {
                companies.push(id);
            }
            entry.insert(group.name().into(), value);
        }
        entries.push((id, Value::Object(entry)));
    }
    if quirks.shuffled {
        // Any order but the input's, the same for the same companies.
        entries.sort_by_key(|(id, _)| id.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
    }
    let companies = request.companies.len();
    let body = json!({"companies": entries.into_iter().map(|(_, e)| e).collect::<Vec<_>>()});
    Ok(Answer { body, returned, companies, asked: request.groups })
}

/// The ceiling HG would charge for the request: found companies × requested groups not yet
/// charged; filters are ignored.
pub fn estimate(
    data: &DataSet,
    body: &Value,
    quirks: Quirks,
    not_charged: &dyn Fn(Group, u128) -> bool,
) -> Result<Answer, ApiError> {
    let request = parse(data, body, quirks)?;
    let mut estimate = 0u64;
    for index in request.companies.iter().filter_map(|c| c.as_ref().ok()) {
        let id = data.company(*index).id;
        estimate += request.groups.iter().filter(|g| not_charged(**g, id)).count() as u64;
    }
    let companies = request.companies.len();
    Ok(Answer { body: json!({"credits_estimate": estimate}), returned: Vec::new(), companies, asked: request.groups })
}

fn parse(data: &DataSet, body: &Value, quirks: Quirks) -> Result<Request, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["companies", "fields", "filters", "pagination"])?;
    let selector =
        root.object("companies")?.ok_or_else(|| ApiError::invalid("/companies", "'companies' is required"))?;
    selector.only(&["ids", "domains"])?;
    let (key, by_id) = match (selector.has("ids"), selector.has("domains")) {
        (true, false) => ("ids", true),
        (false, true) => ("domains", false),
        _ => {
            return Err(ApiError::invalid("/companies", "give exactly one of 'companies.ids' and 'companies.domains'"));
        }
    };
    let items = selector.array(key)?.expect("checked present");
    let pointer = format!("/companies/{key}");
    if items.is_empty() || items.len() > quirks.max_batch {
        return Err(ApiError::invalid(
            &pointer,
            format!("'companies.{key}' takes 1 to {} companies, got {}", quirks.max_batch, items.len()),
        ));
    }
    let mut companies = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let text = item
            .as_str()
            .map(str::trim)
            .ok_or_else(|| ApiError::invalid(format!("{pointer}/{i}"), "must be a string"))?;
        if by_id {
            let id = parse_id(text).ok_or_else(|| {
                ApiError::invalid(format!("{pointer}/{i}"), format!("'{text}' is not an HG company id (hexadecimal)"))
            })?;
            companies.push(data.company_index(id).ok_or(id));
        } else if let Some(&best) = candidates(data, Some(text), None, None).first() {
            companies.push(Ok(best));
        }
    }
    let fields = root.array("fields")?.ok_or_else(|| ApiError::invalid("/fields", "'fields' is required"))?;
    let mut groups = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let group = field.as_str().and_then(Group::parse).ok_or_else(|| {
            ApiError::invalid(format!("/fields/{i}"), "a field group is one of: firmographics, technographics, spend")
        })?;
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    if groups.is_empty() {
        return Err(ApiError::invalid("/fields", "name at least one field group"));
    }
    let mut tech = TechFilters::default();
    let mut spend_categories = None;
    if let Some(filters) = root.object("filters")? {
        filters.only(&["technographics", "spend"])?;
        if let Some(t) = filters.object("technographics")? {
            t.only(&["products", "vendors", "product_categories", "country"])?;
            tech.products = list(&t, "products", "ids", int)?;
            tech.vendors = list(&t, "vendors", "ids", int)?;
            tech.categories = list(&t, "product_categories", "ids", hex)?;
            tech.countries = list(&t, "country", "codes", code)?;
        }
        if let Some(s) = filters.object("spend")? {
            s.only(&["categories"])?;
            spend_categories = list(&s, "categories", "ids", hex)?;
        }
    }
    let (mut tech_page, mut spend_page) = ((DEFAULT_PAGE as usize, 0), (DEFAULT_PAGE as usize, 0));
    if let Some(pagination) = root.object("pagination")? {
        pagination.only(&["technographics", "spend"])?;
        if let Some(p) = pagination.object("technographics")? {
            tech_page = page(&p)?;
        }
        if let Some(p) = pagination.object("spend")? {
            spend_page = page(&p)?;
        }
    }
    Ok(Request { companies, groups, tech, spend_categories, tech_page, spend_page })
}

/// `{"<inner>": [...]}` at `key`, each element read by `read`.
fn list<T>(obj: &Obj, key: &str, inner: &str, read: fn(&Value) -> Option<T>) -> Result<Option<Vec<T>>, ApiError> {
    let Some(filter) = obj.object(key)? else { return Ok(None) };
    filter.only(&[inner])?;
    let items = filter
        .array(inner)?
        .ok_or_else(|| ApiError::invalid(filter.pointer(inner), format!("'{inner}' is required")))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            read(v).ok_or_else(|| ApiError::invalid(format!("{}/{i}", filter.pointer(inner)), "not a valid value"))
        })
        .collect::<Result<Vec<T>, ApiError>>()
        .map(Some)
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

fn hex(v: &Value) -> Option<u128> {
    v.as_str().and_then(|s| parse_id(s.trim()))
}

fn code(v: &Value) -> Option<String> {
    v.as_str().map(|s| s.trim().to_ascii_uppercase())
}

fn page(obj: &Obj) -> Result<(usize, usize), ApiError> {
    obj.only(&["limit", "offset"])?;
    let limit = obj.integer("limit")?.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(obj.pointer("limit"), format!("'limit' must be from 1 to {MAX_PAGE}")));
    }
    let offset = obj.integer("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid(obj.pointer("offset"), "'offset' must not be negative"));
    }
    Ok((limit as usize, offset as usize))
}

/// v1's firmographic fields of a company under v2's names (or the older ones).
fn firmographics(data: &DataSet, index: u32, quirks: Quirks) -> Value {
    let company = data.company(index);
    let ghq = data.company(company.global_hq);
    let mut out = Map::new();
    for field in FIRMOGRAPHIC_FIELDS {
        let value = match field.strip_prefix("global_hq_") {
            Some("hg_id") => json!(emitted_id(ghq.id)),
            Some(rest) => firmographic::value(ghq, rest),
            None => firmographic::value(company, field),
        };
        let (name, value) = match (*field, quirks.old_spellings) {
            ("company_id", _) => ("id", value),
            ("company_name", _) => ("name", value),
            ("domain_name", false) => ("domain", value),
            ("domain_name", true) => ("url", value),
            ("domain_name_normalized", _) => ("domain_normalized", value),
            ("city_name", true) => ("city", value),
            ("state_name", true) => ("state", value),
            ("industry_name", true) => ("industry", value),
            ("sic_codes", true) => {
                ("sic_code", value.as_array().and_then(|a| a.first().cloned()).unwrap_or(Value::Null))
            }
            (name, _) => (name, value),
        };
        out.insert(name.to_string(), value);
    }
    Value::Object(out)
}

/// The company's installs under the request's filters, in v1's default order, one page; and
/// whether there are any.
fn technographics(data: &DataSet, index: u32, request: &Request, quirks: Quirks) -> (Value, bool) {
    let catalog = &data.catalog;
    let f = &request.tech;
    let admits = |install: &&Install| {
        let product = &catalog.products[install.product as usize];
        let country = installs::value(data, install, "country_code");
        f.products.as_ref().is_none_or(|ids| ids.contains(&product.id))
            && f.vendors.as_ref().is_none_or(|ids| ids.contains(&catalog.vendors[product.vendor as usize].id))
            && f.countries.as_ref().is_none_or(|codes| codes.iter().any(|c| country.as_str() == Some(c)))
            && f.categories.as_ref().is_none_or(|ids| {
                catalog
                    .category_path(product.category)
                    .into_iter()
                    .any(|c| ids.contains(&catalog.categories[c as usize].id))
            })
    };
    let mut rows: Vec<&Install> = data.installs_of(index).iter().filter(admits).collect();
    rows.sort_by_key(|i| {
        (std::cmp::Reverse(i.intensity), catalog.products[i.product as usize].id, i.product, i.country)
    });
    let (limit, offset) = request.tech_page;
    let items: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|install| {
            let mut item = Map::new();
            for field in INSTALL_FIELDS {
                let name = match (*field, quirks.old_spellings) {
                    ("product_intensity", false) => "intensity",
                    ("product_name", true) => "product",
                    (name, _) => name,
                };
                item.insert(name.to_string(), installs::value(data, install, field));
            }
            Value::Object(item)
        })
        .collect();
    (json!({"installs": items, "installs_count": rows.len()}), !rows.is_empty())
}

/// The company's spend under the request's filters, largest first, one page; and whether
/// there is any.
fn spend_group(data: &DataSet, index: u32, request: &Request) -> (Value, bool) {
    let catalog = &data.catalog;
    let id = data.company(index).id;
    let mut rows: Vec<&Spend> = data
        .spend_of(index)
        .iter()
        .filter(|s| {
            request
                .spend_categories
                .as_ref()
                .is_none_or(|ids| ids.contains(&catalog.categories[s.category as usize].id))
        })
        .collect();
    rows.sort_by_key(|s| {
        (std::cmp::Reverse(s.spend), catalog.categories[s.category as usize].id, s.category, s.country)
    });
    let (limit, offset) = request.spend_page;
    let items: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| {
            let fields = SPEND_FIELDS.iter().filter(|f| **f != "company_id");
            Value::Object(fields.map(|f| (f.to_string(), spend::value(data, id, s, f))).collect())
        })
        .collect();
    (json!({"all": items, "all_count": rows.len()}), !rows.is_empty())
}
