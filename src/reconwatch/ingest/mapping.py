"""User-defined mappings: CSV or JSON-lines exports of other tools into one table, no code.

A SIEM export, a cloud firewall's CSV or an EDR's JSON lines can feed the
hunt once a small YAML file says which of its columns is which (see
docs/mapping.md for every key)::

    name: vpn-export              # becomes event_dataset
    table: auth
    format: csv                   # csv (with a header line) or jsonl
    columns:                      # table column: CSV header name / JSON key (a.b for nested)
      timestamp: Time
      source_ip: Client IP
      user_name: User
      event_outcome: Result
    timestamp_format: "%d/%m/%Y %H:%M:%S"   # or iso8601, epoch, epoch_ms
    timezone: Europe/Paris        # for stamps without a zone
    constants:
      service_name: vpn

Mapping files are listed in ``config.ingest.mappings``. A file is sniffed as a
mapping when its first line is the CSV header a mapping declares (``header``,
or else one containing every mapped column) or most of its JSON objects have the keys of
the columns a row needs (timestamp, addresses); ``--format mapping`` picks the mapping the same way.

Parsing stays vectorised: CSV batches go through Arrow's CSV reader with each
line prefixed by its line number (so a row always knows its line, and a line
Arrow cannot read is a reject with that number), JSON lines through DuckDB's
JSON functions; the typed columns and stamps are one DuckDB query. Header
names and JSON keys never enter SQL text: CSV columns are renamed to their
positions and JSON paths are bound parameters; constants are bound too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from reconwatch import schema, strict_yaml
from reconwatch.config import Config
from reconwatch.ingest.base import (
    EMPTY_REJECTS,
    ParseContext,
    Parsed,
    Parser,
    empty_rows,
    reject_table,
)
from reconwatch.ingest.linesql import json_path, json_values_sql, lit, run_batch

NO_MAPPING: Final = "no mapping matches this file"
BAD_MAPPING: Final = "mapping file unusable"
BAD_CSV_ROW: Final = "CSV row does not match the header"
NOT_JSON: Final = "not a JSON object"
MISSING_TIMESTAMP: Final = "missing timestamp"

#: Columns the framework fills; a mapping may not set them.
_FRAMEWORK_COLUMNS: Final = frozenset({"log_file", "log_line", "event_dataset"})
#: Stamps formats besides strptime patterns.
_NAMED_FORMATS: Final = ("iso8601", "epoch", "epoch_ms")


class MappingError(Exception):
    """A mapping file that cannot be used; the message names the file and the key."""


def _valid_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class Mapping(BaseModel):
    """One mapping file, validated (unknown keys are errors, as in the config)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Names the source: the rows' ``event_dataset`` and the format in run stats.
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    table: Literal["network", "dns", "http", "auth", "alert"]
    format: Literal["csv", "jsonl"]
    #: CSV only: one character.
    delimiter: str = Field(",", min_length=1, max_length=1)
    #: CSV only: the exact header line's fields; default: any header holding the mapped columns.
    header: list[str] | None = None
    #: Table column -> source column (CSV header name, or JSON key with '.' between levels).
    columns: dict[str, str]
    #: strptime pattern (``%Y-%m-%d %H:%M:%S``), or iso8601, epoch (seconds), epoch_ms.
    timestamp_format: str = "iso8601"
    #: Zone of stamps that carry none.
    timezone: Annotated[str, AfterValidator(_valid_timezone)] = "UTC"
    #: Table column -> the same value on every row ("vpn", 443...).
    constants: dict[str, str | int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _columns_exist(self) -> Mapping:
        table = schema.TABLES[self.table]
        names = set(table.names) - _FRAMEWORK_COLUMNS
        for column in [*self.columns, *self.constants]:
            if column not in names:
                raise ValueError(f"{self.table} has no column {column!r}")
            if pa.types.is_list(table.field(column).type):
                raise ValueError(f"list column {column!r} cannot be mapped")
        given = set(self.columns) | set(self.constants)
        for field in table:
            required = not field.nullable and field.name not in _FRAMEWORK_COLUMNS
            if required and field.name not in given:
                raise ValueError(f"{self.table} needs {field.name!r} mapped")
        if "timestamp" not in self.columns:
            raise ValueError("timestamp must be mapped to a source column")
        return self

    def required(self) -> list[str]:
        """Source keys of the columns a row cannot do without (timestamp, addresses).

        JSON sniffing asks for these only: optional keys are often left out of
        lines that have no value for them.
        """
        table = schema.TABLES[self.table]
        return [key for column, key in self.columns.items() if not table.field(column).nullable]

    def wanted(self) -> list[str]:
        """The source columns/keys the mapping reads, in a fixed order."""
        return list(dict.fromkeys(self.columns.values()))


def load_mapping(path: Path) -> Mapping:
    try:
        data = strict_yaml.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping: {exc.strerror}") from exc
    except strict_yaml.DuplicateKeyError as exc:  # two columns mapped: the first lost
        raise MappingError(f"{path}:{strict_yaml.error_line(exc)}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML") from exc
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise MappingError(f"{path}: {key}: {first['msg']}") from exc


#: Mappings the sniffer knows, set by ``activate`` (sniffing has no config of its own).
_ACTIVE: list[Mapping] = []


def activate(config: Config) -> list[Mapping]:
    """Load ``config.ingest.mappings`` for sniffing; call once per run before sniffing."""
    mappings = [load_mapping(Path(p)) for p in config.ingest.mappings]
    _ACTIVE[:] = mappings
    return mappings


def _csv_fields(line: str, delimiter: str) -> list[str]:
    """The fields of one CSV line; none for a line the csv module cannot read
    (a field past its 131,072-character limit): such a line is no header."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def matches(mapping: Mapping, sample: Sequence[str]) -> bool:
    """Does ``sample`` (a file's first non-blank lines) look like this mapping's source?"""
    if not sample:
        return False
    if mapping.format == "csv":
        fields = [f.strip() for f in _csv_fields(sample[0].lstrip("\ufeff"), mapping.delimiter)]
        if mapping.header is not None:
            return fields == mapping.header
        return set(mapping.wanted()) <= set(fields)
    hits = 0
    for line in sample:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and all(_has_key(value, k) for k in mapping.required()):
            hits += 1
    return hits > 0 and hits * 2 >= len(sample)


def _has_key(value: dict[str, object], key: str) -> bool:
    current: object = value
    for part in key.split("."):
        if not isinstance(current, dict) or part not in current:
            return False
        current = current[part]
    return True


def _timestamp_sql(mapping: Mapping, text: str) -> str:
    """SQL turning ``text`` into a naive UTC TIMESTAMP per the mapping's format."""

    def local(expr: str) -> str:
        return f"timezone('UTC', timezone($map_tz, {expr}))"

    fmt = mapping.timestamp_format
    if fmt == "iso8601":
        zoned = lit(r"(Z|[+-]\d{2}(:?\d{2})?)$")
        return (
            f"CASE WHEN regexp_matches({text}, {zoned}) "
            f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) "
            f"ELSE {local(f'TRY_CAST({text} AS TIMESTAMP)')} END"
        )
    if fmt in ("epoch", "epoch_ms"):
        scale = " / 1000.0" if fmt == "epoch_ms" else ""
        return f"timezone('UTC', TRY(to_timestamp(TRY_CAST({text} AS DOUBLE){scale})))"
    if "%z" in fmt or "%Z" in fmt:
        return f"timezone('UTC', try_strptime({text}, $map_format))"
    return local(f"try_strptime({text}, $map_format)")


#: The values a mapped number column may hold (lowest, highest or None); a
#: value outside is rejected as ``invalid COLUMN``, as every parser rejects a
#: port above 65535 or below 0. The SQL types alone would let ``-1`` through.
_RANGES: Final[dict[str, tuple[int, int | None]]] = {
    "source_port": (0, 65535),
    "destination_port": (0, 65535),
    "ip_ttl": (0, 255),
    "ip_id": (0, 65535),
    "tcp_window": (0, 65535),
    "dns_id": (0, 65535),
    "http_response_status_code": (0, 999),
    "network_bytes": (0, None),
    "network_packets": (0, None),
    "http_response_bytes": (0, None),
}


def _sql_type(field: pa.Field) -> str | None:
    kinds = {
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
    }
    return kinds.get(field.type)


def _select_sql(mapping: Mapping, source: dict[str, str]) -> tuple[str, dict[str, object]]:
    """The SELECT list over ``source`` (source column -> SQL for its text) and its params."""
    table = schema.TABLES[mapping.table]
    params: dict[str, object] = {"map_tz": mapping.timezone}
    if mapping.timestamp_format not in _NAMED_FORMATS:
        params["map_format"] = mapping.timestamp_format
    selects = []
    checks = []
    for column, key in mapping.columns.items():
        text = f"nullif(trim({source[key]}), '')"
        if column == "timestamp":
            selects.append(f"{_timestamp_sql(mapping, text)} AS timestamp")
            checks.append(f"WHEN {text} IS NULL THEN {lit(MISSING_TIMESTAMP)}")
        elif column == "source_ip":
            selects.append(f"{text} AS source_raw")
        elif column == "destination_ip":
            selects.append(f"{text} AS destination_raw")
        else:
            kind = _sql_type(table.field(column))
            if kind is None:
                selects.append(f"{text} AS {column}")
            else:
                number = f"TRY_CAST({text} AS {kind})"
                selects.append(f"{number} AS {column}")
                low, high = _RANGES.get(column, (None, None))
                bad = [f"{number} IS NULL"]
                bad += [f"{number} < {low}"] if low is not None else []
                bad += [f"{number} > {high}"] if high is not None else []
                checks.append(
                    f"WHEN {text} IS NOT NULL AND ({' OR '.join(bad)}) "
                    f"THEN {lit('invalid ' + column)}"
                )
    for index, (column, value) in enumerate(mapping.constants.items()):
        params[f"map_const_{index}"] = str(value)
        kind = _sql_type(table.field(column)) or "VARCHAR"
        if column == "source_ip":
            column = "source_raw"
        elif column == "destination_ip":
            column = "destination_raw"
        selects.append(f"CAST($map_const_{index} AS {kind}) AS {column}")
    if "destination_ip" not in mapping.columns and "destination_ip" not in mapping.constants:
        selects.append("CAST(NULL AS VARCHAR) AS destination_raw")
    reason = f"CASE {' '.join(checks)} END" if checks else "CAST(NULL AS VARCHAR)"
    sql = ", ".join(selects) + f", {reason} AS reason"
    # DuckDB refuses bound parameters the query does not use.
    unused = [name for name in ("map_tz", "map_format") if f"${name}" not in sql]
    for name in unused:
        params.pop(name, None)
    return sql, params


class MappingParser(Parser):
    """CSV or JSON lines read through a user's mapping file."""

    #: Its lines are read by a header (columns, layout) met before them.
    reads_lines_alone = False

    name = "mapping"
    dataset = "mapping"
    table = "network"

    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        #: A mapping file that cannot be used rejects the input with ``BAD_MAPPING``
        #: here (the run goes on with other inputs); ``activate`` raises instead,
        #: so a run started with a broken mapping says why up front.
        self.mappings: list[Mapping] = []
        self.unusable = False
        try:
            self.mappings = [load_mapping(Path(p)) for p in ctx.config.ingest.mappings]
        except MappingError:
            self.unusable = True
        self.mapping: Mapping | None = None
        #: CSV: the header line's text and the position of each column name.
        self.header_line: str | None = None
        self.positions: dict[str, int] = {}
        self.width = 0

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return any(matches(m, sample) for m in _ACTIVE)
        except Exception:  # a sniffer must never stop format detection
            return False

    def _choose(self, lines: pa.Table) -> None:
        """Pick the mapping on the file's first batch, from its first non-blank lines."""
        head = pc.filter(
            lines.column("line"),
            pc.invert(pc.equal(pc.utf8_trim_whitespace(lines.column("line")), "")),
        )
        sample = [str(s) for s in head.slice(0, 20).to_pylist()]
        for mapping in self.mappings:
            if matches(mapping, sample):
                self.mapping = mapping
                if mapping.format == "csv":
                    self.header_line = sample[0]
                    fields = _csv_fields(sample[0].lstrip("\ufeff"), mapping.delimiter)
                    self.positions = {}
                    self.width = len(fields)
                    for index, name in enumerate(fields):
                        self.positions.setdefault(name.strip(), index)
                return

    def parse(self, lines: pa.Table) -> Parsed:
        if lines.num_rows == 0:
            return Parsed(rows=empty_rows(), rejects=EMPTY_REJECTS)
        if self.mapping is None and not self.unusable:
            self._choose(lines)
        mapping = self.mapping
        if mapping is None:
            reason = BAD_MAPPING if self.unusable else NO_MAPPING
            return Parsed(
                rows=empty_rows(),
                rejects=reject_table(lines.column("log_line"), reason, lines.column("line")),
            )
        parsed = (
            self._parse_csv(lines, mapping)
            if mapping.format == "csv"
            else self._parse_json(lines, mapping)
        )
        rows = parsed.rows
        if rows.num_rows or "log_line" in rows.column_names:
            rows = rows.append_column(
                "event_dataset", pa.repeat(pa.scalar(mapping.name, pa.string()), rows.num_rows)
            )
        other: dict[str, pa.Table] = {mapping.table: rows} if mapping.table != self.table else {}
        main = rows if mapping.table == self.table else empty_rows()
        return Parsed(rows=main, rejects=parsed.rejects, skipped=parsed.skipped, other_tables=other)

    def _parse_json(self, lines: pa.Table, mapping: Mapping) -> Parsed:
        keys = mapping.wanted()
        source = {key: f"v[{i + 1}]" for i, key in enumerate(keys)}
        selects, params = _select_sql(mapping, source)
        params["map_paths"] = [json_path(k) for k in keys]
        sql = f"""
        WITH j AS (
            SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
                   {json_values_sql("line", "map_paths")} AS v
            FROM {{view}}
        ),
        m AS (SELECT log_line, _row, skip, v IS NULL AS not_json, {selects} FROM j)
        SELECT * EXCLUDE (reason, not_json),
               CASE WHEN not_json THEN {lit(NOT_JSON)} ELSE reason END AS reason
        FROM m
        """  # noqa: S608 - constant SQL and a generated view name; keys and constants are bound
        return run_batch(self.ctx.con, lines, sql, params)

    def _parse_csv(self, lines: pa.Table, mapping: Mapping) -> Parsed:
        text = lines.column("line").combine_chunks()
        blank = pc.equal(pc.utf8_trim_whitespace(text), "")
        header = pc.equal(text, pa.scalar(self.header_line or "", pa.string()))
        skip = pc.or_(blank, header)
        data = lines.filter(pc.invert(skip))
        skipped = lines.num_rows - data.num_rows
        if data.num_rows == 0:
            return Parsed(
                rows=empty_rows(),
                rejects=EMPTY_REJECTS,
                skipped=skipped,
            )
        # Each line prefixed by its number: Arrow's reader keeps it as column 0.
        delimiter = mapping.delimiter
        prefixed = pc.binary_join_element_wise(
            pc.cast(data.column("log_line"), pa.string()), data.column("line"), delimiter
        )
        joined = pc.binary_join(
            pa.ListArray.from_arrays(
                pa.array([0, len(prefixed)], pa.int32()),
                prefixed.combine_chunks() if isinstance(prefixed, pa.ChunkedArray) else prefixed,
            ),
            "\n",
        )
        body = str(joined[0].as_py()).encode("utf-8")
        width = self.width + 1
        names = ["__line"] + [f"c{i}" for i in range(width - 1)]

        def invalid(row: pacsv.InvalidRow) -> str:
            # Called per unreadable row only; those lines are found by number below.
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(
                column_names=names, block_size=max(1 << 20, len(body) + 1)
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, invalid_row_handler=invalid, newlines_in_values=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        good_numbers = pc.cast(table.column("__line"), pa.int64())
        is_good = pc.is_in(data.column("log_line"), value_set=good_numbers.combine_chunks())
        good = data.filter(is_good)
        bad = data.filter(pc.invert(is_good))
        if good.num_rows != table.num_rows:
            raise ValueError("CSV rows and lines disagree")  # a bug: run.py reports it
        for i in range(width - 1):
            good = good.append_column(f"c{i}", table.column(f"c{i}"))
        source = {
            key: f"c{self.positions[key]}" for key in mapping.wanted() if key in self.positions
        }
        missing = [key for key in mapping.wanted() if key not in self.positions]
        for key in missing:
            source[key] = "CAST(NULL AS VARCHAR)"
        selects, params = _select_sql(mapping, source)
        columns = ", ".join(f"c{i}" for i in range(width - 1))
        sql = f"""
        SELECT log_line, _row, FALSE AS skip, {selects}
        FROM (SELECT log_line, _row, {columns} FROM {{view}})
        """  # noqa: S608 - positional column names and constant SQL; values are bound
        parsed = (
            run_batch(self.ctx.con, good, sql, params)
            if good.num_rows
            else Parsed(rows=empty_rows(), rejects=EMPTY_REJECTS)
        )
        rejects = parsed.rejects
        if bad.num_rows:
            rejects = pa.concat_tables(
                [rejects, reject_table(bad.column("log_line"), BAD_CSV_ROW, bad.column("line"))]
            )
        return Parsed(
            rows=parsed.rows, rejects=rejects.sort_by("log_line"), skipped=skipped + parsed.skipped
        )


PARSERS: tuple[type[Parser], ...] = (MappingParser,)
