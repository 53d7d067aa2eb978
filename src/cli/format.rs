//! Results on stdout: an aligned table for people; CSV, a JSON array or NDJSON for programs.
//! The last three are written by [`FormatWriter`], which `-o` files use too.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::csv;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::{self, writer::JsonArray, writer::LineDelimited};
use datafusion::arrow::util::display::FormatOptions;
use datafusion::arrow::util::pretty::{pretty_format_batches_with_options, pretty_format_batches_with_schema};
use datafusion::error::Result;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table (NULL shown as NULL).
    Table,
    /// CSV with a header; lists as JSON text (`["a","b"]`).
    Csv,
    /// One JSON array of objects per statement; NULLs kept as null.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        <Format as clap::ValueEnum>::from_str(name, true).ok()
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }

    /// The text format this writes (see `FormatWriter`); `None` for the table, which is for people and only printed.
    pub fn text(self) -> Option<TextFormat> {
        match self {
            Format::Table => None,
            Format::Csv => Some(TextFormat::Csv),
            Format::Json => Some(TextFormat::Json),
            Format::Ndjson => Some(TextFormat::Ndjson),
        }
    }
}

/// A format programs read, written the same on stdout (`--format`) and to a file (`-o`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    Csv,
    Json,
    Ndjson,
}

/// Writes a result as CSV, a JSON array or NDJSON to any [`Write`]. Printing and `-o` both use
/// it, so a result has the same bytes on stdout and in a file:
/// - CSV: a header (also when there are no rows), text quoted where needed, NULL as an empty
///   field, and lists, structs and maps as JSON text ([`lists_as_text`]);
/// - JSON: one array of objects, NULLs kept as `null`, then a newline;
/// - NDJSON: one object a line, NULLs kept as `null`.
pub struct FormatWriter<W: Write> {
    schema: SchemaRef,
    writer: Writer<W>,
    rows: usize,
}

enum Writer<W: Write> {
    /// `started` once a batch (maybe of no rows) was written, which writes the header. Boxed:
    /// arrow's CSV writer is several times the size of its JSON ones.
    Csv {
        writer: Box<csv::Writer<W>>,
        started: bool,
    },
    Json(json::Writer<W, JsonArray>),
    Ndjson(json::Writer<W, LineDelimited>),
}

impl<W: Write> FormatWriter<W> {
    pub fn new(format: TextFormat, schema: SchemaRef, out: W) -> FormatWriter<W> {
        let writer = match format {
            TextFormat::Csv => {
                Writer::Csv { writer: Box::new(csv::WriterBuilder::new().with_header(true).build(out)), started: false }
            }
            TextFormat::Json => {
                Writer::Json(json::WriterBuilder::new().with_explicit_nulls(true).build::<_, JsonArray>(out))
            }
            TextFormat::Ndjson => {
                Writer::Ndjson(json::WriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(out))
            }
        };
        FormatWriter { schema, writer, rows: 0 }
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        match &mut self.writer {
            Writer::Csv { writer, started } => {
                writer.write(&lists_as_text(batch)?)?;
                *started = true;
            }
            Writer::Json(writer) => writer.write(batch)?,
            Writer::Ndjson(writer) => writer.write(batch)?,
        }
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Ends the output (the CSV header of a result without rows; the JSON array's `]` and a
    /// newline) and gives back the writer, not flushed.
    pub fn finish(self) -> Result<W, ArrowError> {
        match self.writer {
            Writer::Csv { mut writer, started } => {
                if !started {
                    // The header alone, so a reader still sees the columns.
                    writer.write(&lists_as_text(&RecordBatch::new_empty(self.schema))?)?;
                }
                Ok(writer.into_inner())
            }
            Writer::Json(mut writer) => {
                writer.finish()?;
                let mut out = writer.into_inner();
                writeln!(out)?;
                Ok(out)
            }
            Writer::Ndjson(mut writer) => {
                writer.finish()?;
                Ok(writer.into_inner())
            }
        }
    }

    /// Writes every batch of `stream`, finishes, and returns the row count and the writer.
    pub async fn write_stream(mut self, mut stream: SendableRecordBatchStream) -> Result<(usize, W)> {
        while let Some(batch) = stream.next().await {
            self.write(&batch?)?;
        }
        let rows = self.rows;
        Ok((rows, self.finish()?))
    }
}

/// Writes every batch of `stream` to `out` as `format` and returns the number of rows. The table
/// format shows at most `max_rows` rows (all when `None`) and says how many it left out.
pub async fn print(
    format: Format,
    schema: SchemaRef,
    mut stream: SendableRecordBatchStream,
    out: &mut dyn Write,
    max_rows: Option<usize>,
) -> Result<usize> {
    // DDL (CREATE VIEW, SET, …) has no columns: nothing to show.
    if schema.fields().is_empty() {
        while let Some(batch) = stream.next().await {
            batch?;
        }
        return Ok(0);
    }
    let rows = match format.text() {
        None => {
            let table = Table::collect(schema, stream, max_rows).await?;
            table.write(out)?;
            table.rows
        }
        Some(text) => FormatWriter::new(text, schema, &mut *out).write_stream(stream).await?.0,
    };
    out.flush()?;
    Ok(rows)
}

/// A result gathered for the table format, which needs every row it shows before it can align
/// the columns. Gathering and writing are apart so a progress line can be cleared in between.
pub struct Table {
    schema: SchemaRef,
    shown: Vec<RecordBatch>,
    /// Rows in the result, shown or not.
    pub rows: usize,
}

impl Table {
    /// Reads the whole stream, keeping the first `max_rows` rows (all when `None`).
    pub async fn collect(
        schema: SchemaRef,
        mut stream: SendableRecordBatchStream,
        max_rows: Option<usize>,
    ) -> Result<Table> {
        let limit = max_rows.unwrap_or(usize::MAX);
        let (mut shown, mut rows) = (Vec::new(), 0);
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let room = limit.saturating_sub(rows.min(limit));
            if room > 0 {
                shown.push(batch.slice(0, batch.num_rows().min(room)));
            }
            rows += batch.num_rows();
        }
        Ok(Table { schema, shown, rows })
    }

    /// Writes the table (nothing for a statement without columns) and what it left out.
    pub fn write(&self, out: &mut dyn Write) -> Result<()> {
        if self.schema.fields().is_empty() {
            return Ok(());
        }
        let kept: usize = self.shown.iter().map(RecordBatch::num_rows).sum();
        let table = if kept == 0 {
            pretty_format_batches_with_schema(self.schema.clone(), &[])?.to_string()
        } else {
            let options = FormatOptions::default().with_null("NULL").with_display_error(true);
            pretty_format_batches_with_options(&self.shown, &options)?.to_string()
        };
        writeln!(out, "{table}")?;
        if kept < self.rows {
            writeln!(
                out,
                "{kept} of {} rows shown; use --maxrows 0 (or \\maxrows 0) for all, or -o FILE to save them",
                self.rows
            )?;
        }
        out.flush()?;
        Ok(())
    }
}

/// `batch` with list, struct and map columns turned into JSON text (`["a, b","c"]`, nulls as
/// `null`): CSV has no nested values (arrow's CSV writer refuses them), and JSON keeps a list of
/// one item with a comma apart from a list of two.
pub fn lists_as_text(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let nested = |t: &DataType| t.is_nested();
    if !batch.schema().fields().iter().any(|f| nested(f.data_type())) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if !nested(field.data_type()) {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        // One JSON object per row, {"v": …}; the value is the text between the braces.
        let single = RecordBatch::try_from_iter([("v", column.clone())])?;
        let mut lines = Vec::new();
        let mut writer = json::WriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(&mut lines);
        writer.write(&single)?;
        writer.finish()?;
        let text = String::from_utf8(lines).map_err(|e| ArrowError::JsonError(e.to_string()))?;
        let mut values = StringBuilder::new();
        for (i, line) in text.lines().enumerate() {
            match line.strip_prefix("{\"v\":").and_then(|l| l.strip_suffix('}')) {
                Some(_) if column.is_null(i) => values.append_null(),
                Some(value) => values.append_value(value),
                None => values.append_null(),
            }
        }
        fields.push(Field::new(field.name(), DataType::Utf8, true));
        columns.push(Arc::new(values.finish()));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, ListBuilder, StringArray};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

    fn sample() -> RecordBatch {
        let mut products = ListBuilder::new(StringBuilder::new());
        products.values().append_value("Salesforce CRM");
        products.values().append_value("Slack");
        products.append(true);
        products.append(false);
        RecordBatch::try_from_iter([
            ("name", Arc::new(StringArray::from(vec![Some("Acme, Inc."), None])) as ArrayRef),
            ("employees", Arc::new(Int64Array::from(vec![Some(120), None])) as ArrayRef),
            ("products", Arc::new(products.finish()) as ArrayRef),
        ])
        .unwrap()
    }

    async fn printed(format: Format, batches: Vec<RecordBatch>, max_rows: Option<usize>) -> (String, usize) {
        let schema = sample().schema();
        let stream = RecordBatchStreamAdapter::new(schema.clone(), futures::stream::iter(batches.into_iter().map(Ok)));
        let mut out = Vec::new();
        let rows = print(format, schema, Box::pin(stream), &mut out, max_rows).await.unwrap();
        (String::from_utf8(out).unwrap(), rows)
    }

    #[tokio::test]
    async fn csv_quotes_text_and_writes_lists_as_text() {
        let (csv, rows) = printed(Format::Csv, vec![sample()], None).await;
        assert_eq!(rows, 2);
        assert_eq!(csv, "name,employees,products\n\"Acme, Inc.\",120,\"[\"\"Salesforce CRM\"\",\"\"Slack\"\"]\"\n,,\n");
        let (empty, _) = printed(Format::Csv, vec![], None).await;
        assert_eq!(empty, "name,employees,products\n");
    }

    /// What a user sees for a list column in CSV, built by hand: the list as JSON text (items
    /// quoted, no spaces), which CSV then quotes because it holds `"` or `,`.
    #[tokio::test]
    async fn csv_writes_a_list_as_json_text_in_one_quoted_field() {
        let mut products = ListBuilder::new(StringBuilder::new());
        products.values().append_value("Salesforce CRM");
        products.values().append_value("Slack");
        products.append(true);
        products.values().append_value("Acme, Inc.");
        products.values().append_null();
        products.append(true);
        products.append(true); // an empty list
        products.append(false); // NULL
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef),
            ("products", Arc::new(products.finish()) as ArrayRef),
        ])
        .unwrap();
        let mut out = Vec::new();
        let mut writer = FormatWriter::new(TextFormat::Csv, batch.schema(), &mut out);
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,products\n\
             1,\"[\"\"Salesforce CRM\"\",\"\"Slack\"\"]\"\n\
             2,\"[\"\"Acme, Inc.\"\",null]\"\n\
             3,[]\n\
             4,\n"
        );
    }

    #[tokio::test]
    async fn json_is_one_array_with_nulls_and_ndjson_one_object_a_line() {
        let (json, _) = printed(Format::Json, vec![sample()], None).await;
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!([
                {"name": "Acme, Inc.", "employees": 120, "products": ["Salesforce CRM", "Slack"]},
                {"name": null, "employees": null, "products": null}
            ])
        );
        let (empty, _) = printed(Format::Json, vec![], None).await;
        assert_eq!(serde_json::from_str::<serde_json::Value>(&empty).unwrap(), serde_json::json!([]));
        let (ndjson, _) = printed(Format::Ndjson, vec![sample()], None).await;
        let lines: Vec<serde_json::Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["products"], serde_json::json!(["Salesforce CRM", "Slack"]));
    }

    #[tokio::test]
    async fn the_table_shows_nulls_and_says_what_it_left_out() {
        let (table, rows) = printed(Format::Table, vec![sample(), sample()], Some(3)).await;
        assert_eq!(rows, 4);
        assert!(table.contains("| NULL"), "{table}");
        assert_eq!(table.matches("Acme, Inc.").count(), 2, "{table}");
        assert!(table.contains("3 of 4 rows shown"), "{table}");
        let (header_only, _) = printed(Format::Table, vec![], None).await;
        assert!(header_only.contains("| name | employees | products |"), "{header_only}");
    }
}
