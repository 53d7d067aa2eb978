//! `-o FILE`: the last statement's result saved as Parquet, CSV, JSON or NDJSON (by the file's
//! extension), written under a temporary name and moved into place only when complete. CSV,
//! JSON and NDJSON are written by [`FormatWriter`], as `--format` prints them.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use super::format::{FormatWriter, TextFormat};
use crate::atomic::PendingOutput;

/// A file format `-o` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Parquet,
    /// Byte for byte what `--format` prints.
    Text(TextFormat),
}

/// Where `-o` writes, checked before anything runs.
#[derive(Clone, Debug)]
pub struct OutputFile {
    pub path: PathBuf,
    pub format: FileFormat,
}

impl OutputFile {
    /// The output for `path`, or why its extension is not one hgsql writes.
    pub fn parse(path: &Path) -> Result<OutputFile, String> {
        let extension = path.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        let format = match extension.as_str() {
            "parquet" | "pq" => FileFormat::Parquet,
            "csv" => FileFormat::Text(TextFormat::Csv),
            "json" => FileFormat::Text(TextFormat::Json),
            "ndjson" | "jsonl" => FileFormat::Text(TextFormat::Ndjson),
            _ => {
                return Err(format!(
                    "-o {}: cannot tell the format from the extension; name the file .parquet, .csv, .json or .ndjson",
                    path.display()
                ));
            }
        };
        if path.is_dir() {
            return Err(format!("-o {}: is a directory; give a file name", path.display()));
        }
        Ok(OutputFile { path: path.to_path_buf(), format })
    }

    /// Writes every batch of `stream` and returns the row count. The file appears only once the
    /// stream ended without error; otherwise an existing file of that name is left untouched.
    pub async fn write(&self, schema: SchemaRef, mut stream: SendableRecordBatchStream) -> Result<usize> {
        if schema.fields().is_empty() {
            return Err(DataFusionError::Plan(format!(
                "-o {}: the last statement returns no columns to save; make a query the last statement",
                self.path.display()
            )));
        }
        let pending = PendingOutput::new(&self.path);
        let file = File::create(pending.temp_path())
            .map_err(|e| DataFusionError::Execution(format!("cannot create {}: {e}", self.path.display())))?;
        let rows = match self.format {
            FileFormat::Parquet => {
                let properties =
                    WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?)).build();
                let mut writer = ArrowWriter::try_new(file, schema, Some(properties))?;
                let mut rows = 0;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows();
                    writer.write(&batch)?;
                }
                writer.into_inner()?.sync_all()?;
                rows
            }
            FileFormat::Text(format) => {
                let (rows, out) = FormatWriter::new(format, schema, BufWriter::new(file)).write_stream(stream).await?;
                finish(out)?;
                rows
            }
        };
        pending.commit()?;
        Ok(rows)
    }
}

/// Flushes and syncs the file, so the rename publishes complete data.
fn finish(out: BufWriter<File>) -> Result<()> {
    let file = out.into_inner().map_err(|e| DataFusionError::IoError(e.into_error()))?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_names_the_format_and_others_are_refused_with_the_fix() {
        assert_eq!(OutputFile::parse(Path::new("a/b.PARQUET")).unwrap().format, FileFormat::Parquet);
        assert_eq!(OutputFile::parse(Path::new("b.jsonl")).unwrap().format, FileFormat::Text(TextFormat::Ndjson));
        let error = OutputFile::parse(Path::new("enriched.xlsx")).unwrap_err();
        assert!(error.contains("enriched.xlsx") && error.contains(".parquet"), "{error}");
        assert!(OutputFile::parse(Path::new("noextension")).is_err());
    }
}
