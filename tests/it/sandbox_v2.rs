//! The sandbox's HG v2 (docs/hg-api-v2.md): the same data set as v1 behind v2's paths, shapes,
//! batch sizes and credit rules, and the switches that bend it where the real API may. The
//! expected values come from the v1 endpoints and the data set, not from the v2 code.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::support::{Api, padded, sandbox};
use hgsql::sandbox::Sandbox;

/// `n` companies with installs and spend, as upper-case hex without padding.
fn ids_with_data(sandbox: &Sandbox, n: usize) -> Vec<String> {
    let data = sandbox.data();
    (0..data.companies.len() as u32)
        .filter(|&c| !data.installs_of(c).is_empty() && !data.spend_of(c).is_empty())
        .take(n)
        .map(|c| format!("{:X}", data.company(c).id))
        .collect()
}

fn entries(reply: &Value) -> &Vec<Value> {
    reply["companies"].as_array().expect("a companies list")
}

#[tokio::test]
async fn match_takes_up_to_ten_inputs_and_answers_each_in_order() {
    let sb = sandbox(|_| {}).await;
    let (v1, v2) = (Api::new(&sb), Api::v2(&sb));
    let domain = sb.data().company(7).domain.clone();
    let best = v1.get("/company/match", &[("domain_name", &domain)]).await.data()[0]["company_id"].clone();
    let reply = v2
        .post(
            "/companies/match",
            json!({"companies": [{"domain": format!("https://www.{domain}/about")}, {"domain": "nomatch.example"},
                                 {"country": "DE", "name": " "}], "limit": 2}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answers = entries(&reply.body);
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["matches"][0]["id"], best, "v1's best match");
    assert_eq!(answers[0]["input"]["domain"], json!(format!("https://www.{domain}/about")), "the input, echoed");
    assert_eq!(answers[1]["matches"], json!([]), "no match is an empty list");
    let germans = answers[2]["matches"].as_array().unwrap();
    assert_eq!(germans.len(), 2, "country-only: that country's companies, the limit applies");
    assert!(germans.iter().all(|m| m["country_code"] == "DE"));

    let eleven: Vec<Value> = (0..11).map(|i| json!({"domain": format!("d{i}.com")})).collect();
    for (body, pointer) in [
        (json!({"companies": eleven}), "/companies"),
        (json!({"companies": []}), "/companies"),
        (json!({"companies": [{"domain": "a.com"}, {"name": ""}]}), "/companies/1"),
        (json!({"companies": [{"website": "a.com"}]}), "/companies/0/website"),
        (json!({"companies": [{"domain": "a.com"}], "limit": 11}), "/limit"),
    ] {
        let reply = v2.post("/companies/match", body.clone()).await;
        assert_eq!((reply.status.as_u16(), reply.pointer()), (422, pointer), "{body}");
    }
    let stats = v2.stats().await;
    assert_eq!(stats["endpoints"]["v2/companies/match"]["companies"], 3, "inputs counted: {stats}");
}

#[tokio::test]
async fn enrich_serves_v1s_data_under_v2s_names_leaving_unknown_companies_out() {
    let sb = sandbox(|_| {}).await;
    let (v1, v2) = (Api::new(&sb), Api::v2(&sb));
    let mut ids = ids_with_data(&sb, 3);
    ids.push("ABCDEF".into());
    let reply = v2
        .post(
            "/companies/enrich",
            json!({"companies": {"ids": ids}, "fields": ["firmographics", "technographics", "spend"]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let answers = entries(&reply.body);
    assert_eq!(answers.len(), 3, "the unknown company is left out");
    for (entry, id) in answers.iter().zip(&ids) {
        assert_eq!(padded(entry["company_id"].as_str().unwrap()), padded(id), "in input order");
        let fields = ["company_name", "domain_name", "employees_total", "industry_name"];
        let firmo =
            v1.post("/company/firmographic", json!({"company_id": id, "fields": fields})).await.data()[0].clone();
        let group = &entry["firmographics"];
        assert_eq!(padded(group["id"].as_str().unwrap()), padded(id));
        assert_eq!(group["name"], firmo["company_name"]);
        assert_eq!(group["domain"], firmo["domain_name"]);
        assert_eq!(group["employees_total"], firmo["employees_total"]);
        assert_eq!(group["industry_name"], firmo["industry_name"]);

        let installs = v1
            .post("/company/installs", json!({"filters": {"company_id": id}, "fields": ["product_id", "country_code", "product_intensity"], "limit": 100}))
            .await;
        let v1_rows: BTreeSet<String> = installs
            .data()
            .iter()
            .map(|r| format!("{}|{}|{}", r["product_id"], r["country_code"], r["product_intensity"]))
            .collect();
        let tech = &entry["technographics"];
        assert_eq!(tech["installs_count"], installs.body["count"]);
        let v2_rows: BTreeSet<String> = tech["installs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{}|{}|{}", r["product_id"], r["country_code"], r["intensity"]))
            .collect();
        assert_eq!(v2_rows, v1_rows, "the same installs, `intensity` for product_intensity");

        let spend = v1.post("/company/spend", json!({"filters": {"company_id": id}, "limit": 100})).await;
        assert_eq!(entry["spend"]["all_count"], spend.body["count"]);
    }
    let stats = v2.stats().await;
    let enrich = &stats["endpoints"]["v2/companies/enrich"];
    assert_eq!(enrich["companies"], 4, "{stats}");
    assert_eq!(enrich["groups"], json!({"firmographics": 3, "technographics": 3, "spend": 3}));

    // Filters and pages apply per company; the count is the filtered total.
    let id = &ids[0];
    let all = v2.post("/companies/enrich", json!({"companies": {"ids": [id]}, "fields": ["technographics"]})).await;
    let every: Vec<Value> = all.body["companies"][0]["technographics"]["installs"].as_array().unwrap().clone();
    let product = every[0]["product_id"].clone();
    let filtered = v2
        .post(
            "/companies/enrich",
            json!({"companies": {"ids": [id]}, "fields": ["technographics"],
                                          "filters": {"technographics": {"products": {"ids": [product]}}}}),
        )
        .await;
    let kept = &filtered.body["companies"][0]["technographics"];
    let want = every.iter().filter(|r| r["product_id"] == product).count();
    assert_eq!(kept["installs_count"], want);
    assert!(kept["installs"].as_array().unwrap().iter().all(|r| r["product_id"] == product));
    if every.len() > 2 {
        let paged = v2
            .post(
                "/companies/enrich",
                json!({"companies": {"ids": [id]}, "fields": ["technographics"],
                                              "pagination": {"technographics": {"limit": 1, "offset": 1}}}),
            )
            .await;
        let tech = &paged.body["companies"][0]["technographics"];
        assert_eq!(tech["installs"], json!([every[1].clone()]), "the second row, alone");
        assert_eq!(tech["installs_count"], every.len());
    }
    // By domain: the domain's best company.
    let domain = sb.data().company(7).domain.clone();
    let best = v1.get("/company/match", &[("domain_name", &domain)]).await.data()[0]["company_id"].clone();
    let by_domain =
        v2.post("/companies/enrich", json!({"companies": {"domains": [domain]}, "fields": ["firmographics"]})).await;
    assert_eq!(by_domain.body["companies"][0]["company_id"], best);
}

#[tokio::test]
async fn credits_are_charged_once_per_company_and_group_and_v1_keeps_its_own() {
    let sb = sandbox(|c| c.credits = Some(100)).await;
    let v2 = Api::v2(&sb);
    let ids = ids_with_data(&sb, 4);
    let body = json!({"companies": {"ids": ids}, "fields": ["firmographics", "technographics"]});
    let estimate = v2.post("/companies/enrich/estimate", body.clone()).await;
    assert_eq!(estimate.body, json!({"credits_estimate": 8}), "4 companies × 2 groups");
    assert_eq!(v2.post("/companies/enrich", body.clone()).await.status, 200);
    let credits = v2.get("/credits", &[]).await;
    assert_eq!(credits.body, json!({"credits": {"total": 100, "used": 8, "remaining": 92}}));
    assert_eq!(v2.post("/companies/enrich/estimate", body.clone()).await.body["credits_estimate"], 0);
    assert_eq!(v2.post("/companies/enrich", body).await.status, 200, "asking again is free");
    assert_eq!(v2.get("/credits", &[]).await.body["credits"]["remaining"], 92);
    assert_eq!(sb.stats()["credits_remaining"], 100, "v1's balance is its own");

    let broke = sandbox(|c| c.credits = Some(0)).await;
    let v2 = Api::v2(&broke);
    for reply in
        [v2.get("/credits", &[]).await, v2.post("/companies/match", json!({"companies": [{"domain": "a.com"}]})).await]
    {
        assert_eq!(reply.status, 402, "free endpoints need a positive balance: {}", reply.body);
    }
}

#[tokio::test]
async fn switches_bend_v2_where_the_real_api_may() {
    let sb = sandbox(|c| {
        c.v2.max_batch = 3;
        c.v2.shuffled = true;
        c.v2.stubs = true;
        c.v2.old_spellings = true;
    })
    .await;
    let v2 = Api::v2(&sb);
    let ids = ids_with_data(&sb, 4);
    let too_many = v2.post("/companies/enrich", json!({"companies": {"ids": ids}, "fields": ["firmographics"]})).await;
    assert_eq!((too_many.status.as_u16(), too_many.pointer()), (422, "/companies/ids"));
    let asked = vec![ids[0].clone(), "ABCDEF".to_string(), ids[1].clone()];
    let reply = v2
        .post("/companies/enrich", json!({"companies": {"ids": asked}, "fields": ["firmographics", "technographics"]}))
        .await;
    let answers = entries(&reply.body);
    let by_id: BTreeMap<String, &Value> =
        answers.iter().map(|e| (padded(e["company_id"].as_str().unwrap()), e)).collect();
    assert_eq!(by_id.len(), 3);
    let stub = by_id[&padded("ABCDEF")];
    assert_eq!((&stub["firmographics"], &stub["technographics"]), (&Value::Null, &Value::Null), "a stub");
    let known = by_id[&padded(&ids[0])];
    assert!(known["firmographics"]["url"].is_string() && known["firmographics"].get("domain").is_none());
    assert!(known["firmographics"]["city"].is_string());
    let install = &known["technographics"]["installs"][0];
    assert!(
        install["product"].is_string()
            && install["product_intensity"].is_number()
            && install.get("intensity").is_none()
    );
    // Shuffled: the same entries, not in the order asked (for these ids).
    let order: Vec<String> = answers.iter().map(|e| padded(e["company_id"].as_str().unwrap())).collect();
    let input: Vec<String> = asked.iter().map(|i| padded(i)).collect();
    assert_ne!(order, input, "the switch changes the order");
}

#[tokio::test]
async fn keys_and_versions_do_not_cross() {
    let sb = sandbox(|c| c.deny = vec![hgsql::sandbox::Endpoint::Installs]).await;
    let v1_key = format!("Bearer {}", sb.key());
    let v2_key = format!("Bearer {}", sb.key_v2());
    let on_v2 = Api::v2(&sb).with_auth(Some(&v1_key));
    assert_eq!(on_v2.post("/companies/match", json!({"companies": [{"domain": "a.com"}]})).await.status, 401);
    let on_v1 = Api::new(&sb).with_auth(Some(&v2_key));
    assert_eq!(on_v1.get("/company/match", &[("domain_name", "a.com")]).await.status, 401);

    let v2 = Api::v2(&sb);
    let ids = ids_with_data(&sb, 1);
    let denied = v2
        .post("/companies/enrich", json!({"companies": {"ids": ids}, "fields": ["firmographics", "technographics"]}))
        .await;
    assert_eq!(denied.status, 401);
    assert!(denied.detail().contains("field group: technographics"), "{}", denied.detail());
    let allowed = v2.post("/companies/enrich", json!({"companies": {"ids": ids}, "fields": ["firmographics"]})).await;
    assert_eq!(allowed.status, 200, "the groups the key has still work");

    let only_v1 = sandbox(|c| c.api = hgsql::sandbox::Versions::parse("v1").unwrap()).await;
    let reply = Api::v2(&only_v1).post("/companies/match", json!({"companies": [{"domain": "a.com"}]})).await;
    assert_eq!(reply.status, 404, "v2 is not served");
}

#[tokio::test]
async fn search_intent_and_the_catalog_serve_v1s_data_under_v2s_shapes() {
    let sb = sandbox(|_| {}).await;
    let (v1, v2) = (Api::new(&sb), Api::v2(&sb));
    let filters = json!({"firmographics": {"country_codes": [{"ids": ["DE"], "inclusion_method": "ANY_PRESENT"}]}});
    let old = v1
        .post("/company/search", json!({"fields": ["company_id", "company_name"], "filters": filters, "limit": 40}))
        .await;
    let new = v2.post("/companies/search", json!({"filters": filters, "limit": 40})).await;
    assert_eq!(new.status, 200, "{}", new.body);
    assert_eq!(new.body["count"], old.body["count"], "the same companies fit");
    let ids = |rows: &Vec<Value>, key: &str| -> Vec<String> {
        rows.iter().map(|r| padded(r[key].as_str().unwrap())).collect()
    };
    assert_eq!(ids(new.body["companies"].as_array().unwrap(), "id"), ids(old.data(), "company_id"), "in v1's order");
    assert_eq!(new.body["companies"][0]["name"], old.data()[0]["company_name"]);
    let default = v2.post("/companies/search", json!({"filters": filters})).await;
    assert_eq!(default.body["companies"].as_array().unwrap().len(), 25, "25 a page by default");
    assert_eq!(v2.post("/companies/search", json!({"limit": 101})).await.pointer(), "/limit");

    // Intent: v1's topics of the company, in v1's order, under v2's names.
    let data = sb.data();
    let company =
        (0..data.companies.len() as u32).find(|&c| data.intent_of(c).len() > 3).expect("a company with intent");
    let id = format!("{:X}", data.company(company).id);
    let topics_v1 = v1
        .post(
            "/company/intent",
            json!({"filters": {"company_id": id}, "fields": ["topic_id", "topic_name", "signal_strength"]}),
        )
        .await;
    let by_domain = data.company(company).domain.clone();
    let topics_v2 = v2.post("/intent/enrich", json!({"company": {"domain": by_domain}, "limit": 2, "offset": 1})).await;
    assert_eq!(topics_v2.status, 200, "{}", topics_v2.body);
    let page = &topics_v2.body["topics"];
    assert_eq!(page["count"], topics_v1.body["count"]);
    for (new, old) in page["data"].as_array().unwrap().iter().zip(&topics_v1.data()[1..3]) {
        assert_eq!((&new["name"], &new["score"]), (&old["topic_name"], &old["signal_strength"]));
        let level = match old["signal_strength"].as_i64().unwrap() {
            85.. => "HIGH",
            60..=84 => "MEDIUM",
            _ => "LOW",
        };
        assert_eq!(new["signal_level"], level);
    }
    assert_eq!(padded(topics_v2.body["company"]["id"].as_str().unwrap()), padded(&id));

    // The catalog: v1's paths and shapes under the v2 base.
    for path in ["/catalog/products", "/catalog/vendors", "/catalog/product-categories"] {
        let (a, b) = (v1.get(path, &[("limit", "7")]).await, v2.get(path, &[("limit", "7")]).await);
        assert_eq!((b.status.as_u16(), &b.body), (200, &a.body), "{path}");
    }
    let stats = v2.stats().await;
    assert_eq!(stats["endpoints"]["v2/intent/enrich"]["groups"]["intent"], 1, "{stats}");
}

#[tokio::test]
async fn functional_areas_are_charged_once_per_company_and_product() {
    let sb = sandbox(|c| c.credits = Some(1_000)).await;
    let v2 = Api::v2(&sb);
    let data = sb.data();
    let company = (0..data.companies.len() as u32)
        .find(|&c| {
            let products: BTreeSet<u32> = data.installs_of(c).iter().map(|i| i.product).collect();
            products.len() >= 3
        })
        .expect("a company using three products");
    let id = format!("{:X}", data.company(company).id);
    let used: BTreeSet<i64> =
        data.installs_of(company).iter().map(|i| data.catalog.products[i.product as usize].id).collect();
    let two: Vec<i64> = used.iter().take(2).copied().collect();
    let body = json!({"company": {"id": id}, "filters": {"products": {"ids": two}}});
    let estimate = v2.post("/companies/functional-areas/estimate", body.clone()).await;
    assert_eq!(estimate.body, json!({"credits_estimate": 2}), "one per product with areas");
    let reply = v2.post("/companies/functional-areas", body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rows = reply.body["data"].as_array().unwrap();
    assert_eq!(reply.body["count"], rows.len());
    assert!(!rows.is_empty() && rows.iter().all(|r| two.contains(&r["product_id"].as_i64().unwrap())));
    for row in rows {
        for key in ["department", "role", "country_code", "product_name"] {
            assert!(row[key].is_string(), "{key}: {row}");
        }
        assert!(row["decision_maker_titles"].as_array().is_some_and(|t| !t.is_empty()));
        assert!(row["influencer_titles"].as_array().is_some_and(|t| !t.is_empty()));
        assert!((1..=100).contains(&row["signal_strength"].as_i64().unwrap()));
    }
    assert_eq!(v2.get("/credits", &[]).await.body["credits"]["used"], 2);
    assert_eq!(v2.post("/companies/functional-areas", body.clone()).await.body, reply.body, "the same every time");
    assert_eq!(v2.get("/credits", &[]).await.body["credits"]["used"], 2, "asking again is free");
    let paged = v2.post("/companies/functional-areas", json!({"company": {"id": id}, "limit": 1, "offset": 1})).await;
    assert_eq!(paged.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(v2.post("/companies/functional-areas", json!({"company": {}})).await.pointer(), "/company");
}
