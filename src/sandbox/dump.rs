//! `hgsql sandbox --dump DIR`: the data set as Parquet files, so tests can compute expected
//! answers with plain DataFusion over local files, independently of the API path.
//!
//! Rows are rendered through the same field functions the endpoints use, then typed the way the
//! SQL layer types them: company, category and topic ids in their 32-character normal form,
//! dates as Date32, money and counts as Int64, lists as `List<Utf8>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use chrono::Datelike;
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::{Value, json};

use super::data::{DataSet, emitted_id};
use super::endpoints::{
    Endpoint, FIRMOGRAPHIC_FIELDS, INSTALL_FIELDS, INTENT_FIELDS, Input, Listing, SPEND_FIELDS, handle,
};

/// How a dumped column is typed.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    /// A hex id, written padded to 32 characters.
    Id,
    Int,
    Float,
    Date,
    List,
}

fn kind(table: &str, column: &str) -> Kind {
    match column {
        "id" if table == "categories" => Kind::Id,
        "company_id" | "global_hq_hg_id" | "product_category_id" | "category_id" | "topic_id" | "parent_id" => Kind::Id,
        "product_first_verified_date" | "product_last_verified_date" | "datestamp" => Kind::Date,
        "signal_trend" => Kind::Float,
        "sic_codes"
        | "sic_names"
        | "global_hq_sic_codes"
        | "global_hq_sic_names"
        | "product_attributes"
        | "product_locations"
        | "context_name_array" => Kind::List,
        c if c.ends_with("_rank") || c.ends_with("_total") || c.ends_with("_strength") => Kind::Int,
        "industry_id"
        | "global_hq_industry_id"
        | "product_id"
        | "vendor_id"
        | "id"
        | "level"
        | "it_spend"
        | "spend"
        | "product_intensity" => Kind::Int,
        _ => Kind::Text,
    }
}

/// Writes every table of the data set into `dir` and returns the files written.
pub fn dump(data: &DataSet, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut write = |table: &str, columns: &[&str], rows: Vec<Vec<Value>>| -> std::io::Result<()> {
        let path = dir.join(format!("{table}.parquet"));
        write_parquet(&path, table, columns, &rows)?;
        written.push(path);
        Ok(())
    };

    let rows = data
        .companies
        .iter()
        .map(|c| {
            let listing = run(
                data,
                Endpoint::Firmographic,
                json!({"company_id": emitted_id(c.id), "fields": FIRMOGRAPHIC_FIELDS}),
            );
            FIRMOGRAPHIC_FIELDS.iter().map(|f| listing.data[0][*f].clone()).collect()
        })
        .collect();
    write("firmographics", FIRMOGRAPHIC_FIELDS, rows)?;

    for (table, endpoint, fields) in [
        ("installs", Endpoint::Installs, INSTALL_FIELDS),
        ("spend", Endpoint::Spend, SPEND_FIELDS),
        ("intent", Endpoint::Intent, INTENT_FIELDS),
    ] {
        let mut columns = vec!["company_id"];
        columns.extend(fields.iter().filter(|f| **f != "company_id"));
        let mut rows = Vec::new();
        for company in &data.companies {
            let id = json!(emitted_id(company.id));
            for row in all_pages(data, endpoint, json!({"fields": fields, "filters": {"company_id": id}})) {
                rows.push(
                    columns.iter().map(|c| if *c == "company_id" { id.clone() } else { row[*c].clone() }).collect(),
                );
            }
        }
        write(table, &columns, rows)?;
    }

    for (table, endpoint, columns) in [
        (
            "products",
            Endpoint::CatalogProducts,
            &["id", "name", "description", "vendor_id", "vendor_name", "product_category_id"][..],
        ),
        ("vendors", Endpoint::CatalogVendors, &["id", "name", "domain_name"][..]),
        ("categories", Endpoint::CatalogCategories, &["id", "name", "description", "level", "parent_id"][..]),
    ] {
        let mut rows: Vec<Vec<Value>> = Vec::new();
        loop {
            let query = [("limit".to_string(), "100".to_string()), ("offset".to_string(), rows.len().to_string())];
            let page = handle(data, endpoint, Input::Query(&query)).expect("the dump's own requests are valid");
            let done = page.data.is_empty() || rows.len() + page.data.len() >= page.count;
            rows.extend(page.data.iter().map(|r| columns.iter().map(|c| r[*c].clone()).collect()));
            if done {
                break;
            }
        }
        write(table, columns, rows)?;
    }
    Ok(written)
}

fn all_pages(data: &DataSet, endpoint: Endpoint, mut body: Value) -> Vec<Value> {
    let mut rows = Vec::new();
    loop {
        body["limit"] = json!(100);
        body["offset"] = json!(rows.len());
        let page = run(data, endpoint, body.clone());
        let done = page.data.is_empty() || rows.len() + page.data.len() >= page.count;
        rows.extend(page.data);
        if done {
            return rows;
        }
    }
}

fn run(data: &DataSet, endpoint: Endpoint, body: Value) -> Listing {
    let bytes = serde_json::to_vec(&body).expect("serialise");
    handle(data, endpoint, Input::Body(&bytes)).expect("the dump's own requests are valid")
}

fn write_parquet(path: &Path, table: &str, columns: &[&str], rows: &[Vec<Value>]) -> std::io::Result<()> {
    let kinds: Vec<Kind> = columns.iter().map(|c| kind(table, c)).collect();
    let fields: Vec<Field> = columns
        .iter()
        .zip(&kinds)
        .map(|(name, kind)| {
            let data_type = match kind {
                Kind::Text | Kind::Id => DataType::Utf8,
                Kind::Int => DataType::Int64,
                Kind::Float => DataType::Float64,
                Kind::Date => DataType::Date32,
                Kind::List => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            };
            Field::new(*name, data_type, true)
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays: Vec<ArrayRef> =
        kinds.iter().enumerate().map(|(i, kind)| column(*kind, rows.iter().map(|r| &r[i]))).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(std::io::Error::other)?;
    // Written under a temporary name and renamed when complete: never a half-written file.
    let partial = path.with_extension("parquet.partial");
    let file = fs::File::create(&partial)?;
    let mut writer = ArrowWriter::try_new(file, schema, None).map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    fs::rename(&partial, path)
}

fn column<'a>(kind: Kind, values: impl Iterator<Item = &'a Value>) -> ArrayRef {
    match kind {
        Kind::Text | Kind::Id => {
            let mut b = StringBuilder::new();
            for v in values {
                match (v.as_str(), kind) {
                    (Some(s), Kind::Id) => b.append_value(format!("{s:0>32}")),
                    (Some(s), _) => b.append_value(s),
                    (None, _) => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        Kind::Int => {
            let mut b = Int64Builder::new();
            values.for_each(|v| b.append_option(v.as_i64()));
            Arc::new(b.finish())
        }
        Kind::Float => {
            let mut b = Float64Builder::new();
            values.for_each(|v| b.append_option(v.as_f64()));
            Arc::new(b.finish())
        }
        Kind::Date => {
            let mut b = Date32Builder::new();
            for v in values {
                let day = v.as_str().and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
                b.append_option(day.map(|d| d.num_days_from_ce() - 719_163));
            }
            Arc::new(b.finish())
        }
        Kind::List => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for v in values {
                match v.as_array() {
                    Some(items) => {
                        for item in items {
                            b.values().append_option(item.as_str());
                        }
                        b.append(true);
                    }
                    None => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
    }
}
