"""Data quality: Great Expectations suites kept as code in `expectations/`, run where the data is (GX's SQL
data sources on DuckDB and PostgreSQL), recorded in `audit.dq_results`, and a gate before publication."""
