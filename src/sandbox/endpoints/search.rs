//! `POST /company/search`: companies that fit a profile, largest first, at most 25,000.

use serde_json::Value;

use super::{Listing, firmographic, row};
use crate::sandbox::data::reference::ATTRIBUTES;
use crate::sandbox::data::{CompanyLevel, DataSet, Product};
use crate::sandbox::error::ApiError;
use crate::sandbox::request::{FilterId, IdKind, Inclusion, MAX_LIMIT, Obj, fields, inclusion, page, paging};

const FIELDS: &[&str] = &["company_id", "company_name", "domain_name", "domain_name_normalized"];
/// Search never returns more than this many companies (docs/hg-api.md §3.6).
pub const MAX_RESULTS: usize = 25_000;

/// `{min, max}`, either end optional.
type Range = (Option<f64>, Option<f64>);

/// The parsed filters; every present condition must hold.
#[derive(Default)]
struct Conditions {
    countries: Vec<Inclusion>,
    industries: Vec<Inclusion>,
    regions: Vec<Inclusion>,
    employees: Option<Range>,
    revenue: Option<Range>,
    products: Vec<Inclusion>,
    vendors: Vec<Inclusion>,
    categories: Vec<Inclusion>,
    attributes: Vec<Inclusion>,
    is_global_hq: Option<bool>,
    is_domestic_parent: Option<bool>,
    company_ids: Vec<Inclusion>,
}

pub fn handle(data: &DataSet, body: &Value) -> Result<Listing, ApiError> {
    let root = Obj::root(body)?;
    root.only(&["fields", "filters", "limit", "offset"])?;
    if !root.has("fields") {
        return Err(ApiError::invalid(
            "/fields",
            "'fields' is required for search; choose from: company_id, company_name, domain_name, domain_name_normalized",
        ));
    }
    let fields = fields(&root, FIELDS, FIELDS)?;
    let (limit, offset) = paging(&root, MAX_LIMIT)?;
    let matching = matching(data, &root)?;
    let rows = page(&matching, limit, offset)
        .iter()
        .map(|&c| row(&fields, |f| firmographic::value(data.company(c), f)))
        .collect();
    Ok(Listing { count: matching.len(), data: rows, companies: Vec::new() })
}

/// The companies that fit the `filters` of `root`, largest first, at most [`MAX_RESULTS`]
/// (v2's search takes the same filter tree).
pub(crate) fn matching(data: &DataSet, root: &Obj) -> Result<Vec<u32>, ApiError> {
    let conditions = match root.object("filters")? {
        Some(filters) => conditions(&filters)?,
        None => Conditions::default(),
    };
    Ok(data.by_revenue.iter().copied().filter(|&c| holds(data, &conditions, c)).take(MAX_RESULTS).collect())
}

fn conditions(filters: &Obj) -> Result<Conditions, ApiError> {
    filters.only(&["firmographics", "installs", "corporate_hierarchy", "company_identifiers"])?;
    let mut out = Conditions::default();
    if let Some(firmo) = filters.object("firmographics")? {
        firmo.only(&["country_codes", "industries", "region_names", "employees", "revenue"])?;
        out.countries = inclusions(&firmo, "country_codes", IdKind::Code)?;
        out.industries = inclusions(&firmo, "industries", IdKind::Integer)?;
        out.regions = inclusions(&firmo, "region_names", IdKind::Code)?;
        out.employees = range(&firmo, "employees")?;
        out.revenue = range(&firmo, "revenue")?;
    }
    if let Some(installs) = filters.object("installs")? {
        installs.only(&["products", "vendors", "product_categories", "product_attributes"])?;
        out.products = inclusions(&installs, "products", IdKind::Integer)?;
        out.vendors = inclusions(&installs, "vendors", IdKind::Integer)?;
        out.categories = inclusions(&installs, "product_categories", IdKind::Hex)?;
        out.attributes = inclusions(&installs, "product_attributes", IdKind::Integer)?;
    }
    if let Some(hierarchy) = filters.object("corporate_hierarchy")? {
        hierarchy.only(&["is_global_headquarters", "is_domestic_parent"])?;
        out.is_global_hq = hierarchy.boolean("is_global_headquarters")?;
        out.is_domestic_parent = hierarchy.boolean("is_domestic_parent")?;
    }
    if let Some(identifiers) = filters.object("company_identifiers")? {
        identifiers.only(&["company_ids"])?;
        out.company_ids = inclusions(&identifiers, "company_ids", IdKind::Hex)?;
    }
    Ok(out)
}

/// A filter given as one inclusion object or as an array of them (each its own condition).
fn inclusions(obj: &Obj, key: &str, kind: IdKind) -> Result<Vec<Inclusion>, ApiError> {
    let pointer = obj.pointer(key);
    match obj.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, item)| inclusion(item, &format!("{pointer}/{i}"), kind, false)).collect()
        }
        Some(item) => Ok(vec![inclusion(item, &pointer, kind, false)?]),
    }
}

fn range(obj: &Obj, key: &str) -> Result<Option<Range>, ApiError> {
    match obj.object(key)? {
        None => Ok(None),
        Some(r) => {
            r.only(&["min", "max"])?;
            Ok(Some((r.number("min")?, r.number("max")?)))
        }
    }
}

fn holds(data: &DataSet, c: &Conditions, index: u32) -> bool {
    let company = data.company(index);
    let all = |list: &[Inclusion], values: &dyn Fn() -> Vec<FilterId>| {
        list.is_empty() || {
            let values = values();
            list.iter().all(|f| f.admits(&values))
        }
    };
    let in_range = |r: Option<Range>, v: Option<i64>| match r {
        None => true,
        Some((min, max)) => v.is_some_and(|v| min.is_none_or(|m| v as f64 >= m) && max.is_none_or(|m| v as f64 <= m)),
    };
    c.is_global_hq.is_none_or(|want| want == (company.level == CompanyLevel::GlobalHq))
        && c.is_domestic_parent.is_none_or(|want| want == (company.level != CompanyLevel::Site))
        && in_range(c.employees, company.employees)
        && in_range(c.revenue, company.revenue)
        && all(&c.countries, &|| vec![FilterId::Code(company.country().code.to_string())])
        && all(&c.regions, &|| vec![FilterId::Code(company.country().region.to_string())])
        && all(&c.industries, &|| company.industry().map(|i| FilterId::Int(i.id)).into_iter().collect())
        && all(&c.company_ids, &|| vec![FilterId::Hex(company.id)])
        && all(&c.products, &|| installed(data, index, |p, _| vec![FilterId::Int(p.id)]))
        && all(&c.vendors, &|| {
            installed(data, index, |p, d| vec![FilterId::Int(d.catalog.vendors[p.vendor as usize].id)])
        })
        && all(&c.attributes, &|| {
            installed(data, index, |p, _| {
                p.attributes.iter().map(|&a| FilterId::Int(ATTRIBUTES[a as usize].0)).collect()
            })
        })
        && all(&c.categories, &|| {
            installed(data, index, |p, d| {
                d.catalog
                    .category_path(p.category)
                    .into_iter()
                    .map(|k| FilterId::Hex(d.catalog.categories[k as usize].id))
                    .collect()
            })
        })
}

/// The ids of everything a company has installed, as `ids_of` reads them from each product.
fn installed(data: &DataSet, company: u32, ids_of: impl Fn(&Product, &DataSet) -> Vec<FilterId>) -> Vec<FilterId> {
    let mut out: Vec<FilterId> = Vec::new();
    for install in data.installs_of(company) {
        for id in ids_of(&data.catalog.products[install.product as usize], data) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}
