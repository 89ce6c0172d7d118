"""The query engines behind the detections: Ibis backends over the Parquet lake.

DuckDB (embedded) is the default. Apache Spark (PySpark, ``pip install
reconwatch[spark]``) runs the same detection code when the data outgrows one
machine: detections receive Ibis tables and return Ibis expressions, written
in the portable subset (tumbling windows by integer division of epoch
seconds, GROUP BY with COUNT(DISTINCT), window functions over a partition with
an ORDER BY, no regex after ingest). ``tests/test_conformance_spark.py``
demands identical findings from both engines.

Spark's session time zone is pinned to UTC: Ibis turns window starts into
timestamps with ``from_unixtime``, which reads the session zone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.common.exceptions import IbisError

from reconwatch import schema
from reconwatch.config import EngineConfig
from reconwatch.copies import Copy, single_input, without_copies
from reconwatch.lake import Lake, LakeError

ENGINES = ("duckdb", "spark")

#: ``busy_events`` declines when the busy sources hold more than this share
#: of the events: copying most of a table to skip a little of it does not pay.
BUSY_SHARE_LIMIT = 0.5


def cached(expr: ir.Table, releases: contextlib.ExitStack) -> ir.Table:
    """``expr`` computed once into a temporary table of its backend, released
    when ``releases`` closes, for a result that several queries read.

    An expression over in-memory tables only is returned as it is: it has no
    backend of its own, and its cache would land on Ibis's default backend,
    which the lake's tables could then not be joined with ("Multiple backends
    found").
    """
    try:
        expr._find_backend(use_default=False)
    except IbisError:
        return expr
    return releases.enter_context(expr.cache())


def of_sources(
    tables: Mapping[str, ir.Table], sources: Sequence[str], releases: contextlib.ExitStack
) -> dict[str, ir.Table]:
    """Each of ``tables`` cut to the events of ``sources`` (by ``source_ip``),
    each computed once (``cached``) for the stages that read only those.

    After the detections, the cases, their charts, the exposure audit and the
    honeypot plan read the findings' sources' events: each cut them from the
    whole table, a scan of every row apiece (0.5-0.8 s each on 20M lines).
    """
    known = sorted({source for source in sources if source is not None})
    wanted = ibis.memtable(pa.table({"_source": pa.array(known, pa.string())}))
    return {
        name: cached(table.semi_join(wanted, table.source_ip == wanted._source), releases)
        for name, table in tables.items()
    }


def _same_columns(files: Sequence[str]) -> bool:
    """Whether the local Parquet ``files`` all have the same columns and types
    (their footers read once: 20 ms for 155 files). False when one cannot be
    read: the engine's reading then says which."""
    try:
        kinds = {tuple((f.name, str(f.type)) for f in pq.read_schema(path)) for path in files}
    except (OSError, pa.ArrowException):
        return False
    return len(kinds) == 1


def _schema_columns(table: ir.Table, wanted: pa.Schema) -> list[ir.Value]:
    """``wanted``'s columns of ``table``, a typed null for one it lacks."""
    present = set(table.columns)
    return [
        table[f.name]
        if f.name in present
        else ibis.null().cast(dt.DataType.from_pyarrow(f.type)).name(f.name)
        for f in wanted
    ]


def on_duckdb(expr: ir.Expr) -> bool:
    """Whether ``expr`` runs on DuckDB (False for an expression over unbound tables)."""
    try:
        return bool(ibis.get_backend(expr).name == "duckdb")
    except IbisError:
        return False


def results(exprs: Sequence[ir.Table]) -> Iterator[pa.Table]:
    """Each of ``exprs``'s result as Arrow, in order.

    On DuckDB the next expression is compiled on a thread while DuckDB runs
    the one before: Ibis takes 30-200 ms of Python to compile a detection,
    about as long as DuckDB takes to run it on 2M lines, and DuckDB lets go of
    the interpreter while it runs. Elsewhere (Spark) one after the other.
    """
    backends = [ibis.get_backend(expr) for expr in exprs]
    if any(backend.name != "duckdb" for backend in backends):
        for expr in exprs:
            yield expr.to_pyarrow()
        return
    with ThreadPoolExecutor(1, thread_name_prefix="compile") as pool:
        pairs = list(zip(backends, exprs, strict=True))
        compiled = [pool.submit(backend.compile, expr) for backend, expr in pairs]
        for (backend, expr), sql in zip(pairs, compiled, strict=True):
            # Ibis's own steps before a query (its in-memory tables registered),
            # then the query as Ibis's ``to_pyarrow`` runs it.
            backend._run_pre_execute_hooks(expr)
            table: pa.Table = backend.con.sql(sql.result()).to_arrow_table()
            yield table


def record_batches(expr: ir.Table, rows: int = 1 << 20) -> pa.RecordBatchReader:
    """``expr``'s rows (a DuckDB expression) streamed in Arrow batches of up to ``rows``.

    Not Ibis's ``to_pyarrow_batches``: Ibis 12 fetches them with DuckDB's
    ``fetch_record_batch``, which DuckDB 2 no longer has (``to_arrow_reader``
    is there from DuckDB 1.5, the floor in pyproject.toml). Ibis's own way to a
    DuckDB relation (registering the in-memory tables the expression reads
    first) is private, and pinned with Ibis (``<13``).
    """
    relation = ibis.get_backend(expr)._to_duckdb_relation(expr)
    reader: pa.RecordBatchReader = relation.to_arrow_reader(rows)
    return reader


@ibis.udf.scalar.builtin(name="hash")  # type: ignore[untyped-decorator]
def _duckdb_hash(value: str) -> dt.UInt64:
    """DuckDB's own 64-bit hash (Ibis's ``hash()`` casts it through BIT to a
    signed integer, which costs a tenth more per row)."""


class EngineError(Exception):
    """An engine that cannot start (Spark not installed, bad master URL...)."""


#: Driver heap of a local Spark session (Spark's own default is 1g).
LOCAL_DRIVER_MEMORY: Final = "3g"


def spark_session(master: str, app: str = "reconwatch") -> Any:
    """A Spark session for reconwatch: UTC, no UI, modest shuffle width for small clusters."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(
            "the spark engine needs PySpark: pip install 'reconwatch[spark]' (and Java 17)"
        ) from exc
    # Python tasks (Spark ingest) must run this interpreter, where reconwatch is
    # installed; PySpark's own default is whatever "python3" is on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app)
    if master.startswith("local"):
        # Local mode runs everything in the driver, whose default heap (1 GB)
        # the detections' plans outgrew (CI: "Java heap space" planning the
        # internal detections); a cluster sets its own.
        builder = builder.config("spark.driver.memory", LOCAL_DRIVER_MEMORY)
    return (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )


class Engine:
    """An Ibis connection bound to one lake."""

    def __init__(
        self, lake: Lake, config: EngineConfig | None = None, kind: str | None = None
    ) -> None:
        config = config or EngineConfig()
        kind = kind or config.kind
        if kind not in ENGINES:
            raise EngineError(f"unknown engine {kind!r}; available: {', '.join(ENGINES)}")
        self.lake = lake
        self.kind = kind
        self._session: Any = None
        #: Rows left out as copies of another file's (``reconwatch.copies``), by table.
        self.copies: dict[str, list[Copy]] = {}
        self._deduplicated: dict[tuple[str, tuple[str, ...]], ir.Table] = {}
        self._busy: list[str] = []  # temporary tables made by busy_events, newest last
        #: Whether a set of lake files all have the same columns (``_same_columns``).
        self._uniform: dict[tuple[str, ...], bool] = {}
        if kind == "spark":
            self._session = spark_session(config.spark_master)
            self.con: Any = ibis.pyspark.connect(self._session)
            return
        spill = lake.spill_dir()
        spill.mkdir(parents=True, exist_ok=True)
        settings: dict[str, Any] = {
            "memory_limit": config.memory_limit,
            "temp_directory": str(spill),
        }
        if config.threads is not None:
            settings["threads"] = config.threads
        self.con = ibis.duckdb.connect(**settings)

    def table(self, name: str) -> ir.Table:
        """A lake table as an Ibis table (empty, with the right schema, if absent)."""
        files = self.lake.files(name)
        if not files:
            return ibis.memtable(schema.empty(schema.TABLES[name]))
        if self.kind == "spark":
            # Spark discovers the day partitions itself from the table's folder
            # (object storage through Spark's own connector: s3a://, hdfs://).
            # mergeSchema: files an older version wrote may lack a newer column.
            table = self.con.read_parquet(
                self.lake.table_uri(name).replace("s3://", "s3a://", 1), mergeSchema=True
            )
        elif self.lake.remote:
            # DuckDB's httpfs extension is downloaded on first use, which an offline
            # SOC host cannot do; an Arrow dataset over pyarrow's filesystem is
            # scanned lazily by DuckDB (columns and filters pushed down) instead.
            view = f"lake_{name}"
            self.con.con.register(view, self.lake.dataset(name))
            table = self.con.table(view)
        else:
            try:
                # By name when the files differ (an older version's may lack a
                # newer column: by position, a missing column fails the read, or
                # is dropped from every file when such a file comes first). Not
                # always: DuckDB then reads every file's footer at every query.
                listed = tuple(files)
                if listed not in self._uniform:
                    self._uniform[listed] = _same_columns(files)
                uniform = self._uniform[listed]
                table = self.con.read_parquet(
                    files, hive_partitioning=True, union_by_name=not uniform
                )
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:
                # A damaged file (its footer is read here): one line, not a traceback.
                first = str(exc).strip().splitlines()[0]
                raise LakeError(f"{self.lake.location}: cannot read table {name}: {first}") from exc
        # Select the schema's columns so partition columns and evolution never
        # leak; a column no file has (a lake an older version wrote) is null.
        table = table.select(*_schema_columns(table, schema.TABLES[name]))
        if name == "rejects" or single_input(files):
            return table
        # The same events in two inputs (kern.log and syslog) count once. Decided
        # once per table and set of files: it takes a few queries.
        key = (name, tuple(files))
        if key not in self._deduplicated:
            deduplicated, self.copies[name] = without_copies(table, name)
            if self.copies[name] and self.kind == "duckdb":
                # Every detection reads the table: the anti-join runs once, not
                # once per detection (3x the detections' time on 1M + 1M rows).
                # A temporary table spills under engine.memory_limit.
                deduplicated = self._temp_table(f"_without_copies_{name}", deduplicated)
            self._deduplicated[key] = deduplicated
        return self._deduplicated[key]

    def busy_events(
        self, table: ir.Table, least: int, share_limit: float = BUSY_SHARE_LIMIT
    ) -> ir.Table | None:
        """The events of ``table``'s sources with ``least`` events or more, for
        ``reconwatch.detect.busy_inputs``: a temporary table (it spills under
        ``memory_limit``), read by several detections.

        None on Spark, which would compute it again at every reading (and has
        run the driver out of memory that way), and when the busy sources hold
        more than ``share_limit`` of the events.
        """
        if self.kind != "duckdb":
            return None
        # Sources are counted by a 64-bit hash of their address: grouping
        # millions of integers costs half what grouping their texts does, and
        # the events are then picked by the same integer. Sources that share a
        # hash with a busy one come along with all their events (with 64 bits,
        # practically never): a detection's result is the same on any table
        # that holds every event of its busy sources (what ``least_events``
        # promises), as for the sources between this bound and its own.
        counts = table.group_by(_key=_duckdb_hash(table.source_ip)).aggregate(_events=table.count())
        # Two steps: a query reading ``table`` twice would have DuckDB
        # materialise every column of it first (1.5 s instead of 0.5 s on 2M events).
        sources = self._temporary("_busy_sources", counts.filter(counts._events >= least))
        # Scalars through Arrow: Ibis's ``execute`` goes through pandas.
        kept = sources._events.sum().to_pyarrow().as_py()
        if kept is not None and kept > share_limit * table.count().to_pyarrow().as_py():
            self.con.drop_table(self._busy.pop(), force=True)  # this call's table only
            return None
        busy = table.filter(_duckdb_hash(table.source_ip).isin(sources._key))
        return self._temporary("_busy_events", busy)

    def _temporary(self, prefix: str, expr: ir.Table) -> ir.Table:
        name = f"{prefix}_{len(self._busy)}"
        self._busy.append(name)
        return self._temp_table(name, expr)

    def _temp_table(self, name: str, expr: ir.Table) -> ir.Table:
        """``expr`` written once into DuckDB temporary table ``name`` (replaced).

        Not ``create_table(..., overwrite=True)``: for a temporary table Ibis
        writes it under another name and then copies it whole to ``name``
        (4.4 s instead of 2.4 s for 3.7M events).
        """
        self.con.drop_table(name, force=True)
        return self.con.create_table(name, expr, temp=True)

    @contextlib.contextmanager
    def busy_sources(
        self, share_limit: float = BUSY_SHARE_LIMIT
    ) -> Iterator[Callable[[ir.Table, int], ir.Table | None]]:
        """``busy_events`` with ``share_limit``, to hand ``detect.busy_inputs``;
        the tables it made are dropped on leaving (their memory goes back to
        the cases)."""
        try:
            yield functools.partial(self.busy_events, share_limit=share_limit)
        finally:
            while self._busy:
                self.con.drop_table(self._busy.pop(), force=True)

    def copy_notes(self) -> list[str]:
        """One line per input whose rows were left out as copies of another's."""
        return [copy.message() for copies in self.copies.values() for copy in copies]

    def tables(self) -> dict[str, ir.Table]:
        """Every event table the lake holds data for (``network`` always, maybe empty)."""
        present = {
            name: self.table(name)
            for name in schema.TABLES
            if name != "rejects" and self.lake.files(name)
        }
        present.setdefault("network", self.table("network"))
        return present

    def close(self) -> None:
        """Release the engine (a Spark session is left to the process: starting one is slow)."""
        if self.kind == "duckdb":
            self.con.disconnect()
