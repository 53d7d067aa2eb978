//! Every endpoint of the sandbox over real HTTP: shapes and types, paging, sorts, filters and
//! the validation rules of docs/hg-api.md.

use std::collections::{BTreeSet, HashSet};

use hgsql::sandbox::data::{CompanyLevel, DataSet, name_words};
use serde_json::{Value, json};

use crate::support::{Api, padded, sandbox};

fn emitted(id: u128) -> String {
    format!("{id:X}")
}

/// A company with at least `n` installs.
fn company_with_installs(data: &DataSet, n: usize) -> u128 {
    let i = (0..data.companies.len() as u32).find(|&i| data.installs_of(i).len() >= n).expect("such a company");
    data.company(i).id
}

/// Global HQ of a family with at least three members and a domestic HQ abroad.
fn big_family(data: &DataSet) -> (u32, Vec<u32>) {
    for (i, c) in data.companies.iter().enumerate() {
        if c.level != CompanyLevel::GlobalHq {
            continue;
        }
        let members: Vec<u32> =
            (0..data.companies.len() as u32).filter(|&m| data.company(m).global_hq == i as u32).collect();
        if members.len() >= 3 && members.iter().any(|&m| data.company(m).level == CompanyLevel::DomesticHq) {
            return (i as u32, members);
        }
    }
    panic!("no big family in the data set")
}

#[tokio::test]
async fn match_by_domain_normalises_and_ranks_the_global_hq_first() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let (ghq, members) = big_family(sb.data());
    let domain = sb.data().company(ghq).domain_normalized.clone();
    for variant in [
        domain.clone(),
        format!("https://www.{}/about?x=1", domain.to_uppercase()),
        format!("{domain}."),
        format!("http://{domain}:443/"),
    ] {
        let reply = api.get("/company/match", &[("domain_name", &variant), ("limit", "10")]).await;
        assert_eq!(reply.status, 200, "{variant}");
        assert_eq!(reply.body["count"], json!(members.len()), "{variant}");
        let rows = reply.data();
        assert_eq!(rows.len(), members.len().min(10));
        assert_eq!(rows[0]["company_id"], json!(emitted(sb.data().company(ghq).id)), "global HQ first for {variant}");
        for row in rows {
            let keys: BTreeSet<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["company_id", "company_name", "domain_name"]),
                "no score field is promised"
            );
        }
    }
    let one = api.get("/company/match", &[("domain_name", &domain)]).await;
    assert_eq!(one.data().len(), 1, "limit defaults to 1");
}

#[tokio::test]
async fn match_by_name_ignores_case_and_legal_forms() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let data = sb.data();
    // A global HQ whose name words no other company shares.
    let target = data
        .companies
        .iter()
        .find(|c| {
            c.level == CompanyLevel::GlobalHq
                && data.companies.iter().filter(|o| name_words(&o.name) == name_words(&c.name)).count() == 1
        })
        .expect("a uniquely named company");
    let bare = name_words(&target.name).join(" ").to_uppercase();
    let reply = api.get("/company/match", &[("company_name", &format!("{bare} Inc")), ("limit", "10")]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.data()[0]["company_id"], json!(emitted(target.id)), "query {bare} Inc for {}", target.name);
    let none = api.get("/company/match", &[("company_name", "Zzyzx Nonexistent Widgets")]).await;
    assert_eq!((none.status.as_u16(), none.body["count"].clone(), none.data().len()), (200, json!(0), 0));
}

#[tokio::test]
async fn match_country_narrows_to_that_country() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let data = sb.data();
    let (ghq, members) = big_family(data);
    let abroad = members.iter().map(|&m| data.company(m)).find(|c| c.level == CompanyLevel::DomesticHq).unwrap();
    let code = abroad.country().code;
    let reply = api
        .get(
            "/company/match",
            &[("domain_name", &data.company(ghq).domain), ("country_code", &code.to_lowercase()), ("limit", "10")],
        )
        .await;
    let expected = members.iter().filter(|&&m| data.company(m).country().code == code).count();
    assert_eq!(reply.body["count"], json!(expected));
    for row in reply.data() {
        let firmo = api
            .post("/company/firmographic", json!({"company_id": row["company_id"], "fields": ["country_code"]}))
            .await;
        assert_eq!(firmo.data()[0]["country_code"], json!(code));
    }
}

#[tokio::test]
async fn match_rejects_what_the_contract_forbids() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    for (query, pointer) in [
        (vec![], "/domain_name"),
        (vec![("domain_name", "  ")], "/domain_name"),
        (vec![("domain_name", "a.com"), ("limit", "11")], "/limit"),
        (vec![("domain_name", "a.com"), ("limit", "0")], "/limit"),
        (vec![("domain_name", "a.com"), ("limit", "x")], "/limit"),
        (vec![("domain_name", "a.com"), ("limit", "1"), ("limit", "100")], "/limit"),
        (vec![("domain", "a.com")], "/domain"),
    ] {
        let reply = api.get("/company/match", &query).await;
        assert_eq!(reply.status, 422, "{query:?}");
        assert_eq!(reply.pointer(), pointer, "{query:?}");
        assert!(!reply.detail().is_empty());
    }
}

/// The firmographic fields of docs/hg-api.md §3.2 with the JSON type each must have.
const FIRMOGRAPHIC_TYPES: &[(&str, &str)] = &[
    ("company_id", "string"),
    ("company_name", "string"),
    ("domain_name", "string"),
    ("domain_name_normalized", "string"),
    ("company_level", "string"),
    ("city_name", "string"),
    ("state_name", "string"),
    ("postal_code", "string"),
    ("country_name", "string"),
    ("country_code", "string"),
    ("continent_name", "string"),
    ("subcontinent_name", "string"),
    ("geopolitical_name", "string"),
    ("industry_id", "integer"),
    ("industry_name", "string"),
    ("naics_code", "string"),
    ("naics_name", "string"),
    ("sic_codes", "list"),
    ("sic_names", "list"),
    ("revenue_total", "integer"),
    ("revenue_band", "string"),
    ("employees_total", "integer"),
    ("employees_band", "string"),
    ("it_spend", "integer"),
    ("forbes_2000_rank", "integer"),
    ("fortune_500_rank", "integer"),
    ("global_hq_company_name", "string"),
    ("global_hq_domain_name", "string"),
    ("global_hq_domain_name_normalized", "string"),
    ("global_hq_hg_id", "string"),
    ("global_hq_city_name", "string"),
    ("global_hq_state_name", "string"),
    ("global_hq_postal_code", "string"),
    ("global_hq_country_name", "string"),
    ("global_hq_country_code", "string"),
    ("global_hq_subcontinent_name", "string"),
    ("global_hq_continent_name", "string"),
    ("global_hq_geopolitical_name", "string"),
    ("global_hq_employees_band", "string"),
    ("global_hq_revenue_band", "string"),
    ("global_hq_industry_id", "integer"),
    ("global_hq_industry_name", "string"),
    ("global_hq_naics_code", "string"),
    ("global_hq_naics_name", "string"),
    ("global_hq_sic_codes", "list"),
    ("global_hq_sic_names", "list"),
    ("global_hq_forbes_2000_rank", "integer"),
    ("global_hq_fortune_500_rank", "integer"),
];

/// Checks each row's fields against their documented JSON types, and that every field has a
/// value in at least one row, so a field the server never fills cannot pass as "null".
fn assert_typed(rows: &[Value], types: &[(&str, &str)]) {
    assert!(!rows.is_empty());
    for (field, kind) in types {
        for row in rows {
            assert!(has_type(&row[*field], kind), "{field} should be {kind}: {}", row[*field]);
        }
        assert!(rows.iter().any(|r| !r[*field].is_null()), "{field} is null in all {} rows", rows.len());
    }
}

fn has_type(value: &Value, kind: &str) -> bool {
    value.is_null()
        || match kind {
            "string" => value.is_string(),
            "integer" => value.is_i64(),
            "number" => value.is_number(),
            "list" => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
            _ => false,
        }
}

#[tokio::test]
async fn firmographic_returns_every_documented_field_with_its_type() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let fields: Vec<&str> = FIRMOGRAPHIC_TYPES.iter().map(|(f, _)| *f).collect();
    let (ghq, members) = big_family(sb.data());
    let mut rows = Vec::new();
    let mut nulls_seen = HashSet::new();
    let mut levels_seen = HashSet::new();
    for company in sb.data().companies.iter().take(400) {
        let reply =
            api.post("/company/firmographic", json!({"company_id": emitted(company.id), "fields": fields})).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["count"], json!(1));
        let row = reply.data()[0].clone();
        assert_eq!(row.as_object().unwrap().len(), fields.len());
        nulls_seen.extend(fields.iter().filter(|f| row[**f].is_null()).copied());
        levels_seen.insert(row["company_level"].as_str().unwrap().to_string());
        assert!(row["domain_name_normalized"].as_str().unwrap().len() <= row["domain_name"].as_str().unwrap().len());
        rows.push(row);
    }
    assert_typed(&rows, FIRMOGRAPHIC_TYPES);
    assert_eq!(levels_seen, HashSet::from(["GLOBAL_HQ".to_string(), "DOMESTIC_HQ".to_string(), "SITE".to_string()]));
    for optional in ["postal_code", "fortune_500_rank", "it_spend"] {
        assert!(nulls_seen.contains(optional), "{optional} is sometimes null");
    }
    // Every member names its global HQ.
    let ghq_id = emitted(sb.data().company(ghq).id);
    for m in members {
        let reply = api.post("/company/firmographic", json!({"company_id": emitted(sb.data().company(m).id), "fields": ["global_hq_hg_id", "domain_name_normalized"]})).await;
        assert_eq!(reply.data()[0]["global_hq_hg_id"], json!(ghq_id));
    }
}

#[tokio::test]
async fn firmographic_defaults_unknown_ids_and_errors() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let id = emitted(sb.data().companies[0].id);
    let reply = api.post("/company/firmographic", json!({"company_id": id})).await;
    let keys: BTreeSet<&str> = reply.data()[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["company_id", "company_name", "domain_name"]));
    let unknown = api.post("/company/firmographic", json!({"company_id": "0123456789ABCDEF0123456789ABCDEF"})).await;
    assert_eq!((unknown.status.as_u16(), unknown.body.clone()), (200, json!({"count": 0, "data": []})));
    for (body, pointer) in [
        (json!({"company_id": id, "fields": ["company_name", "ceo_name"]}), "/fields/1"),
        (json!({"company_id": id, "fields": []}), "/fields"),
        (json!({"company_id": "NOT-HEX"}), "/company_id"),
        (json!({"company_id": "1".repeat(33)}), "/company_id"),
        (json!({"company_id": 42}), "/company_id"),
        (json!({"fields": ["company_name"]}), "/company_id"),
        (json!({"company_ids": [id]}), "/company_ids"),
        (json!({"filters": {"company_id": id}}), "/filters"),
        (json!([id]), ""),
    ] {
        let reply = api.post("/company/firmographic", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}");
        assert_eq!(reply.pointer(), pointer, "{body}");
        assert_eq!(reply.body["errors"][0]["title"], json!("Unprocessable Entity"));
    }
}

#[tokio::test]
async fn ids_with_leading_zeros_are_emitted_unpadded_and_accepted_in_every_form() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let company = sb.data().companies.iter().find(|c| emitted(c.id).len() < 32).expect("an id starting with 0");
    let short = emitted(company.id);
    let mut answers = Vec::new();
    for form in [short.clone(), padded(&short), short.to_lowercase(), padded(&short).to_lowercase()] {
        let reply = api
            .post("/company/firmographic", json!({"company_id": form, "fields": ["company_id", "company_name"]}))
            .await;
        assert_eq!(reply.data()[0]["company_id"], json!(short), "emitted unpadded");
        answers.push(reply.body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let matched = api.get("/company/match", &[("domain_name", &company.domain), ("limit", "10")]).await;
    assert!(matched.data().iter().any(|r| r["company_id"] == json!(short)));
    let shorter = sb.data().companies.iter().filter(|c| emitted(c.id).len() < 31).count();
    assert!(shorter > 0, "some ids lose two or more digits");
}

async fn all_installs(api: &Api, id: &str, page: usize, extra: Value) -> (usize, Vec<Value>) {
    let mut rows = Vec::new();
    loop {
        let mut body = json!({"fields": ["product_id", "product_name", "vendor_id", "product_intensity", "country_code", "product_category_level1_name"],
                              "filters": {"company_id": id}, "limit": page, "offset": rows.len()});
        for (k, v) in extra.as_object().unwrap() {
            if k == "filters" {
                for (fk, fv) in v.as_object().unwrap() {
                    body["filters"][fk] = fv.clone();
                }
            } else {
                body[k] = v.clone();
            }
        }
        let reply = api.post("/company/installs", body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let count = reply.body["count"].as_u64().unwrap() as usize;
        let data = reply.data().clone();
        let done = data.len() < page;
        rows.extend(data);
        if done {
            assert_eq!(rows.len(), count, "count is the total");
            return (count, rows);
        }
    }
}

#[tokio::test]
async fn installs_page_sort_and_keep_count_as_total() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let id = emitted(company_with_installs(sb.data(), 12));
    let (count, by_five) = all_installs(&api, &id, 5, json!({})).await;
    let (_, by_hundred) = all_installs(&api, &id, 100, json!({})).await;
    assert!(count >= 12);
    assert_eq!(by_five, by_hundred, "pages concatenate to the full list");
    // Default order: intensity descending, then product id ascending.
    let keys: Vec<(i64, i64)> = by_hundred
        .iter()
        .map(|r| (-r["product_intensity"].as_i64().unwrap(), r["product_id"].as_i64().unwrap()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    let past = api.post("/company/installs", json!({"filters": {"company_id": id}, "offset": count + 5})).await;
    assert_eq!(past.body["count"], json!(count));
    assert!(past.data().is_empty());
    let (_, by_name) =
        all_installs(&api, &id, 100, json!({"sorts": [{"field": "product_name", "direction": "ASC"}]})).await;
    let names: Vec<&str> = by_name.iter().map(|r| r["product_name"].as_str().unwrap()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    let (_, by_id_desc) =
        all_installs(&api, &id, 100, json!({"sorts": [{"field": "product_id", "direction": "DESC"}]})).await;
    assert!(by_id_desc.windows(2).all(|w| w[0]["product_id"].as_i64() >= w[1]["product_id"].as_i64()));
}

#[tokio::test]
async fn installs_filters_any_none_country_vendor_category() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let id = emitted(company_with_installs(sb.data(), 15));
    let (total, all) = all_installs(&api, &id, 100, json!({})).await;
    let products: Vec<i64> = all.iter().take(3).map(|r| r["product_id"].as_i64().unwrap()).collect();
    let (any_count, any) = all_installs(
        &api,
        &id,
        100,
        json!({"filters": {"products": {"ids": products, "inclusion_method": "ANY_PRESENT"}}}),
    )
    .await;
    assert!(any.iter().all(|r| products.contains(&r["product_id"].as_i64().unwrap())));
    assert_eq!(any_count, all.iter().filter(|r| products.contains(&r["product_id"].as_i64().unwrap())).count());
    let (none_count, none) = all_installs(
        &api,
        &id,
        100,
        json!({"filters": {"products": {"ids": products, "inclusion_method": "NONE_PRESENT"}}}),
    )
    .await;
    assert!(none.iter().all(|r| !products.contains(&r["product_id"].as_i64().unwrap())));
    assert_eq!(any_count + none_count, total);
    let country = all[0]["country_code"].as_str().unwrap();
    let (_, in_country) = all_installs(
        &api,
        &id,
        100,
        json!({"filters": {"country_codes": {"ids": [country], "inclusion_method": "ANY_PRESENT"}}}),
    )
    .await;
    assert_eq!(in_country.len(), all.iter().filter(|r| r["country_code"] == json!(country)).count());
    let vendor = all[0]["vendor_id"].as_i64().unwrap();
    let (_, of_vendor) = all_installs(
        &api,
        &id,
        100,
        json!({"filters": {"vendors": {"ids": [vendor], "inclusion_method": "ANY_PRESENT"}}}),
    )
    .await;
    assert_eq!(of_vendor.len(), all.iter().filter(|r| r["vendor_id"] == json!(vendor)).count());
    // A top-level category id matches every product below it.
    let root = sb
        .data()
        .catalog
        .categories
        .iter()
        .find(|c| c.level == 1 && c.name == all[0]["product_category_level1_name"].as_str().unwrap())
        .unwrap();
    let (_, in_root) = all_installs(
        &api,
        &id,
        100,
        json!({"filters": {"product_categories": {"ids": [emitted(root.id)], "inclusion_method": "ANY_PRESENT"}}}),
    )
    .await;
    assert_eq!(in_root.len(), all.iter().filter(|r| r["product_category_level1_name"] == json!(root.name)).count());
}

#[tokio::test]
async fn installs_fields_have_their_documented_types() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let fields = [
        ("product_id", "integer"),
        ("product_name", "string"),
        ("product_description", "string"),
        ("vendor_id", "integer"),
        ("vendor_name", "string"),
        ("vendor_domain_name", "string"),
        ("product_category_id", "string"),
        ("product_category_level1_name", "string"),
        ("product_category_level2_name", "string"),
        ("product_category_level3_name", "string"),
        ("product_category_level4_name", "string"),
        ("product_category_level5_name", "string"),
        ("product_attributes", "list"),
        ("product_first_verified_date", "string"),
        ("product_last_verified_date", "string"),
        ("product_intensity", "integer"),
        ("product_locations", "list"),
        ("country_code", "string"),
    ];
    let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
    let mut rows = Vec::new();
    for chunk in sb.data().companies.chunks(25).take(20) {
        let ids: Vec<String> = chunk.iter().map(|c| emitted(c.id)).collect();
        let body = json!({"fields": names, "filters": {"company_ids": ids}, "limit": 100});
        rows.extend(api.post("/company/installs", body).await.data().iter().cloned());
    }
    assert_typed(&rows, &fields);
    let one = emitted(company_with_installs(sb.data(), 1));
    let single = api.post("/company/installs", json!({"filters": {"company_id": one}})).await;
    assert!(single.data()[0].get("company_id").is_none(), "company_id is not a field of single-company installs");
    for row in &rows {
        assert!((0..=365).contains(&row["product_intensity"].as_i64().unwrap()));
        let first = row["product_first_verified_date"].as_str().unwrap();
        let last = row["product_last_verified_date"].as_str().unwrap();
        assert!(first.len() == 10 && first <= last && last <= "2026-11-01", "{first} {last}");
        assert!(!row["product_category_level1_name"].is_null());
    }
}

#[tokio::test]
async fn installs_batches_carry_company_id_and_equal_single_requests() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let ids: Vec<String> = sb.data().companies.iter().take(25).map(|c| emitted(c.id)).collect();
    let mut batch = Vec::new();
    loop {
        let reply = api.post("/company/installs", json!({"fields": ["product_id", "country_code"], "filters": {"company_ids": ids}, "limit": 100, "offset": batch.len()})).await;
        let page = reply.data().clone();
        batch.extend(page.iter().cloned());
        if page.len() < 100 {
            break;
        }
    }
    let batch: BTreeSet<String> = batch.iter().map(|r| r.to_string()).collect();
    let mut singles = BTreeSet::new();
    for id in &ids {
        let (_, rows) = all_installs(&api, id, 100, json!({})).await;
        for r in rows {
            singles.insert(
                json!({"company_id": id, "product_id": r["product_id"], "country_code": r["country_code"]}).to_string(),
            );
        }
    }
    assert!(!singles.is_empty());
    assert_eq!(batch, singles, "batch rows are the union of single-company rows, each with its company_id");
}

#[tokio::test]
async fn installs_validation_points_at_the_fault() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let id = emitted(sb.data().companies[0].id);
    let ids26: Vec<String> = sb.data().companies.iter().take(26).map(|c| emitted(c.id)).collect();
    for (body, pointer) in [
        (json!({"filters": {"company_id": id, "company_ids": [id]}}), "/filters/company_ids"),
        (json!({"filters": {}}), "/filters/company_id"),
        (json!({"fields": ["product_id"]}), "/filters"),
        (json!({"filters": {"company_ids": ids26}}), "/filters/company_ids"),
        (json!({"filters": {"company_ids": []}}), "/filters/company_ids"),
        (
            json!({"filters": {"company_id": id, "products": {"ids": [814], "inclusion_method": "ALL_PRESENT"}}}),
            "/filters/products/inclusion_method",
        ),
        (json!({"filters": {"company_id": id, "products": {"ids": [814]}}}), "/filters/products/inclusion_method"),
        (
            json!({"filters": {"company_id": id, "products": {"ids": ["814"], "inclusion_method": "ANY_PRESENT"}}}),
            "/filters/products/ids/0",
        ),
        (
            json!({"filters": {"company_id": id, "product": {"ids": [814], "inclusion_method": "ANY_PRESENT"}}}),
            "/filters/product",
        ),
        (json!({"filters": {"company_id": id}, "limit": 101}), "/limit"),
        (json!({"filters": {"company_id": id}, "limit": 0}), "/limit"),
        (json!({"filters": {"company_id": id}, "offset": -5}), "/offset"),
        (
            json!({"filters": {"company_id": id}, "sorts": [{"field": "company_name", "direction": "ASC"}]}),
            "/sorts/0/field",
        ),
        (
            json!({"filters": {"company_id": id}, "sorts": [{"field": "product_id", "direction": "UP"}]}),
            "/sorts/0/direction",
        ),
        (json!({"filters": {"company_id": id}, "fields": ["company_id"]}), "/fields/0"),
        (json!({"filters": {"company_id": id}, "page": 2}), "/page"),
    ] {
        let reply = api.post("/company/installs", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}");
        assert_eq!(reply.pointer(), pointer, "{body}");
    }
}

#[tokio::test]
async fn spend_batches_filters_sorts_and_pages() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let ids: Vec<String> = sb.data().companies.iter().take(5).map(|c| emitted(c.id)).collect();
    let types = [
        ("company_id", "string"),
        ("spend", "integer"),
        ("category_id", "string"),
        ("category_name", "string"),
        ("category_description", "string"),
        ("country_code", "string"),
        ("country_name", "string"),
    ];
    let fields: Vec<&str> = types.iter().map(|t| t.0).collect();
    let body = json!({"fields": fields, "filters": {"company_ids": ids}, "limit": 100,
                      "sorts": [{"field": "spend", "direction": "ASC"}]});
    let reply = api.post("/company/spend", body).await;
    assert_eq!(reply.status, 200);
    let rows = reply.data();
    assert!(rows.len() >= 15, "3 to 10 categories per company");
    assert_typed(rows, &types);
    assert!(rows.windows(2).all(|w| w[0]["spend"].as_i64() <= w[1]["spend"].as_i64()));
    // Batch rows carry company_id even when it was not asked for.
    let unasked = api.post("/company/spend", json!({"fields": ["spend"], "filters": {"company_ids": ids}})).await;
    assert!(unasked.data().iter().all(|r| ids.contains(&r["company_id"].as_str().unwrap().to_string())));
    // Default order: largest spend first; pages of 3 give the same rows.
    let one = &ids[0];
    let query = |limit: usize, offset: usize| json!({"fields": ["category_id", "spend"], "filters": {"company_id": one}, "limit": limit, "offset": offset});
    let all = api.post("/company/spend", query(100, 0)).await;
    let total = all.body["count"].as_u64().unwrap() as usize;
    assert_eq!(all.data().len(), total);
    assert!(all.data().windows(2).all(|w| w[0]["spend"].as_i64() >= w[1]["spend"].as_i64()));
    let mut paged = Vec::new();
    while paged.len() < total {
        let page = api.post("/company/spend", query(3, paged.len())).await;
        assert_eq!(page.body["count"], json!(total));
        paged.extend(page.data().iter().cloned());
    }
    assert_eq!(&paged, all.data());
    let category = rows[0]["category_id"].clone();
    let body = json!({"fields": ["category_id"], "filters": {"company_ids": ids, "category_ids": [category]}});
    let filtered = api.post("/company/spend", body).await;
    assert!(!filtered.data().is_empty());
    assert!(filtered.data().iter().all(|r| r["category_id"] == category));
    let bad = api
        .post("/company/spend", json!({"filters": {"company_id": one}, "sorts": [{"field": "category_name"}]}))
        .await;
    assert_eq!((bad.status.as_u16(), bad.pointer()), (422, "/sorts/0/field"));
}

#[tokio::test]
async fn intent_rows_types_filters_and_no_batch() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let company = (0..sb.data().companies.len() as u32).find(|&i| sb.data().intent_of(i).len() >= 5).unwrap();
    let id = emitted(sb.data().company(company).id);
    let types = [
        ("topic_id", "string"),
        ("topic_name", "string"),
        ("url", "string"),
        ("signal_strength", "integer"),
        ("signal_trend", "number"),
        ("location_strength", "integer"),
        ("buyers_journey_name", "string"),
        ("context_name_array", "list"),
        ("state_name", "string"),
        ("country_name", "string"),
        ("region_name", "string"),
        ("datestamp", "string"),
    ];
    let fields: Vec<&str> = types.iter().map(|t| t.0).collect();
    let reply =
        api.post("/company/intent", json!({"fields": fields, "filters": {"company_id": id}, "limit": 100})).await;
    assert_eq!(reply.body["count"], json!(sb.data().intent_of(company).len()));
    let rows = reply.data();
    assert!(
        rows.windows(2).all(|w| w[0]["signal_strength"].as_i64() >= w[1]["signal_strength"].as_i64()),
        "strongest first"
    );
    assert_typed(rows, &types);
    let topic = rows[0]["topic_id"].clone();
    let one = api.post("/company/intent", json!({"filters": {"company_id": id, "topic_ids": [topic]}})).await;
    assert_eq!(one.data().len(), 1);
    let batch = api.post("/company/intent", json!({"filters": {"company_ids": [id]}})).await;
    assert_eq!((batch.status.as_u16(), batch.pointer()), (422, "/filters/company_ids"));
}

#[tokio::test]
async fn search_filters_and_requires_fields() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let missing = api.post("/company/search", json!({"filters": {}})).await;
    assert_eq!((missing.status.as_u16(), missing.pointer()), (422, "/fields"));
    let body = json!({"fields": ["company_id", "company_name", "domain_name", "domain_name_normalized"],
                      "filters": {"firmographics": {"country_codes": [{"ids": ["US"], "inclusion_method": "ANY_PRESENT"}], "employees": {"min": 100, "max": 100000}},
                                  "corporate_hierarchy": {"is_global_headquarters": true}},
                      "limit": 50});
    let reply = api.post("/company/search", body).await;
    assert_eq!(reply.status, 200);
    let count = reply.body["count"].as_u64().unwrap();
    assert!(count > 50, "{count}");
    for row in reply.data() {
        let firmo = api.post("/company/firmographic", json!({"company_id": row["company_id"], "fields": ["country_code", "employees_total", "company_level"]})).await;
        let f = &firmo.data()[0];
        assert_eq!(f["country_code"], json!("US"));
        assert_eq!(f["company_level"], json!("GLOBAL_HQ"));
        assert!((100..=100_000).contains(&f["employees_total"].as_i64().unwrap()));
    }
    let users = api.post("/company/search", json!({"fields": ["company_id"], "filters": {"installs": {"products": [{"ids": [814], "inclusion_method": "ANY_PRESENT"}]}}, "limit": 10})).await;
    assert!(users.body["count"].as_u64().unwrap() > 0);
    for row in users.data() {
        let installs = api.post("/company/installs", json!({"filters": {"company_id": row["company_id"], "products": {"ids": [814], "inclusion_method": "ANY_PRESENT"}}})).await;
        assert!(installs.body["count"].as_u64().unwrap() > 0);
    }
    let bad = api.post("/company/search", json!({"fields": ["company_id"], "filters": {"firmographics": {"industries": [{"ids": [16], "inclusion_method": "SOME"}]}}})).await;
    assert_eq!((bad.status.as_u16(), bad.pointer()), (422, "/filters/firmographics/industries/0/inclusion_method"));
    let field = api.post("/company/search", json!({"fields": ["revenue_total"]})).await;
    assert_eq!((field.status.as_u16(), field.pointer()), (422, "/fields/0"));
}

#[tokio::test]
async fn catalog_lists_filter_by_name_and_page() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let sf = api.get("/catalog/products", &[("name", "SALESFORCE"), ("limit", "100")]).await;
    assert!(
        sf.data()
            .iter()
            .any(|p| p["id"] == json!(814) && p["name"] == json!("Salesforce CRM") && p["vendor_id"] == json!(316))
    );
    assert!(sf.data().iter().all(|p| p["name"].as_str().unwrap().to_lowercase().contains("salesforce")));
    let all = api.get("/catalog/products", &[("limit", "100")]).await;
    let total = all.body["count"].as_u64().unwrap();
    assert!((250..=400).contains(&total), "about 300 products: {total}");
    let last = api.get("/catalog/products", &[("limit", "100"), ("offset", &(total - 1).to_string())]).await;
    assert_eq!(last.data().len(), 1);
    let vendors = api.get("/catalog/vendors", &[("limit", "100")]).await;
    assert!((70..=100).contains(&vendors.body["count"].as_u64().unwrap()));
    let categories = api.get("/catalog/product-categories", &[("limit", "100")]).await;
    let rows = categories.data();
    assert!(rows.iter().any(|c| c["level"] == json!(1) && c["parent_id"].is_null()));
    assert!(rows.iter().any(|c| c["level"] == json!(5) && c["parent_id"].is_string()));
    let bad = api.get("/catalog/vendors", &[("q", "x")]).await;
    assert_eq!((bad.status.as_u16(), bad.pointer()), (422, "/q"));
}

#[tokio::test]
async fn malformed_json_unknown_paths_and_wrong_methods() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    for body in ["{\"company_id\": ", "", "not json"] {
        let reply = api.post_raw("/company/firmographic", body).await;
        assert_eq!(reply.status, 400, "{body:?}");
        assert_eq!(reply.body["errors"][0]["title"], json!("Bad Request"));
    }
    let unknown = api.get("/company/contacts", &[]).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.detail().contains("/company/contacts"));
    let outside = api.http.get(format!("{}/v2/companies", api.root)).send().await.unwrap();
    assert_eq!(outside.status(), 404);
    let wrong = api.get("/company/installs", &[]).await;
    assert_eq!((wrong.status.as_u16(), wrong.header("allow")), (405, "POST"));
}

#[tokio::test]
async fn search_orders_largest_first_pages_and_excludes() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let everyone = api.post("/company/search", json!({"fields": ["company_id"], "limit": 30})).await;
    let total = everyone.body["count"].as_u64().unwrap();
    assert_eq!(total, sb.data().companies.len() as u64, "no filters: every company");
    let mut revenues = Vec::new();
    for row in everyone.data() {
        let body = json!({"company_id": row["company_id"], "fields": ["revenue_total"]});
        revenues.push(api.post("/company/firmographic", body).await.data()[0]["revenue_total"].as_i64());
    }
    assert!(revenues.windows(2).all(|w| w[0] >= w[1]), "largest revenue first: {revenues:?}");
    let uses = |method: &str| json!({"fields": ["company_id"], "filters": {"installs": {"products": [{"ids": [814], "inclusion_method": method}]}}});
    let any = api.post("/company/search", uses("ANY_PRESENT")).await.body["count"].as_u64().unwrap();
    let none = api.post("/company/search", uses("NONE_PRESENT")).await.body["count"].as_u64().unwrap();
    assert!(any > 0 && none > 0);
    assert_eq!(any + none, total);
    let second = api.post("/company/search", json!({"fields": ["company_id"], "limit": 10, "offset": 10})).await;
    assert_eq!(second.data()[..], everyone.data()[10..20]);
    let past = api.post("/company/search", json!({"fields": ["company_id"], "offset": total})).await;
    assert_eq!((past.body["count"].as_u64(), past.data().len()), (Some(total), 0));
}

#[tokio::test]
async fn search_returns_at_most_25000_companies() {
    let sb = sandbox(|c| c.companies = 25_100).await;
    let api = Api::new(&sb);
    let all = api.post("/company/search", json!({"fields": ["company_id"], "limit": 100, "offset": 24_950})).await;
    assert_eq!(all.body["count"], json!(25_000));
    assert_eq!(all.data().len(), 50, "the last page stops at 25,000");
    let past = api.post("/company/search", json!({"fields": ["company_id"], "offset": 25_000})).await;
    assert!(past.data().is_empty());
}

#[tokio::test]
async fn catalog_name_filters_and_offsets_on_every_list() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let vendors = api.get("/catalog/vendors", &[("name", "micro"), ("limit", "100")]).await;
    assert_eq!(vendors.data().len(), 1);
    assert_eq!((vendors.data()[0]["id"].clone(), vendors.data()[0]["name"].clone()), (json!(102), json!("Microsoft")));
    let categories = api.get("/catalog/product-categories", &[("name", "security"), ("limit", "100")]).await;
    assert!(categories.data().len() >= 3);
    assert!(categories.data().iter().all(|c| c["name"].as_str().unwrap().to_lowercase().contains("security")));
    for path in ["/catalog/products", "/catalog/vendors", "/catalog/product-categories"] {
        let first = api.get(path, &[]).await;
        let count = first.body["count"].as_u64().unwrap();
        assert_eq!(first.data().len(), 10, "{path}: default limit 10");
        let past = api.get(path, &[("offset", &count.to_string())]).await;
        assert_eq!((past.body["count"].as_u64(), past.data().len()), (Some(count), 0), "{path}");
        let too_big = api.get(path, &[("limit", "101")]).await;
        assert_eq!((too_big.status.as_u16(), too_big.pointer()), (422, "/limit"), "{path}");
    }
}
