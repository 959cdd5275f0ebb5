"""Row checks of a delivery inside DuckDB: every field read as text, the contract's rules as one CASE per row,
line numbers that point at the delivered line, and the quarantine (each rejected line with its rule, detail
and text). No row passes through Python, except the few lines whose text SQL does not have."""

from __future__ import annotations

from pathlib import Path

from telco360.contracts import Contract
from telco360.ingest import rules as R
from telco360.ingest.delivery import Delivery
from telco360.ingest.scan import bounded_lines, too_long_text
from telco360.ingest.targets import LoadRecord

# DuckDB CSV reader error types -> our rules
READER_RULES = {
    "MISSING COLUMNS": "column_count",
    "TOO MANY COLUMNS": "column_count",
    "CAST": "type",
    "INVALID UNICODE": "encoding",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
}
WORK_TABLES = (
    "_checked",
    "_files",
    "_breaks",
    "_skipped",
    "_blank",
    "_bad",
    "_lines",
    "_rej_errors",
    "_rej_scans",
    "_quarantine",
)


def _blank_lines(path: Path) -> list[int]:
    """Line numbers of empty lines (CSV readers skip them silently)."""
    with open(path, "rb") as fh:
        return [n for n, line in enumerate(fh, start=1) if line in (b"\n", b"\r\n")]


def validate(con, d: Delivery, contract: Contract, record: LoadRecord) -> tuple[str, str | None, tuple[int, int]]:
    """Check every row in DuckDB; returns the SELECTs of valid and quarantined rows, and their counts."""
    rules = R.compile_rules(contract, d.period)
    paths = [str(f.path) for f in d.files]
    for name in ("_rej_errors", "_rej_scans"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    typed = ", ".join(f"{R.typed(c)} AS {R.q(c.name)}" for c in contract.columns)
    # the file paths are bound as a parameter, never spliced into the SQL text
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _checked AS
        SELECT _path, _fail, NULL::BIGINT AS _dup_of,
               CASE WHEN _fail <> 0 THEN {R.detail_expression(rules)} END AS _detail,
               CASE WHEN _fail <> 0 THEN {R.line_expression(contract)} END AS _raw, {typed}
        FROM (SELECT *, {R.fail_expression(rules)} AS _fail
              FROM (SELECT filename AS _path, * EXCLUDE (filename), {R.precasts(contract)}
                    FROM read_csv($paths, columns = {R.reader_columns(contract)}, header = true,
                                  delim = {R.lit(contract.delimiter)}, quote = '', escape = '',
                                  new_line = '\\n', max_line_size = {int(contract.max_line_bytes)},
                                  auto_detect = false, filename = true, ignore_errors = true,
                                  store_rejects = true, rejects_table = '_rej_errors',
                                  rejects_scan = '_rej_scans')))
        """,
        {"paths": paths},
    )
    # row i of a file (in read order) is line i + 2, shifted by each line the reader rejected before it
    con.execute("CREATE OR REPLACE TEMP TABLE _files (path VARCHAR, file VARCHAR, r0 BIGINT)")
    con.executemany(
        "INSERT INTO _files VALUES (?, ?, NULL)",
        [(str(f.path), f"{d.source}/{d.period}/{f.name}") for f in d.files],
    )
    if len(d.files) == 1:  # a fresh temp table numbers its rows from 0
        con.execute("UPDATE _files SET r0 = 0")
    else:
        con.execute(
            "UPDATE _files SET r0 = s.r0 FROM (SELECT _path, min(rowid) AS r0 FROM _checked GROUP BY _path) s "
            "WHERE _files.path = s._path"
        )
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _skipped AS
        SELECT DISTINCT s.file_path AS path, e.line FROM _rej_errors e JOIN _rej_scans s USING (scan_id, file_id)
    """)
    # the reader skips blank lines without a reject: find them (only when rows are unaccounted for)
    parsed = con.execute("SELECT (SELECT count(*) FROM _checked) + (SELECT count(*) FROM _skipped)").fetchone()[0]
    con.execute("CREATE OR REPLACE TEMP TABLE _blank (path VARCHAR, line BIGINT)")
    if parsed < d.rows_read:
        blanks = [(str(f.path), n) for f in d.files for n in _blank_lines(f.path)]
        if blanks:
            _insert_arrow(con, "_blank", {"path": "VARCHAR", "line": "BIGINT"}, blanks)
            con.execute("INSERT INTO _skipped SELECT path, line FROM _blank")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _breaks AS
        SELECT path, line - 2 - (row_number() OVER w - 1) AS thr, row_number() OVER w AS shift
        FROM _skipped
        WINDOW w AS (PARTITION BY path ORDER BY line)
    """)
    has_rejects = con.execute("SELECT count(*) FROM _breaks").fetchone()[0] > 0

    def numbered(where: str) -> str:
        """_checked rows matching `where`, with _file and _line."""
        if not has_rejects and len(d.files) == 1:
            file = R.lit(f"{d.source}/{d.period}/{d.files[0].name}")
            return f"SELECT c.*, c.rowid AS _rid, {file} AS _file, c.rowid + 2 AS _line FROM _checked c WHERE {where}"
        if not has_rejects:
            return (
                f"SELECT c.*, c.rowid AS _rid, f.file AS _file, c.rowid - f.r0 + 2 AS _line "
                f"FROM _checked c JOIN _files f ON f.path = c._path WHERE {where}"
            )
        return f"""
            SELECT b.*, b._idx + 2 + coalesce(k.shift, 0) AS _line FROM (
                SELECT c.*, c.rowid AS _rid, c.rowid - f.r0 AS _idx, f.file AS _file
                FROM _checked c JOIN _files f ON f.path = c._path WHERE {where}) b
            ASOF LEFT JOIN (SELECT path, thr, max(shift) AS shift FROM _breaks GROUP BY path, thr) k
                ON b._path = k.path AND b._idx >= k.thr"""

    # repeated primary keys: the first occurrence (in file order) stays, later ones are quarantined
    pk = ", ".join(R.q(k) for k in contract.primary_key)
    dups = con.execute(
        f"SELECT count(*) FROM (SELECT {pk} FROM _checked WHERE _fail = 0 GROUP BY {pk} HAVING count(*) > 1)"
    ).fetchone()[0]
    if dups:
        con.execute(f"""
            UPDATE _checked SET _fail = {R.DUPLICATE_KEY}, _dup_of = d.first_rid
            FROM (SELECT rowid AS rid, min(rowid) OVER (PARTITION BY {pk}) AS first_rid
                  FROM _checked WHERE _fail = 0) d
            WHERE _checked.rowid = d.rid AND d.rid <> d.first_rid
        """)
        key = " || ', ' || ".join(f"CAST(c.{R.q(k)} AS VARCHAR)" for k in contract.primary_key)
        con.execute(f"""
            UPDATE _checked c SET _detail = 'duplicate_key: ({", ".join(contract.primary_key)}) = (' || {key}
                || ') repeats line ' || first._line || ' of ' || first._file
            FROM ({numbered("c.rowid IN (SELECT _dup_of FROM _checked)")}) first
            WHERE c._dup_of = first._rid
        """)
    loaded_at = f"TIMESTAMP '{record.started_at}'"
    cols = ", ".join(R.q(c) for c in contract.column_names)
    valid_sql = (
        f"SELECT {cols}, {record.load_id} AS _load_id, _file, _line AS _row_number, "
        f"{loaded_at} AS _loaded_at FROM ({numbered('c._fail = 0')})"
    )
    loaded, failed = con.execute(
        "SELECT count(*) FILTER (_fail = 0), count(*) FILTER (_fail <> 0) FROM _checked"
    ).fetchone()
    rejected_lines = con.execute("SELECT count(*) FROM _skipped").fetchone()[0]
    if failed + rejected_lines == 0:
        return valid_sql, None, (loaded, 0)
    meta = f"{record.load_id}::BIGINT, {R.lit(d.source)}, {R.lit(d.period)}"
    reader_rules = " ".join(f"WHEN {R.lit(k)} THEN {R.lit(v)}" for k, v in READER_RULES.items())
    # lines found damaged while hashing reached the reader as lines it rejects: their own rule and text
    _insert_arrow(
        con,
        "_bad",
        {"path": "VARCHAR", "line": "BIGINT", "rule": "VARCHAR", "detail": "VARCHAR", "raw_line": "VARCHAR"},
        [(str(f.path), n, b.rule, b.detail, b.raw_line) for f in d.files for n, b in f.bad_lines.items()],
    )
    too_long = (
        "'line_too_long: the line is ' || coalesce(regexp_extract(e.error_message, 'Actual Size: ?([0-9]+)', 1), "
        f"'more than {contract.max_line_bytes}') || ' bytes, the contract allows {contract.max_line_bytes}'"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _quarantine AS
        SELECT {meta}, _file AS file, _line AS row_number, {R.rule_name_expression(rules)} AS rule,
               {R.column_name_expression(rules, contract)} AS column_name, _detail AS detail,
               _raw AS raw_line, {loaded_at} AS quarantined_at, _path
        FROM ({numbered("c._fail <> 0")})
        UNION ALL
        SELECT {meta}, f.file, e.line,
               coalesce(x.rule, CASE e.error_type {reader_rules} ELSE 'malformed' END),
               CASE WHEN x.rule IS NULL THEN e.column_name END,
               coalesce(x.detail, CASE e.error_type WHEN 'LINE SIZE OVER MAXIMUM' THEN {too_long}
                   ELSE CASE e.error_type {reader_rules} ELSE 'malformed' END || ': ' || e.error_message END),
               CASE WHEN x.rule IS NOT NULL THEN x.raw_line
                    WHEN e.error_type <> 'LINE SIZE OVER MAXIMUM' THEN coalesce(e.csv_line, '') END,
               {loaded_at}, s.file_path
        FROM (SELECT * FROM _rej_errors
              QUALIFY row_number() OVER (PARTITION BY scan_id, file_id, line ORDER BY
                  CASE WHEN error_type = 'LINE SIZE OVER MAXIMUM' THEN 0
                       WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') THEN 1 ELSE 2 END,
                  column_idx) = 1) e
        JOIN _rej_scans s USING (scan_id, file_id)
        JOIN _files f ON f.path = s.file_path
        LEFT JOIN _bad x ON x.path = s.file_path AND x.line = e.line
        UNION ALL
        SELECT {meta}, f.file, b.line, 'blank_line', NULL, 'blank_line: an empty line', '', {loaded_at}, b.path
        FROM _blank b JOIN _files f ON f.path = b.path
    """)
    _fill_lines_from_file(con, contract.max_line_bytes)
    quarantine_sql = "SELECT * EXCLUDE (_path) FROM _quarantine ORDER BY file, row_number"
    return valid_sql, quarantine_sql, (loaded, failed + rejected_lines)


def _fill_lines_from_file(con, limit: int) -> None:
    """Lines whose text SQL does not have: repeated keys (found among valid rows, whose text is not kept) and
    over-long lines (the reader keeps only their start; quarantine keeps `limit` bytes and the size). Read back
    from the file, one bounded pass per file, inserted as one Arrow batch."""
    wanted: dict[str, set[int]] = {}
    for path, line in con.execute("SELECT _path, row_number FROM _quarantine WHERE raw_line IS NULL").fetchall():
        wanted.setdefault(path, set()).add(line)
    found = []
    for path, lines in wanted.items():
        last = max(lines)
        with open(path, "rb") as fh:
            for number, body, size, _ in bounded_lines(fh, limit):
                if number in lines:
                    text = too_long_text(body, size, "utf-8") if size > limit else body.decode("utf-8")
                    found.append((path, number, text))
                if number >= last:
                    break
    if not found:
        return
    _insert_arrow(con, "_lines", {"path": "VARCHAR", "line": "BIGINT", "raw_line": "VARCHAR"}, found)
    con.execute(
        "UPDATE _quarantine q SET raw_line = l.raw_line FROM _lines l WHERE q._path = l.path AND q.row_number = l.line"
    )


def _insert_arrow(con, table: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """(Re)create a temp table and fill it in one Arrow batch (executemany costs ~1 ms a row in DuckDB)."""
    import pyarrow as pa

    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in columns.items())})"
    )
    if not rows:
        return
    batch = pa.table({name: [r[i] for r in rows] for i, name in enumerate(columns)})  # noqa: F841 (read by SQL)
    con.execute(f"INSERT INTO {table} SELECT * FROM batch")
