//! The HG client against the in-process sandbox: minimal calls, paging, retries under faults,
//! errors, secrets and where requests go.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use hgsql::api::{
    ApiKey, ClientConfig, CompanyId, EnrichRequest, Filters, HgClient, HgError, Inclusion, InclusionMethod, MatchQuery,
    RetryPolicy,
};
use hgsql::sandbox::{Endpoint as SandboxEndpoint, Sandbox};
use serde_json::{Value, json};

use crate::support::{sandbox, wait_until_async};

const KEY: &str = "hg-test-KEY-9f8e7d";

fn client(sb: &Sandbox, tweak: impl FnOnce(&mut ClientConfig)) -> HgClient {
    let mut config = ClientConfig::new(sb.base_url(), ApiKey::new(sb.key()));
    config.rate = None;
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    tweak(&mut config);
    HgClient::new(config).unwrap()
}

fn ids(sb: &Sandbox, n: usize) -> Vec<CompanyId> {
    sb.data().companies.iter().take(n).map(|c| CompanyId::parse(&format!("{:X}", c.id)).unwrap()).collect()
}

fn installs_of_product(product: i64) -> EnrichRequest {
    EnrichRequest {
        fields: Some(vec!["product_id".into(), "country_code".into()]),
        filters: Filters::default()
            .with("products", Inclusion { ids: vec![product], inclusion_method: InclusionMethod::AnyPresent }),
        sorts: Vec::new(),
    }
}

async fn collect(
    client: &HgClient,
    endpoint: hgsql::api::Endpoint,
    request: EnrichRequest,
    ids: Vec<CompanyId>,
) -> Result<HashMap<CompanyId, Vec<hgsql::api::Row>>, HgError> {
    let mut out = HashMap::new();
    let mut results = client.enrich(endpoint, request, stream::iter(ids));
    while let Some(result) = results.next().await {
        let (id, rows) = result?;
        assert!(out.insert(id, rows.to_vec()).is_none(), "each id is answered once");
    }
    Ok(out)
}

fn calls(sb: &Sandbox, endpoint: &str) -> u64 {
    sb.stats()["endpoints"][endpoint]["calls"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_thousand_companies_in_batches_of_25_make_exactly_40_calls() {
    let sb = sandbox(|_| {}).await;
    let client = client(&sb, |_| {});
    let wanted = ids(&sb, 1_000);
    let mut twice = wanted.clone();
    twice.extend(wanted.iter().cloned());
    let answers = collect(&client, hgsql::api::Endpoint::INSTALLS, installs_of_product(814), twice).await.unwrap();
    assert_eq!(answers.len(), 1_000);
    assert_eq!(calls(&sb, "company/installs"), 40, "ceil(1000 / 25), duplicates add nothing");
    assert_eq!(client.metrics().total().calls, 40);
    let expected: usize = (0..1_000u32)
        .map(|i| {
            sb.data().installs_of(i).iter().filter(|r| sb.data().catalog.products[r.product as usize].id == 814).count()
        })
        .sum();
    assert!(expected > 0);
    assert_eq!(answers.values().map(Vec::len).sum::<usize>(), expected);
    for rows in answers.values() {
        assert!(rows.iter().all(|r| r.get("product_id").and_then(|v| v.as_i64()) == Some(814)));
    }
}

#[tokio::test]
async fn pages_of_5_cost_exactly_the_pages_needed() {
    let sb = sandbox(|_| {}).await;
    let client = client(&sb, |c| c.page_size = 5);
    let wanted = ids(&sb, 100);
    let answers = collect(&client, hgsql::api::Endpoint::INSTALLS, EnrichRequest::default(), wanted).await.unwrap();
    let mut expected_calls = 0;
    for batch in 0..4u32 {
        let rows: usize = (batch * 25..batch * 25 + 25).map(|i| sb.data().installs_of(i).len()).sum();
        expected_calls += rows.div_ceil(5).max(1);
        let got: usize = (batch * 25..batch * 25 + 25)
            .map(|i| answers[&CompanyId::parse(&format!("{:X}", sb.data().company(i).id)).unwrap()].len())
            .sum();
        assert_eq!(got, rows, "batch {batch}: every row of every page");
    }
    assert_eq!(calls(&sb, "company/installs") as usize, expected_calls);
}

#[tokio::test]
async fn a_row_limit_stops_paging_early() {
    let sb = sandbox(|_| {}).await;
    let client = client(&sb, |c| c.page_size = 10);
    let rows = client
        .list_query(
            hgsql::api::Endpoint::SEARCH,
            &hgsql::api::ListQuery::Search { fields: Some(vec!["company_id".into()]), filters: None },
            Some(25),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 25);
    assert_eq!(calls(&sb, "company/search"), 3, "10 + 10 + 5");
    let products = client
        .list_query(hgsql::api::Endpoint::PRODUCTS, &hgsql::api::ListQuery::Catalog { name: None }, None)
        .await
        .unwrap();
    assert_eq!(products.len() as u64, sb.stats()["endpoints"]["catalog/products"]["rows"].as_u64().unwrap());
    assert!(products.len() > 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_20_percent_faults_the_rows_equal_a_clean_run_and_retries_are_counted() {
    let request = EnrichRequest {
        fields: Some(vec!["product_id".into(), "product_intensity".into(), "country_code".into()]),
        ..EnrichRequest::default()
    };
    let summarise = |answers: HashMap<CompanyId, Vec<hgsql::api::Row>>| -> BTreeSet<String> {
        answers
            .into_iter()
            .flat_map(|(id, rows)| {
                rows.into_iter().map(move |mut r| {
                    // When the client received the row differs between the runs.
                    r.fields.remove(hgsql::api::FETCHED_AT);
                    format!("{id} {:?}", r.fields)
                })
            })
            .collect()
    };
    let clean_sb = sandbox(|_| {}).await;
    let clean = summarise(
        collect(&client(&clean_sb, |_| {}), hgsql::api::Endpoint::INSTALLS, request.clone(), ids(&clean_sb, 2_000))
            .await
            .unwrap(),
    );

    let sb = sandbox(|c| c.fault_rate = 0.2).await;
    let client = client(&sb, |c| c.retry.max_attempts = 12);
    let faulty = summarise(collect(&client, hgsql::api::Endpoint::INSTALLS, request, ids(&sb, 2_000)).await.unwrap());
    assert_eq!(faulty, clean, "the same rows despite faults");
    let stats = sb.stats();
    let injected: u64 = stats["faults"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    for kind in ["500", "503", "429", "truncated_json", "connection_reset"] {
        assert!(stats["faults"][kind].as_u64().unwrap_or(0) > 0, "{kind} was injected: {stats}");
    }
    let metrics = client.metrics().total();
    assert_eq!(metrics.retries, injected, "every injected fault cost one retry");
    assert_eq!(metrics.calls, stats["requests"].as_u64().unwrap());
    assert_eq!(metrics.throttled, stats["faults"]["429"].as_u64().unwrap());
    let with_rows = (0..2_000u32).filter(|&i| !sb.data().installs_of(i).is_empty()).count() as u64;
    assert_eq!(stats["companies_charged"].as_u64().unwrap(), with_rows, "nobody charged twice");
}

#[tokio::test]
async fn api_errors_are_specific_carry_the_detail_and_are_not_retried() {
    let denied = sandbox(|c| {
        c.key = KEY.into();
        c.deny = SandboxEndpoint::parse_list("installs").unwrap();
    })
    .await;
    let id = ids(&denied, 1);
    let mut errors: Vec<HgError> = Vec::new();

    let wrong_key = client(&denied, |c| c.key = ApiKey::new("not-the-key"));
    let error = collect(&wrong_key, hgsql::api::Endpoint::FIRMOGRAPHIC, EnrichRequest::default(), id.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, HgError::Authentication { status: 401, detail, .. } if detail == "The token provided is not valid"),
        "{error:?}"
    );
    errors.push(error);

    let good = client(&denied, |_| {});
    let error = collect(&good, hgsql::api::Endpoint::INSTALLS, EnrichRequest::default(), id.clone()).await.unwrap_err();
    assert!(matches!(&error, HgError::NotEntitled { field_group, .. } if field_group == "technographics"), "{error:?}");
    assert!(error.to_string().contains("technographics"));
    errors.push(error);

    let bad_field = EnrichRequest { fields: Some(vec!["ceo_name".into()]), ..EnrichRequest::default() };
    let error = collect(&good, hgsql::api::Endpoint::FIRMOGRAPHIC, bad_field, id.clone()).await.unwrap_err();
    assert!(
        matches!(&error, HgError::InvalidRequest { pointer, detail, .. } if pointer == "/fields/0" && detail.contains("ceo_name")),
        "{error:?}"
    );
    errors.push(error);
    assert_eq!(denied.stats()["requests"], json!(3), "none of them was retried");

    let broke = sandbox(|c| {
        c.key = KEY.into();
        c.credits = Some(0);
    })
    .await;
    let error =
        collect(&client(&broke, |_| {}), hgsql::api::Endpoint::FIRMOGRAPHIC, EnrichRequest::default(), ids(&broke, 1))
            .await
            .unwrap_err();
    assert!(
        matches!(&error, HgError::CreditsExhausted { status: 402, detail, .. } if detail.contains("Credits exhausted")),
        "{error:?}"
    );
    assert_eq!(broke.stats()["requests"], json!(1));
    errors.push(error);

    for error in &errors {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(KEY), "the key leaked: {shown}");
        assert!(shown.contains("HG "), "names the endpoint: {shown}");
    }
}

#[tokio::test]
async fn requests_go_only_to_the_configured_base_url_with_values_encoded() {
    let target = sandbox(|_| {}).await;
    let bystander = sandbox(|_| {}).await;
    let client = client(&target, |_| {});
    for domain in ["acme.com&limit=100", "a.com?x=1#frag", "spaced domain.com", "müller.de", "/../../etc"] {
        let rows = client
            .company_match(
                hgsql::api::Endpoint::MATCH,
                &MatchQuery { domain_name: Some(domain.into()), limit: 3, ..MatchQuery::default() },
            )
            .await
            .unwrap();
        assert!(rows.is_empty(), "{domain}");
    }
    let stats = target.stats();
    assert_eq!(stats["endpoints"]["company/match"]["status"], json!({"200": 5}), "no value changed another parameter");
    let company = &target.data().companies[0];
    let found = client
        .company_match(
            hgsql::api::Endpoint::MATCH,
            &MatchQuery {
                domain_name: Some(format!("https://WWW.{}/about", company.domain_normalized)),
                limit: 1,
                ..MatchQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(bystander.stats()["requests"], json!(0));
    assert_eq!(client.metrics().total().calls, target.stats()["requests"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_keys_asked_twice_at_once_are_fetched_once() {
    let sb = sandbox(|c| c.latency = Duration::from_millis(100)).await;
    let client = client(&sb, |_| {});
    let wanted = ids(&sb, 10);
    let request = EnrichRequest { fields: Some(vec!["company_name".into()]), ..EnrichRequest::default() };
    let (a, b) = tokio::join!(
        collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, request.clone(), wanted.clone()),
        collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, request.clone(), wanted.clone()),
    );
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(calls(&sb, "company/firmographic"), 10);
    // Afterwards nothing is in flight: asking again fetches again (caching is not the client's job).
    collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, request, wanted).await.unwrap();
    assert_eq!(calls(&sb, "company/firmographic"), 20);
}

#[tokio::test]
async fn a_429_pauses_for_the_reset_and_the_request_succeeds() {
    let sb = sandbox(|c| {
        c.rate = Some(5.0);
        c.burst = 5;
    })
    .await;
    let client = client(&sb, |_| {});
    let started = std::time::Instant::now();
    let answers =
        collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, EnrichRequest::default(), ids(&sb, 12)).await.unwrap();
    assert_eq!(answers.len(), 12);
    assert!(answers.values().all(|rows| rows.len() == 1));
    let metrics = client.metrics().total();
    assert!(metrics.throttled > 0, "an unpaced client meets the limit");
    assert_eq!(metrics.throttled, sb.stats()["rate_limited"].as_u64().unwrap());
    assert!(started.elapsed() >= Duration::from_millis(900), "it waited for x-ratelimit-reset");
}

#[tokio::test]
async fn rows_are_typed_and_ids_normalised() {
    let sb = sandbox(|_| {}).await;
    let client = client(&sb, |_| {});
    let short = sb.data().companies.iter().find(|c| format!("{:X}", c.id).len() < 32).unwrap();
    let id = CompanyId::parse(&format!("{:X}", short.id)).unwrap();
    let request = EnrichRequest {
        fields: Some(vec!["company_id".into(), "global_hq_hg_id".into(), "revenue_total".into(), "sic_codes".into()]),
        ..EnrichRequest::default()
    };
    let answers = collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, request, vec![id.clone()]).await.unwrap();
    let row = &answers[&id][0];
    assert_eq!(row.company_id(), Some(id.as_str()));
    assert_eq!(id.as_str().len(), 32);
    assert_eq!(row.get("global_hq_hg_id").and_then(|v| v.as_str()).map(str::len), Some(32));
    assert!(matches!(row.get("sic_codes"), Some(hgsql::api::FieldValue::List(_) | hgsql::api::FieldValue::Null)));
    let value: Value = json!(row.get("revenue_total").and_then(|v| v.as_i64()));
    assert_eq!(value, json!(short.revenue));
}

/// A stand-in for an HG that leaves `company_id` out of batch rows, which the contract says
/// the client must tolerate.
async fn batch_rows_without_company_id() -> (String, std::sync::Arc<[std::sync::atomic::AtomicU64; 2]>) {
    use axum::Json;
    use axum::routing::post;
    use std::sync::atomic::{AtomicU64, Ordering};
    let counts = std::sync::Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let seen = counts.clone();
    let app = axum::Router::new().route(
        "/data-api/v1/company/installs",
        post(move |Json(body): Json<Value>| {
            let seen = seen.clone();
            async move {
                let filters = &body["filters"];
                if let Some(ids) = filters["company_ids"].as_array() {
                    seen[0].fetch_add(1, Ordering::SeqCst);
                    let rows: Vec<Value> = ids.iter().map(|_| json!({"product_id": 1})).collect();
                    Json(json!({"count": rows.len(), "data": rows}))
                } else {
                    seen[1].fetch_add(1, Ordering::SeqCst);
                    let id = filters["company_id"].as_str().unwrap();
                    Json(json!({"count": 1, "data": [{"product_name": id}]}))
                }
            }
        }),
    );
    // Search claims 1,000 matches but has only 3: a short page must end the list.
    let app = app.route(
        "/data-api/v1/company/search",
        post(|| async {
            Json(json!({"count": 1000, "data": [{"company_id": "A"}, {"company_id": "B"}, {"company_id": "C"}]}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/data-api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, counts)
}

#[tokio::test]
async fn batch_rows_without_company_id_fall_back_to_one_company_per_request() {
    let (url, counts) = batch_rows_without_company_id().await;
    let mut config = ClientConfig::new(url, ApiKey::new("k"));
    config.rate = None;
    let client = HgClient::new(config).unwrap();
    let wanted: Vec<CompanyId> = (1..=50).map(|i| CompanyId::parse(&format!("{i:X}")).unwrap()).collect();
    let answers =
        collect(&client, hgsql::api::Endpoint::INSTALLS, EnrichRequest::default(), wanted.clone()).await.unwrap();
    assert_eq!(answers.len(), 50);
    for id in &wanted {
        let rows = &answers[id];
        assert_eq!(rows.len(), 1);
        let echoed = rows[0].get("product_name").and_then(|v| v.as_str()).unwrap();
        assert_eq!(CompanyId::parse(echoed).unwrap(), *id, "each company gets its own rows");
    }
    let (batches, singles) =
        (counts[0].load(std::sync::atomic::Ordering::SeqCst), counts[1].load(std::sync::atomic::Ordering::SeqCst));
    assert!((1..=2).contains(&batches), "batching stops after the first sign: {batches}");
    assert_eq!(singles, 50);
}

#[tokio::test]
async fn a_short_page_ends_the_list_even_when_count_says_more() {
    let (url, _) = batch_rows_without_company_id().await;
    let mut config = ClientConfig::new(url, ApiKey::new("k"));
    config.rate = None;
    let client = HgClient::new(config).unwrap();
    let query = hgsql::api::ListQuery::Search { fields: Some(vec!["company_id".into()]), filters: None };
    let rows = client.list_query(hgsql::api::Endpoint::SEARCH, &query, None).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(client.metrics().total().calls, 1);
}

#[tokio::test]
async fn retries_are_bounded_and_say_what_happened_last() {
    let sb = sandbox(|c| c.fault_rate = 1.0).await;
    let client = client(&sb, |c| c.retry.max_attempts = 3);
    let error =
        collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, EnrichRequest::default(), ids(&sb, 1)).await.unwrap_err();
    assert!(matches!(&error, HgError::RetriesExhausted { attempts: 3, .. }), "{error:?}");
    assert_eq!(sb.stats()["requests"], json!(3));
    assert_eq!(client.metrics().total().retries, 2);

    // Nothing listens on port 1: transport errors, retried, then reported with the base URL.
    let mut config = ClientConfig::new("http://127.0.0.1:1/data-api/v1", ApiKey::new(KEY));
    config.retry = RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(1), ..RetryPolicy::default() };
    let unreachable = HgClient::new(config).unwrap();
    let error = unreachable
        .company_match(
            hgsql::api::Endpoint::MATCH,
            &MatchQuery { domain_name: Some("a.com".into()), limit: 1, ..MatchQuery::default() },
        )
        .await
        .unwrap_err();
    match &error {
        HgError::RetriesExhausted { attempts: 2, last, .. } => {
            assert!(matches!(**last, HgError::Transport { .. }), "{last:?}")
        }
        other => panic!("expected exhausted retries, got {other:?}"),
    }
    let shown = error.to_string();
    assert!(shown.contains("127.0.0.1:1") && !shown.contains(KEY), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_query_does_not_fail_another_waiting_for_the_same_keys() {
    let sb = sandbox(|c| c.latency = Duration::from_millis(300)).await;
    let client = client(&sb, |_| {});
    let wanted = ids(&sb, 3);
    let request = EnrichRequest::default();
    // The first query claims the keys (before it sends its requests, one per company), and is
    // driven until the sandbox has all three: they then stay under way for the sandbox's 300 ms.
    let mut first = Box::pin(collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, request.clone(), wanted.clone()));
    tokio::select! {
        _ = &mut first => panic!("the first query ended before the sandbox had its requests"),
        () = wait_until_async("the sandbox has the first query's requests", || {
            calls(&sb, "company/firmographic") == 3
        }) => {}
    }
    // The second finds the keys claimed: its first poll leaves it waiting for the first's fetch.
    let mut second = Box::pin(collect(&client, hgsql::api::Endpoint::FIRMOGRAPHIC, request, wanted));
    assert!(futures::poll!(&mut second).is_pending(), "the second query waits for the first");
    // The first is cancelled while its requests are under way.
    drop(first);
    let answers = second.await.expect("the second query fetches what the first abandoned");
    assert_eq!(answers.len(), 3);
    assert!(answers.values().all(|rows| rows.len() == 1));
}
