//! Files hgsql writes, read back by pyarrow (what pandas and polars use): dates stay dates,
//! numbers 64-bit integers, lists lists, text plain strings; and the values are the ones hgsql
//! prints.

use std::process::Command;

use super::cli::{hgsql, run};

/// A Python with pyarrow: `HGSQL_PYTHON` (scripts/test sets it to the venv it installs), else
/// `python3`.
fn python() -> Command {
    let python = std::env::var("HGSQL_PYTHON").unwrap_or_else(|_| "python3".to_string());
    // `output()` here, not `run`: a missing interpreter gets the advice below, not a panic.
    let check = Command::new(&python).args(["-c", "import pyarrow"]).output();
    assert!(
        check.is_ok_and(|o| o.status.success()),
        "{python} cannot import pyarrow: run the tests with scripts/test, which installs it, or `pip install pyarrow`"
    );
    Command::new(python)
}

const CHECK: &str = r#"
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
types = {f.name: str(f.type) for f in table.schema}
expected = {
    "company_id": "string",
    "employees_total": "int64",
    "product_id": "int64",
    "product_attributes": "list<element: string>",
    "product_last_verified_date": "date32[day]",
}
for name, kind in expected.items():
    got = types[name].replace("list<item: string>", "list<element: string>")
    assert got == kind, f"{name}: {types[name]} != {kind}"
rows = table.to_pylist()
for row in rows:
    row["product_last_verified_date"] = row["product_last_verified_date"].isoformat() if row["product_last_verified_date"] else None
printed = [json.loads(line) for line in open(sys.argv[2])]
key = lambda r: (r["company_id"], r["product_id"])
assert sorted(rows, key=key) == sorted(printed, key=key), (rows[:2], printed[:2])
assert len(rows) > 0
print(len(rows))
"#;

#[test]
fn parquet_from_copy_and_dash_o_keeps_types_and_values_for_pyarrow() {
    let dir = tempfile::tempdir().unwrap();
    let query = "SELECT i.company_id, f.employees_total, i.product_id, i.product_attributes, i.product_last_verified_date \
                 FROM hg.installs i JOIN hg.firmographics f ON f.company_id = i.company_id \
                 WHERE i.company_id IN (SELECT company_id FROM hg.search ORDER BY company_id LIMIT 8)";
    let printed = dir.path().join("printed.ndjson");
    let copied = dir.path().join("copied.parquet");
    let saved = dir.path().join("saved.parquet");
    let out = run(hgsql()
        .args(["--sandbox", "--format", "ndjson", "-c", query, "-c"])
        .arg(format!("COPY ({query}) TO '{}'", copied.display())));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ndjson: String = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("company_id"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&printed, ndjson).unwrap();
    let out = run(hgsql().args(["--sandbox", "-c", query, "-o"]).arg(&saved));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in [&copied, &saved] {
        let out = run(python().args(["-c", CHECK]).arg(file).arg(&printed));
        assert!(
            out.status.success(),
            "{}: {}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
