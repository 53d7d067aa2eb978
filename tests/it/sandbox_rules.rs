//! Authentication, rate limit, credits, entitlements, counters and determinism.

use futures::future::join_all;
use hgsql::sandbox::{DataSet, Endpoint};
use serde_json::json;

use crate::support::{Api, sandbox};

fn emitted(id: u128) -> String {
    format!("{id:X}")
}

#[tokio::test]
async fn keys_are_accepted_bare_or_bearer_and_refused_otherwise() {
    let sb = sandbox(|c| c.key = "k-123".into()).await;
    let id = emitted(sb.data().companies[0].id);
    let body = json!({"company_id": id});
    for auth in ["k-123", "Bearer k-123", "bearer k-123", "  Bearer k-123  "] {
        let reply = Api::new(&sb).with_auth(Some(auth)).post("/company/firmographic", body.clone()).await;
        assert_eq!(reply.status, 200, "{auth:?}");
    }
    for auth in [None, Some("k-12"), Some("Bearer k-1234"), Some("Basic k-123"), Some("Token k-123"), Some("")] {
        let reply = Api::new(&sb).with_auth(auth).post("/company/firmographic", body.clone()).await;
        assert_eq!(reply.status, 401, "{auth:?}");
        assert_eq!(reply.body["errors"][0]["title"], json!("Unauthorized"));
        assert!(!reply.detail().contains("k-123"), "the detail never echoes a key");
    }
    let missing = Api::new(&sb).with_auth(None).get("/company/match", &[("domain_name", "a.com")]).await;
    assert!(missing.detail().contains("missing"), "{}", missing.detail());
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let sb = sandbox(|c| c.rate = Some(25.0)).await;
    let api = Api::new(&sb);
    let replies = [
        api.get("/company/match", &[("domain_name", "a.com")]).await,
        api.get("/company/match", &[]).await,
        api.get("/nowhere", &[]).await,
        Api::new(&sb).with_auth(None).get("/company/match", &[("domain_name", "a.com")]).await,
        api.post_raw("/company/installs", "{").await,
        api.get("/company/installs", &[]).await,
    ];
    for reply in &replies {
        assert_eq!(reply.header("x-ratelimit-limit"), "25, 25;w=1", "{}", reply.status);
        let remaining: u32 = reply.header("x-ratelimit-remaining").parse().unwrap();
        assert!(remaining <= 25);
        let _: u64 = reply.header("x-ratelimit-reset").parse().unwrap();
        assert!(reply.header("x-credits-remaining").parse::<u64>().is_ok());
    }
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_429_with_headers() {
    let sb = sandbox(|c| {
        c.rate = Some(1.0);
        c.burst = 5;
    })
    .await;
    let api = Api::new(&sb);
    let replies = join_all((0..20).map(|_| api.get("/company/match", &[("domain_name", "a.com")]))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let limited: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!((5..=6).contains(&ok), "the burst passes, the rest waits: {ok} passed");
    assert_eq!(ok + limited.len(), 20);
    for reply in &limited {
        assert_eq!(reply.header("x-ratelimit-remaining"), "0");
        assert!(reply.header("x-ratelimit-reset").parse::<u64>().unwrap() >= 1);
        assert_eq!(reply.body["errors"][0]["title"], json!("Too Many Requests"));
    }
    let stats = api.stats().await;
    assert_eq!(stats["rate_limited"], json!(limited.len()));
    assert_eq!(stats["status"]["429"], json!(limited.len()));
}

#[tokio::test]
async fn credits_are_charged_once_per_company_and_run_out_with_402() {
    let sb = sandbox(|c| c.credits = Some(3)).await;
    let api = Api::new(&sb);
    let data = sb.data();
    let with_installs: Vec<String> = (0..data.companies.len() as u32)
        .filter(|&i| !data.installs_of(i).is_empty())
        .take(3)
        .map(|i| emitted(data.company(i).id))
        .collect();
    let (a, b, c) = (&with_installs[0], &with_installs[1], &with_installs[2]);
    let credits = |r: &crate::support::Reply| r.header("x-credits-remaining").to_string();

    let first = api.post("/company/firmographic", json!({"company_id": a})).await;
    assert_eq!((first.status.as_u16(), credits(&first)), (200, "2".into()));
    let again = api.post("/company/firmographic", json!({"company_id": a})).await;
    assert_eq!((again.status.as_u16(), credits(&again)), (200, "2".into()), "asking again is free");
    let other_endpoint = api.post("/company/installs", json!({"filters": {"company_id": a}})).await;
    assert_eq!(credits(&other_endpoint), "1", "each enrich endpoint charges on its own");
    let nothing_returned = api
        .post(
            "/company/installs",
            json!({"filters": {"company_id": b, "products": {"ids": [-1], "inclusion_method": "ANY_PRESENT"}}}),
        )
        .await;
    assert_eq!(
        (nothing_returned.body["count"].clone(), credits(&nothing_returned)),
        (json!(0), "1".into()),
        "no rows, no charge"
    );
    let too_many = api.post("/company/installs", json!({"filters": {"company_ids": [b, c]}, "limit": 100})).await;
    assert_eq!(too_many.status, 402);
    assert!(too_many.detail().contains("needs 2 credits"), "{}", too_many.detail());
    assert_eq!(credits(&too_many), "1", "a refused request charges nothing");
    assert_ne!(too_many.header("x-ratelimit-remaining"), "<absent>", "a 402 carries the rate headers too");
    let last = api.post("/company/firmographic", json!({"company_id": b})).await;
    assert_eq!((last.status.as_u16(), credits(&last)), (200, "0".into()));
    let exhausted = api.post("/company/firmographic", json!({"company_id": a})).await;
    assert_eq!(exhausted.status, 402);
    assert!(exhausted.detail().to_lowercase().contains("credits"));
    let free = api.get("/company/match", &[("domain_name", "a.com")]).await;
    assert_eq!(free.status, 200, "match stays free");
    let search = api.post("/company/search", json!({"fields": ["company_id"]})).await;
    assert_eq!(search.status, 200, "search stays free");
    let stats = api.stats().await;
    assert_eq!(stats["companies_charged"], json!(3));
    assert_eq!(stats["credits_remaining"], json!(0));
    assert_eq!(stats["endpoints"]["company/installs"]["companies_charged"], json!(1));

    api.http.post(format!("{}/__sandbox/reset?credits=true", api.root)).send().await.unwrap();
    let restored = api.post("/company/firmographic", json!({"company_id": a})).await;
    assert_eq!((restored.status.as_u16(), credits(&restored)), (200, "2".into()));
}

#[tokio::test]
async fn a_denied_endpoint_answers_401_naming_the_field_group() {
    let deny =
        ["installs", "match", "search", "catalog"].iter().flat_map(|e| Endpoint::parse_list(e).unwrap()).collect();
    let sb = sandbox(|c| c.deny = deny).await;
    let api = Api::new(&sb);
    let id = emitted(sb.data().companies[0].id);
    let denied = [
        (api.post("/company/installs", json!({"filters": {"company_id": id}})).await, "technographics"),
        (api.get("/company/match", &[("domain_name", "a.com")]).await, "company_match"),
        (api.post("/company/search", json!({"fields": ["company_id"]})).await, "company_search"),
        (api.get("/catalog/products", &[]).await, "catalog"),
        (api.get("/catalog/product-categories", &[]).await, "catalog"),
    ];
    for (reply, group) in denied {
        assert_eq!(reply.status, 401);
        assert_eq!(reply.detail(), format!("Access denied to field group: {group}"));
    }
    let allowed = api.post("/company/firmographic", json!({"company_id": id})).await;
    assert_eq!(allowed.status, 200);
    assert_eq!(Endpoint::parse_list("catalog").unwrap().len(), 3);
    assert_eq!(Endpoint::parse_list("firmographics"), Some(vec![Endpoint::Firmographic]));
    assert_eq!(Endpoint::parse_list("contacts"), None);
}

#[tokio::test]
async fn counters_count_calls_statuses_rows_and_reset() {
    let sb = sandbox(|_| {}).await;
    let api = Api::new(&sb);
    let ids: Vec<String> = sb.data().companies.iter().take(3).map(|c| emitted(c.id)).collect();
    for id in &ids {
        api.post("/company/firmographic", json!({"company_id": id})).await;
    }
    api.post("/company/firmographic", json!({"company_id": "zz"})).await;
    api.get("/company/match", &[("domain_name", "a.com")]).await;
    let stats = api.stats().await;
    assert_eq!(stats["requests"], json!(5));
    assert_eq!(stats["endpoints"]["company/firmographic"]["calls"], json!(4));
    assert_eq!(stats["endpoints"]["company/firmographic"]["status"], json!({"200": 3, "422": 1}));
    assert_eq!(stats["endpoints"]["company/firmographic"]["rows"], json!(3));
    assert_eq!(stats["endpoints"]["company/match"]["calls"], json!(1));
    assert!(stats["peak_in_flight"].as_u64().unwrap() >= 1);
    assert_eq!(stats["in_flight"], json!(0));
    api.reset_stats().await;
    let stats = api.stats().await;
    assert_eq!(stats["requests"], json!(0));
    assert_eq!(stats["endpoints"], json!({}));
}

#[tokio::test]
async fn peak_in_flight_sees_concurrent_requests() {
    let sb = sandbox(|c| c.latency = std::time::Duration::from_millis(200)).await;
    let api = Api::new(&sb);
    join_all((0..8).map(|_| api.get("/company/match", &[("domain_name", "a.com")]))).await;
    assert_eq!(api.stats().await["peak_in_flight"], json!(8));
}

#[tokio::test]
async fn data_is_deterministic_under_a_seed() {
    let body = json!({"fields": ["company_id", "company_name", "domain_name"], "filters": {"firmographics": {"country_codes": [{"ids": ["DE"], "inclusion_method": "ANY_PRESENT"}]}}, "limit": 100});
    let mut answers = Vec::new();
    for seed in [7, 7, 8] {
        let sb = sandbox(|c| {
            c.seed = seed;
            c.companies = 500;
        })
        .await;
        let api = Api::new(&sb);
        let search = api.post("/company/search", body.clone()).await.body;
        let id = search["data"][0]["company_id"].clone();
        let installs = api.post("/company/installs", json!({"fields": ["product_id", "product_intensity", "product_last_verified_date"], "filters": {"company_id": id}, "limit": 100})).await.body;
        answers.push((search, installs));
    }
    assert_eq!(answers[0], answers[1], "same seed, same data");
    assert_ne!(answers[0].0, answers[2].0, "another seed, other data");
    // Generation itself, not just the shared cache, is deterministic, field for field.
    let (x, y) = (DataSet::generate(11, 300), DataSet::generate(11, 300));
    assert_eq!(x.companies, y.companies);
    assert_eq!(x.installs, y.installs);
    assert_eq!(x.spend, y.spend);
    assert_eq!(x.intent, y.intent);
    assert_eq!(x.catalog.products, y.catalog.products);
    assert_eq!(x.catalog.categories, y.catalog.categories);
    assert_eq!(x.catalog.topics, y.catalog.topics);
    let other = DataSet::generate(12, 300);
    assert_ne!(x.companies, other.companies);
    assert_ne!(x.installs, other.installs);
    // A larger set starts with the smaller one's companies.
    let larger = DataSet::generate(11, 600);
    assert_eq!(
        larger.companies[..250].iter().map(|c| c.id).collect::<Vec<_>>(),
        x.companies[..250].iter().map(|c| c.id).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_default_data_set_has_the_documented_shape() {
    let data = DataSet::shared(42, 20_000);
    assert_eq!(data.companies.len(), 20_000);
    let per_company = data.installs.len() as f64 / 20_000.0;
    assert!((5.0..=25.0).contains(&per_company), "{per_company} installs per company");
    let max = (0..20_000u32).map(|i| data.installs_of(i).len()).max().unwrap();
    assert!(max <= 40);
    assert!(data.companies.iter().any(|c| !c.name.is_ascii()), "unicode names");
    assert!(data.companies.iter().any(|c| c.domain.starts_with("www.")));
    assert!(data.companies.iter().filter(|c| c.fortune_500_rank.is_some()).count() > 50);
    assert!(data.companies.iter().any(|c| c.revenue.is_none()));
}
