//! `--dump` writes the data set as Parquet that plain DataFusion reads, and its rows are the
//! API's answers.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::SessionContext;
use serde_json::json;

use crate::support::{Api, padded, sandbox};

const COMPANIES: usize = 400;

/// A string column as plain strings, whichever string type the reader chose.
fn strings(column: &ArrayRef) -> Vec<String> {
    let column = cast(column, &DataType::Utf8).unwrap();
    column.as_string::<i32>().iter().map(|s| s.unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn the_dump_matches_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let files = hgsql::sandbox::dump(42, COMPANIES, dir.path()).unwrap();
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for table in ["firmographics", "installs", "spend", "intent", "products", "vendors", "categories"] {
        assert!(names.contains(&format!("{table}.parquet")), "{table} in {names:?}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".partial"))
    );

    let ctx = SessionContext::new();
    for table in ["firmographics", "installs", "products", "categories"] {
        ctx.register_parquet(table, dir.path().join(format!("{table}.parquet")).to_str().unwrap(), Default::default())
            .await
            .unwrap();
    }
    let schema = ctx.table("firmographics").await.unwrap().schema().clone();
    assert_eq!(schema.field_with_name(None, "revenue_total").unwrap().data_type(), &DataType::Int64);
    assert!(matches!(schema.field_with_name(None, "sic_codes").unwrap().data_type(), DataType::List(_)));
    let installs_schema = ctx.table("installs").await.unwrap().schema().clone();
    assert_eq!(
        installs_schema.field_with_name(None, "product_last_verified_date").unwrap().data_type(),
        &DataType::Date32
    );
    let count = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            batches[0].column(0).as_primitive::<Int64Type>().value(0)
        }
    };
    assert_eq!(count("SELECT count(*) FROM firmographics").await, COMPANIES as i64);
    assert_eq!(
        count("SELECT count(*) FROM firmographics WHERE length(company_id) <> 32").await,
        0,
        "ids in normal form"
    );
    assert_eq!(count("SELECT count(DISTINCT level) FROM categories").await, 5);

    // The same companies through the API.
    let sb = sandbox(|c| c.companies = COMPANIES).await;
    let api = Api::new(&sb);
    let sql = "SELECT company_id, count(*) AS n, max(product_intensity) AS top FROM installs GROUP BY company_id ORDER BY company_id LIMIT 25";
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut checked = 0;
    for batch in batches {
        let ids = strings(batch.column(0));
        let n = batch.column(1).as_primitive::<Int64Type>();
        let top = batch.column(2).as_primitive::<Int64Type>();
        for (i, id) in ids.iter().enumerate() {
            let reply = api
                .post(
                    "/company/installs",
                    json!({"fields": ["product_intensity"], "filters": {"company_id": id}, "limit": 1}),
                )
                .await;
            assert_eq!(reply.body["count"], json!(n.value(i)), "{id}");
            assert_eq!(
                reply.data()[0]["product_intensity"],
                json!(top.value(i)),
                "default order puts the top intensity first"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 25);
    let firmo = ctx.sql("SELECT company_id, company_name, revenue_total, global_hq_hg_id FROM firmographics ORDER BY company_id LIMIT 5").await.unwrap().collect().await.unwrap();
    let batch = &firmo[0];
    for i in 0..batch.num_rows() {
        let id = &strings(batch.column(0))[i];
        let reply = api
            .post(
                "/company/firmographic",
                json!({"company_id": id, "fields": ["company_id", "company_name", "revenue_total", "global_hq_hg_id"]}),
            )
            .await;
        let row = &reply.data()[0];
        assert_eq!(&padded(row["company_id"].as_str().unwrap()), id);
        assert_eq!(row["company_name"], json!(strings(batch.column(1))[i]));
        let revenue = batch.column(2).as_primitive::<Int64Type>();
        assert_eq!(row["revenue_total"], if revenue.is_null(i) { json!(null) } else { json!(revenue.value(i)) });
        assert_eq!(padded(row["global_hq_hg_id"].as_str().unwrap()), strings(batch.column(3))[i]);
    }
    assert_eq!(count("SELECT count(*) FROM products WHERE id = 814 AND name = 'Salesforce CRM'").await, 1);
}
