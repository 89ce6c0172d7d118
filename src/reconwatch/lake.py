"""The Parquet lake: one folder per normalised table (the dataset), partitioned by day.

Layout::

    LAKE/network/event_date=2026-09-30/<run>-<file>-<batch>-0.parquet
    LAKE/rejects/ingest_date=2026-11-28/<run>-<file>-<batch>-0.parquet
    LAKE/_runs/<run>.json          per-file line accounting of each ingest run
    LAKE/_maintenance/<stamp>-<kind>.json   what compaction and retention did
    LAKE/_compacting/<id>.json     journal of a compaction in progress

Each ingest run appends new files and never rewrites old ones, so a crash
mid-run leaves earlier runs intact. Later stages read the lake, nothing else.

A run's files count once its record ``_runs/<run>.json`` is written, after
all of them: readers (:meth:`Lake.files`, :meth:`Lake.partitions`, compaction)
leave out the files of a run without one (interrupted, or still writing),
and the next ingest into the lake deletes them (``remove_unfinished``). Each
file is written under a hidden name (``.ingest-<name>``) and renamed into
place once complete, so no reader meets half a file; object stores, whose
objects appear only once uploaded whole and whose rename is a copy, are
written directly.

``LAKE`` is a local folder or a URL that a ``pyarrow.fs`` filesystem serves:
``file:///srv/lake``, ``s3://bucket/prefix`` (credentials from the usual AWS
environment or files; a private endpoint with
``?endpoint_override=host:port&scheme=http``), ``hdfs://namenode/lake``,
``gs://bucket/prefix``. Every read and write goes through that filesystem.

Compaction rewrites a partition's many small files (one per input batch) into
few, and must never let a reader see a row twice or not at all: the new files
are written under hidden names, a journal naming old and new is written, the
new files are renamed into place, then the old ones deleted. :meth:`Lake.files`
hides the old files of a journal whose new files are all in place, and the
new ones of a journal that is not, so a reader sees one set or the other; the
next maintenance call finishes or undoes an interrupted compaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from reconwatch import schema
from reconwatch.files import exclusive

PARTITION = {
    "network": "event_date",
    "dns": "event_date",
    "http": "event_date",
    "auth": "event_date",
    "alert": "event_date",
    "rejects": "ingest_date",
}

log = logging.getLogger(__name__)

RUNS = "_runs"
#: The file whose flock serialises ingest runs into one local lake.
INGEST_LOCK = "_ingest.lock"
MAINTENANCE = "_maintenance"
JOURNALS = "_compacting"
#: Prefix of the files compaction puts in place of a partition's old ones.
COMPACTED = "compacted-"
#: How often a reader lists the lake again while compactions finish under it.
LISTING_TRIES = 5
#: Prefix of a file being written (hidden: readers and Spark skip it), renamed when complete.
WRITING = ".ingest-"
#: A lake file an ingest run wrote: ``<run id>-<file>-<batch>-<n>.parquet``, the run id
#: being ``Lake.new_run_id``'s. Other names (compacted files) belong to no run.
RUN_FILE = re.compile(r"(?:\.ingest-)?(\d{8}T\d{12}-[0-9a-f]{8})-")
#: An unfinished run on a lake without the ingest lock (object storage) is
#: deleted only once it started this long ago: another run may be writing it.
STALE_RUN = dt.timedelta(days=1)
#: Filesystems whose ``move`` is a copy and whose objects appear only once
#: written whole: lake files are written under their own names.
_NO_RENAME = frozenset({"S3FileSystem", "GcsFileSystem"})
#: Columns written without a dictionary: different on nearly every row by
#: nature (the line number, an ephemeral port, the IP ID), so Parquet's
#: dictionary would fill up and be dropped for each file, after the work of
#: building it (a fifth of the write time of a netfilter batch).
NO_DICTIONARY = frozenset({"log_line", "source_port", "ip_id"})
#: The same per table: a firewall's sources (on an internet-facing one most
#: addresses of a batch are distinct: 7% of a netfilter batch's write time,
#: and DuckDB reads the plain column no slower).
NO_DICTIONARY_IN: Final[dict[str, frozenset[str]]] = {"network": frozenset({"source_ip"})}
#: Columns written without min/max statistics: addresses in no order and free
#: text, whose minimum and maximum rule out no row group (computing them was a
#: sixth of a netfilter batch's write time).
NO_STATISTICS = frozenset({"source_ip", "destination_ip", "log_prefix", "log_file"})


def plain_columns(table: str) -> frozenset[str]:
    """The columns of lake table ``table`` written without a dictionary."""
    return NO_DICTIONARY | NO_DICTIONARY_IN.get(table, frozenset())


def parquet_options(table: str, schema: pa.Schema) -> dict[str, list[str]]:
    """Parquet writer options for lake table ``table``'s rows (``schema``):
    which leaf columns get a dictionary and which statistics (by leaf path:
    Parquet matches them against ``dns_answers.list.element``, not
    ``dns_answers``)."""
    plain = plain_columns(table)

    def leaves(skipped: frozenset[str]) -> list[str]:
        return [
            path
            for field in schema
            if field.name not in skipped
            for path in _leaf_paths(field.name, field.type)
        ]

    return {"use_dictionary": leaves(plain), "write_statistics": leaves(NO_STATISTICS)}


def _leaf_paths(path: str, kind: pa.DataType) -> list[str]:
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _leaf_paths(f"{path}.list.element", kind.value_type)
    if pa.types.is_struct(kind):
        return [leaf for child in kind for leaf in _leaf_paths(f"{path}.{child.name}", child.type)]
    return [path]


#: Rows per compacted file: one file per day for most sites, and a size (a few
#: hundred MB of Parquet) that one Spark task or DuckDB thread reads comfortably.
COMPACT_FILE_ROWS = 8_000_000
#: Rows per row group written by compaction (DuckDB and Spark split work by row group).
COMPACT_GROUP_ROWS = 1_000_000


class LakeError(Exception):
    """A lake location that cannot be opened, or an operation it does not support."""


@dataclass
class FileStats:
    """Line accounting for one input: ``lines == parsed + rejected + skipped``."""

    name: str
    format: str | None = None
    lines: int = 0
    parsed: int = 0
    rejected: int = 0
    skipped: int = 0
    #: Events beyond one per parsed line: lines that stand for several
    #: (rsyslog's "message repeated N times: [ ... ]"), written once per event.
    repeated: int = 0
    #: Events such lines claimed beyond the caps (``ingest.base.MAX_REPEAT``
    #: per line, ``MAX_BATCH_REPEAT`` per batch): counted, not written.
    repeats_cut: int = 0
    #: Rows whose client was read from X-Forwarded-For, their peer being one of
    #: ``ingest.trusted_proxies`` (``ingest.forwarded``).
    forwarded: int = 0
    #: Rows from a trusted proxy with an X-Forwarded-For that named no client
    #: (``unknown``, an obfuscated id, a recipe logging something else there):
    #: kept with the proxy's address, which containment never blocks.
    forwarded_unread: int = 0
    #: A reason the input could not be read to its end (unreadable, corrupt gzip...).
    error: str | None = None
    #: ``error`` says why the input was left out on purpose (the same file named
    #: twice, a FIFO met in a directory walk): warned about, but nothing meant to
    #: be read was lost (``hunt`` and ``ingest`` exit 0, not 3, for it).
    deliberate_skip: bool = False
    reject_reasons: dict[str, int] = field(default_factory=dict)
    #: Why the input was not read though nothing is wrong with it ("already in
    #: the lake"): shown in the accounting, not a warning like ``error``.
    note: str | None = None
    #: The number of the first line read: above 1 when an earlier run into the
    #: same lake read the file's beginning (``ingest.sources.Source.first_line``).
    first_line: int = 1
    #: What identifies the content read, so that a later run into the lake does
    #: not read it again: ``bytes`` read, ``head_bytes`` and ``head_sha256`` (the
    #: SHA-256 of the file's first bytes), ``end_line``, ``format``, and
    #: ``resumable`` (a plain file of a format whose lines read alone, which a
    #: later run may read on from ``bytes``). None for stdin, and for an input
    #: that gave no row (a later run reads it again, say with a fixed config).
    fingerprint: dict[str, Any] | None = None


class LineTally(Protocol):
    """Line accounting that inputs add up into (a FileStats, the watch's totals)."""

    lines: int
    parsed: int
    rejected: int
    skipped: int
    repeated: int
    repeats_cut: int
    forwarded: int
    forwarded_unread: int
    reject_reasons: dict[str, int]


def add_counts(target: LineTally, stats: FileStats) -> None:
    """Add one input's (or batch's) line accounting to ``target``."""
    target.lines += stats.lines
    target.parsed += stats.parsed
    target.rejected += stats.rejected
    target.skipped += stats.skipped
    target.repeated += stats.repeated
    target.repeats_cut += stats.repeats_cut
    target.forwarded += stats.forwarded
    target.forwarded_unread += stats.forwarded_unread
    for reason, count in stats.reject_reasons.items():
        target.reject_reasons[reason] = target.reject_reasons.get(reason, 0) + count


@dataclass
class RunStats:
    run_id: str
    started: str
    files: list[FileStats] = field(default_factory=list)

    @property
    def totals(self) -> FileStats:
        total = FileStats(name="total")
        for f in self.files:
            add_counts(total, f)
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started": self.started,
            "files": [asdict(f) for f in self.files],
            "totals": asdict(self.totals),
        }


@dataclass(frozen=True)
class PartitionInfo:
    """One day of one table: its files, rows and bytes."""

    table: str
    column: str
    day: dt.date
    path: str
    files: int
    rows: int
    bytes: int

    @property
    def name(self) -> str:
        return f"{self.table}/{self.column}={self.day.isoformat()}"


def _is_url(location: str) -> bool:
    return "://" in location


def _stamp() -> str:
    # Microseconds: records written within one second (a compaction, then a
    # retention) must still sort in the order they happened.
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")


class Lake:
    """A lake folder or URL; create it with ``Lake(path)``, it is made on first write."""

    def __init__(self, root: Path | str) -> None:
        self.location = str(root)
        if not self.location.strip():
            # ``--lake "$LAKE"`` with LAKE unset: Path("") is the current folder,
            # which would have become a lake without a word.
            raise LakeError("the lake location is empty (give a folder or a URL)")
        self.local: Path | None
        if isinstance(root, str) and _is_url(root):
            try:
                filesystem, base = pafs.FileSystem.from_uri(root)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
                raise LakeError(f"{root}: cannot open lake: {exc}") from exc
            self.fs: pafs.FileSystem = filesystem
            self.base = base.rstrip("/")
            local = isinstance(filesystem, pafs.LocalFileSystem)
            self.local = Path(self.base) if local else None
        else:
            self.local = Path(root)
            self.fs = pafs.LocalFileSystem()
            self.base = str(self.local)
        #: Files are written under a hidden name and renamed (not on object stores).
        self.renames = type(self.fs).__name__ not in _NO_RENAME

    @property
    def root(self) -> Path:
        """The lake's folder on this machine (object storage has none)."""
        if self.local is None:
            raise LakeError(f"{self.location}: an object-storage lake has no local folder")
        return self.local

    @property
    def remote(self) -> bool:
        return self.local is None

    def spill_dir(self) -> Path:
        """Where an engine may spill to disk: ``LAKE/_tmp``, or local temp for remote lakes."""
        if self.local is not None:
            return self.local / "_tmp"
        return Path(tempfile.gettempdir()) / "reconwatch-spill"

    def new_run_id(self) -> str:
        return f"{_stamp()}-{uuid.uuid4().hex[:8]}"

    def _path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def table_dir(self, table: str) -> str:
        """The table's folder, as a path on the lake's filesystem."""
        return self._path(table)

    def table_uri(self, table: str) -> str:
        """The table's folder as engines outside pyarrow name it (a path, or a URL)."""
        if self.local is not None:
            return str(self.local / table)
        return self.location.split("?", 1)[0].rstrip("/") + "/" + table

    def write(self, table: str, data: pa.Table, basename: str) -> None:
        """Append ``data`` (already conformed to the table's schema) to the lake."""
        if data.num_rows == 0:
            return
        column = PARTITION[table]
        if column == "event_date":
            # A cast to date is far cheaper than strftime and names folders alike.
            dates = data.column("timestamp").cast(pa.date32())
        else:
            today = dt.datetime.now(dt.UTC).date()
            dates = pa.repeat(pa.scalar(today, pa.date32()), data.num_rows)
        try:
            first, last = pc.min_max(dates).values()
            if dates.null_count == 0 and first == last:
                # One day (nearly every batch): written as it is. Arrow's dataset
                # writer would copy every column to split the rows by day first.
                # Arrow's own text of the day, as the dataset writer names folders
                # (Python's date cannot hold year 0 or 10000, which Arrow stores).
                day = first.cast(pa.string()).as_py()
                folder = f"{self.table_dir(table)}/{column}={day}"
                self.fs.create_dir(folder, recursive=True)
                name = f"{basename}-0.parquet"
                where = f"{folder}/{WRITING}{name}" if self.renames else f"{folder}/{name}"
                pq.write_table(
                    data, where, filesystem=self.fs, **parquet_options(table, data.schema)
                )
                if self.renames:
                    self.fs.move(where, f"{folder}/{name}")
                return
            data = data.append_column(column, dates)
            prefix = WRITING if self.renames else ""
            written: list[str] = []
            pq.write_to_dataset(
                data,
                root_path=self.table_dir(table),
                partition_cols=[column],
                basename_template=f"{prefix}{basename}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
                filesystem=self.fs,
                file_visitor=lambda file: written.append(file.path),
                **parquet_options(table, data.schema),
            )
            for where in written if self.renames else []:
                folder, _, name = where.rpartition("/")
                self.fs.move(where, f"{folder}/{name.removeprefix(WRITING)}")
        except OSError as exc:
            # Not an OSError any more: ingest reads an OSError as a damaged input
            # and goes on, but a lake that cannot be written must stop the run.
            raise LakeError(f"{self.location}: cannot write {table}: {exc}") from exc

    def _list(self, directory: str, recursive: bool = False) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(directory, recursive=recursive, allow_not_found=True)
        return list(self.fs.get_file_info(selector))

    def _parquet(self, directory: str) -> list[pafs.FileInfo]:
        # Hidden names (".x", "_x") are compaction's files in flight; Spark skips them too.
        return [
            info
            for info in self._list(directory, recursive=True)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith((".", "_"))
        ]

    def files(self, table: str) -> list[str]:
        """The table's Parquet files in name order, as paths on the lake's filesystem.

        Left out: the old or new files of a compaction in flight, and the files
        of ingest runs that have no record in ``_runs`` (cut short, or still
        writing), whose lines are not counted as read.
        """
        (listed,) = self._visible_files([self.table_dir(table)]).values()
        return sorted(f.path for f in listed)

    def _visible_files(self, folders: list[str]) -> dict[str, list[pafs.FileInfo]]:
        """The files under each of ``folders`` that readers see (see ``files``).

        The journals and run records are read after the listing, and a
        compaction's swap is judged by what the listing holds, not by what is
        on disk by now: read first, a compaction that put its new files in
        place between that read and the listing had a reader see its old and
        new files both (every row twice). Read after, a compaction that
        finished between the listing and that read (old files and journal
        deleted) leaves nothing to say which listed files are its old ones: so
        when the listing holds compacted files that no journal read names, the
        folders are listed again, and the first listing stands only if none of
        its files went meanwhile (else the second is judged the same way).
        """
        listed = {folder: self._parquet(folder) for folder in folders}
        for _ in range(LISTING_TRIES):
            infos = [info for found in listed.values() for info in found]
            journals = self._journals()
            visible = self._visible(infos, journals)
            named = {path for journal in journals for path in journal["new"]}
            if all(
                not info.base_name.startswith(COMPACTED) or info.path in named for info in infos
            ):
                break  # no compaction of these files can have finished unseen
            again = {folder: self._parquet(folder) for folder in folders}
            if {info.path for info in infos} <= {
                info.path for found in again.values() for info in found
            }:
                break  # nothing listed went: the journals read held every swap in it
            listed = again
        else:
            raise LakeError(f"{self.location}: the lake kept changing while it was listed")
        return {
            folder: [info for info in found if visible(info)] for folder, found in listed.items()
        }

    def _visible(
        self, listed: list[pafs.FileInfo], journals: list[dict[str, Any]]
    ) -> Callable[[pafs.FileInfo], bool]:
        """Whether a file of ``listed`` is one readers see, by ``journals`` read after it."""
        hidden = self._hidden_by_compaction({info.path for info in listed}, journals)
        done = self.run_ids()

        def visible(info: pafs.FileInfo) -> bool:
            if info.path in hidden:
                return False
            match = RUN_FILE.match(info.base_name)
            return match is None or match.group(1) in done

        return visible

    def run_ids(self) -> set[str]:
        """The ids of the runs recorded in ``_runs`` (those that finished)."""
        return {
            info.base_name.removesuffix(".json")
            for info in self._list(self._path(RUNS))
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".json")
            and not info.base_name.startswith((".", "_"))
        }

    def remove_unfinished(self, *, locked: bool) -> tuple[int, list[str]]:
        """Delete the files of ingest runs that never finished (no record in ``_runs``).

        The next run into the lake calls this: their lines were never counted
        as read, so it would read them again. ``locked``: the caller holds the
        ingest lock, so no run is writing now; without it (object storage)
        only runs started over ``STALE_RUN`` ago are taken. Returns the number
        of files deleted and the runs they belonged to.
        """
        done = self.run_ids()
        oldest = dt.datetime.now(dt.UTC) - STALE_RUN
        doomed: list[str] = []
        runs: set[str] = set()
        for table in PARTITION:
            for info in self._list(self.table_dir(table), recursive=True):
                match = RUN_FILE.match(info.base_name)
                if info.type != pafs.FileType.File or match is None:
                    continue
                run = match.group(1)
                writing = info.base_name.startswith(WRITING)
                if run in done and not writing:
                    continue
                if not locked and _run_started(run) > oldest:
                    continue
                doomed.append(info.path)
                runs.add(run)
        for path in doomed:
            self.fs.delete_file(path)
        return len(doomed), sorted(runs)

    def read(self, table: str) -> pa.Table:
        """The whole table as Arrow (for small tables and tests; detections use the engine)."""
        return self.dataset(table).to_table()

    def dataset(self, table: str) -> ds.Dataset:
        """The table as a lazy Arrow dataset (the engine's way into object storage)."""
        files = self.files(table)
        if not files:
            return ds.dataset(schema.empty(schema.TABLES[table]))
        return ds.dataset(files, format="parquet", schema=schema.TABLES[table], filesystem=self.fs)

    def _write_json(self, folder: str, name: str, payload: dict[str, Any]) -> str:
        directory = self._path(folder)
        self.fs.create_dir(directory, recursive=True)
        path = f"{directory}/{name}"
        # A record appears whole or not at all (a run's record commits its files).
        where = f"{directory}/.{name}.tmp" if self.renames else path
        with self.fs.open_output_stream(where) as out:
            out.write(json.dumps(payload, indent=2).encode("utf-8"))
        if self.renames:
            self.fs.move(where, path)
        return path

    def _read_json(self, folder: str) -> list[dict[str, Any]]:
        infos = [
            i
            for i in self._list(self._path(folder))
            if i.type == pafs.FileType.File
            and i.base_name.endswith(".json")
            and not i.base_name.startswith(".")
        ]
        documents = []
        for info in sorted(infos, key=lambda i: i.base_name):
            with self.fs.open_input_stream(info.path) as stream:
                text = stream.read()
            try:
                document = json.loads(text.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError
                raise LakeError(f"{info.path}: damaged lake record: {exc}") from exc
            if not isinstance(document, dict):
                raise LakeError(f"{info.path}: damaged lake record: not a JSON object")
            document["_path"] = info.path
            documents.append(document)
        return documents

    @contextlib.contextmanager
    def ingest_lock(self) -> Iterator[None]:
        """Hold the lake's ingest lock (a local lake; object storage has none).

        Two runs into one lake at once (overlapping cron jobs) would each read
        what the other had not recorded yet, and store every line twice. The
        second run waits for the first (``flock`` on ``LAKE/_ingest.lock``),
        then sees the first run's record and reads only what is new.
        """
        if self.local is None:
            yield
            return

        def waiting() -> None:
            log.warning("%s: another ingest into this lake is running; waiting", self.location)

        with contextlib.ExitStack() as held:
            try:
                self.local.mkdir(parents=True, exist_ok=True)
                held.enter_context(exclusive(self.local / INGEST_LOCK, wait=waiting))
            except OSError as exc:
                raise LakeError(f"{self.location}: cannot write the lake: {exc}") from exc
            yield

    def save_run(self, run: RunStats) -> str:
        return self._write_json(RUNS, f"{run.run_id}.json", run.to_json())

    def runs(self) -> list[dict[str, Any]]:
        return [_without_path(d) for d in self._read_json(RUNS)]

    def maintenance(self) -> list[dict[str, Any]]:
        """The records of past compactions and retention runs, oldest first."""
        records = [_without_path(d) for d in self._read_json(MAINTENANCE)]
        return sorted(records, key=lambda d: str(d.get("at", "")))

    # -- partitions, compaction, retention --------------------------------------------------

    def partitions(
        self, table: str | None = None, day: dt.date | None = None
    ) -> list[PartitionInfo]:
        """Every day partition (of ``table``, on ``day``) with its files, rows and bytes."""
        return self._described(self._day_folders(table, day))

    def _day_folders(
        self, table: str | None = None, day: dt.date | None = None
    ) -> list[tuple[str, str, dt.date, str]]:
        """The day folders (of ``table``, on ``day``): table, column, day and path."""
        found = []
        for name in [table] if table else list(PARTITION):
            column = PARTITION[name]
            for entry in self._list(self.table_dir(name)):
                value = _partition_day(entry, column)
                if value is None or (day is not None and value != day):
                    continue
                found.append((name, column, value, entry.path))
        return found

    def _described(self, folders: list[tuple[str, str, dt.date, str]]) -> list[PartitionInfo]:
        """``folders`` (``_day_folders``) with their visible files, rows and bytes."""
        listed = self._visible_files([path for *_, path in folders])
        found = []
        for name, column, value, path in folders:
            files = listed[path]
            rows = sum(self._rows(f.path) for f in files)
            size = sum(f.size or 0 for f in files)
            found.append(PartitionInfo(name, column, value, path, len(files), rows, size))
        return sorted(found, key=lambda p: (p.table, p.day))

    def _rows(self, path: str) -> int:
        try:
            with self.fs.open_input_file(path) as handle:
                rows: int = pq.ParquetFile(handle).metadata.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise LakeError(f"{path}: damaged Parquet file in the lake: {exc}") from exc
        return rows

    def compact(
        self,
        table: str | None = None,
        day: dt.date | None = None,
        *,
        min_files: int = 2,
        file_rows: int = COMPACT_FILE_ROWS,
    ) -> list[dict[str, Any]]:
        """Rewrite each partition of at least ``min_files`` files into as few as fit ``file_rows``.

        Rows and their order within the partition are kept; the return value
        (also recorded in ``_maintenance``) says what each partition became.
        """
        self.recover()
        done = []
        for part in self.partitions(table, day):
            if part.files < min_files:
                continue
            # Listed again: what is rewritten and deleted (an ingest may have
            # added a file since ``partitions``; it is compacted with the rest
            # if its run has finished, and left alone if not).
            (infos,) = self._visible_files([part.path]).values()
            listed = sorted(infos, key=lambda info: info.path)
            old = [info.path for info in listed]
            rows = sum(self._rows(p) for p in old)
            new = self._rewrite(part, old, file_rows, rows)
            done.append(
                {
                    "partition": part.name,
                    "files_before": len(old),
                    "files_after": len(new),
                    "rows": rows,
                    "bytes_before": sum(info.size or 0 for info in listed),
                    "bytes_after": sum(self.fs.get_file_info(p).size or 0 for p in new),
                }
            )
        if done:
            self._write_json(
                MAINTENANCE,
                f"{_stamp()}-{uuid.uuid4().hex[:6]}-compact.json",
                {"kind": "compact", "at": dt.datetime.now(dt.UTC).isoformat(), "partitions": done},
            )
        return done

    def _rewrite(self, part: PartitionInfo, old: list[str], file_rows: int, rows: int) -> list[str]:
        """``old`` (``rows`` rows) rewritten into new files of ``part``, which replace them."""
        job = uuid.uuid4().hex[:8]
        temporary: list[str] = []
        try:
            self._copy(part, old, file_rows, job, temporary)
            copied = sum(self._rows(path) for path in temporary)
            if copied != rows:  # never delete what was not copied: checked before anything moves
                raise LakeError(
                    f"{part.name}: compaction wrote {copied} of {rows} rows; nothing changed"
                )
            final = [
                f"{part.path}/{COMPACTED}{_stamp()}-{job}-{n:03d}.parquet"
                for n in range(len(temporary))
            ]
            journal = self._write_json(
                JOURNALS, f"{job}.json", self._journal(part.path, old, final)
            )
        except BaseException:
            # Nothing has moved yet: the new files, whole or half written (a full
            # disk, a damaged old file, Ctrl-C), go, or they would stay for good,
            # hidden, on a disk that may have no room for them.
            self._delete_quietly(temporary)
            raise
        for tmp, path in zip(temporary, final, strict=True):
            self.fs.move(tmp, path)
        for path in old:
            self.fs.delete_file(path)
        self.fs.delete_file(journal)
        return final

    def _delete_quietly(self, paths: list[str]) -> None:
        for path in paths:
            with contextlib.suppress(OSError):
                self.fs.delete_file(path)

    def _copy(
        self, part: PartitionInfo, old: list[str], file_rows: int, job: str, temporary: list[str]
    ) -> None:
        """Stream the rows of ``old`` into new hidden files, named in ``temporary`` as made."""
        table_schema = schema.TABLES[part.table]
        writer: pq.ParquetWriter | None = None
        written = 0
        pending: list[pa.RecordBatch] = []
        pending_rows = 0

        def flush() -> None:
            nonlocal writer, written, pending, pending_rows
            if not pending:
                return
            group = pa.Table.from_batches(pending, table_schema)
            if writer is None or written >= file_rows:
                if writer is not None:
                    writer.close()
                temporary.append(f"{part.path}/.compact-{job}-{len(temporary):03d}.parquet")
                writer = pq.ParquetWriter(
                    temporary[-1],
                    table_schema,
                    filesystem=self.fs,
                    **parquet_options(part.table, table_schema),
                )
                written = 0
            writer.write_table(group, row_group_size=COMPACT_GROUP_ROWS)
            written += group.num_rows
            pending, pending_rows = [], 0

        try:
            # Batches stream from the old files: memory holds one row group, not the partition.
            for batch in self._batches(old, part.table):
                pending.append(batch)
                pending_rows += batch.num_rows
                if pending_rows >= min(COMPACT_GROUP_ROWS, file_rows):
                    flush()
            flush()
        finally:
            if writer is not None:
                writer.close()

    def _batches(self, paths: list[str], table: str) -> Iterator[pa.RecordBatch]:
        """The rows of ``paths`` in order, read as lake table ``table`` (older files'
        missing columns null); a file that cannot be read so is a LakeError naming it.

        One scan of them all: a dataset and scan per file cost half as much
        again on a partition of thousands of small files (one per batch)."""
        table_schema = schema.TABLES[table]
        at = 0  # the index in ``paths`` of the file being read
        try:
            source = ds.dataset(paths, format="parquet", schema=table_schema, filesystem=self.fs)
            scanner = source.scanner(batch_readahead=1, fragment_readahead=1)
            for tagged in scanner.scan_batches():
                if tagged.fragment.path != paths[at]:
                    with contextlib.suppress(ValueError):
                        at = paths.index(tagged.fragment.path, at)
                yield tagged.record_batch
        except (pa.ArrowException, OSError) as exc:
            # A damaged data page, or a column an older version wrote with
            # another type that does not convert ("ssh" as a port): the file
            # named is the first from the one being read that fails alone.
            for path in paths[at:]:
                try:
                    alone = ds.dataset(
                        path, format="parquet", schema=table_schema, filesystem=self.fs
                    )
                    for _ in alone.to_batches(batch_readahead=1):
                        pass
                except (pa.ArrowException, OSError) as failed:
                    raise LakeError(
                        f"{path}: cannot be read as the {table} table: {failed}"
                    ) from exc
            # Each file reads alone (a fault that passed): the one being read is named.
            raise LakeError(f"{paths[at]}: cannot be read as the {table} table: {exc}") from exc

    def _journal(self, partition: str, old: list[str], new: list[str]) -> dict[str, Any]:
        """A compaction's journal: its paths as this lake names them (what the
        previous version reads), and under ``relative`` the same relative to the
        lake, so that a lake named another way next time (``lake`` from another
        folder, an absolute path, ``file://``) still matches them with what it
        lists."""
        journal: dict[str, Any] = {"partition": partition, "old": old, "new": new}
        prefix = self.base + "/"
        if all(path.startswith(prefix) for path in [partition, *old, *new]):
            journal["relative"] = {
                "partition": partition.removeprefix(prefix),
                "old": [name.removeprefix(prefix) for name in old],
                "new": [name.removeprefix(prefix) for name in new],
            }
        return journal

    def _journals(self) -> list[dict[str, Any]]:
        """The journals of compactions in flight, their paths as this lake lists them."""
        journals = self._read_json(JOURNALS)
        for journal in journals:
            resolve: Callable[[str], str] = self._named_here  # the paths as its lake was named
            relative = journal.get("relative")
            if isinstance(relative, dict):  # this version's: relative to the lake
                resolve = self._path
                journal.update(relative)
            journal["partition"] = resolve(journal["partition"])
            journal["old"] = [resolve(name) for name in journal["old"]]
            journal["new"] = [resolve(name) for name in journal["new"]]
        return journals

    def _named_here(self, path: str) -> str:
        """``path``, an absolute path into this local lake, as this lake names it."""
        if self.local is None or not Path(path).is_absolute():
            return path
        try:  # resolved both: a symbolic link on the way is still the same lake
            inside = Path(path).resolve().relative_to(self.local.resolve())
        except (ValueError, OSError):
            return path
        return self._path(*inside.parts) if inside.parts else path

    def _hidden_by_compaction(self, listed: set[str], journals: list[dict[str, Any]]) -> set[str]:
        """The files of ``listed`` that a compaction in flight (``journals``) hides:
        its old files once the listing holds all its new ones, else its new ones."""
        hidden: set[str] = set()
        for journal in journals:
            if all(path in listed for path in journal["new"]):
                hidden.update(journal["old"])
            else:
                hidden.update(journal["new"])
        return hidden

    def _all_exist(self, paths: list[str]) -> bool:
        infos = self.fs.get_file_info(paths)
        return all(i.type == pafs.FileType.File for i in infos)

    def recover(self) -> int:
        """Finish or undo compactions a crash interrupted; the number of journals settled."""
        journals = self._journals()
        for journal in journals:
            complete = self._all_exist(journal["new"])
            doomed = journal["old"] if complete else journal["new"]
            for info in self.fs.get_file_info(doomed):
                if info.type == pafs.FileType.File:
                    self.fs.delete_file(info.path)
            if not complete:
                for info in self._list(journal["partition"]):
                    if info.base_name.startswith(".compact-"):
                        self.fs.delete_file(info.path)
            self.fs.delete_file(journal["_path"])
        return len(journals)

    def retain(self, days: int, today: dt.date | None = None) -> list[PartitionInfo]:
        """Drop every partition older than ``days`` days before ``today``; record what went.

        A partition is dropped when its day is before ``today - days``: with
        ``days=30`` on 2026-12-04, 2026-11-03 is dropped and 2026-11-04 kept.
        """
        if days < 1:
            raise LakeError("retention needs at least one day")
        today = today or dt.datetime.now(dt.UTC).date()
        cutoff = today - dt.timedelta(days=days)
        # Only the days dropped are read (their rows recorded): a damaged file
        # in a day kept must not hold up the retention of every other day.
        dropped = self._described([f for f in self._day_folders() if f[2] < cutoff])
        for part in dropped:
            self.fs.delete_dir(part.path)
        self._write_json(
            MAINTENANCE,
            f"{_stamp()}-{uuid.uuid4().hex[:6]}-retain.json",
            {
                "kind": "retain",
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "days": days,
                "cutoff": cutoff.isoformat(),
                "dropped": [
                    {"partition": p.name, "files": p.files, "rows": p.rows, "bytes": p.bytes}
                    for p in dropped
                ],
            },
        )
        return dropped


def require_lake(lake: Lake) -> None:
    """Raise ``LakeError`` unless ``lake`` is there to be read: a typo is not an empty lake.

    A local lake must be a folder holding tables or ``_runs``; object storage
    has no folders to look for, and is taken as it is.
    """
    folder = lake.local
    if folder is None:
        return
    if not folder.exists():
        raise LakeError(f"{lake.location}: no such directory (no lake here)")
    if not folder.is_dir():
        raise LakeError(f"{lake.location}: not a directory (a lake is a folder)")
    if not any((folder / name).is_dir() for name in (*PARTITION, RUNS)):
        raise LakeError(f"{lake.location}: not a reconwatch lake (no tables and no _runs folder)")


def _run_started(run_id: str) -> dt.datetime:
    """When run ``run_id`` (``Lake.new_run_id``'s form) started."""
    return dt.datetime.strptime(run_id[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)


def _partition_day(entry: pafs.FileInfo, column: str) -> dt.date | None:
    if entry.type != pafs.FileType.Directory or not entry.base_name.startswith(f"{column}="):
        return None
    try:
        return dt.date.fromisoformat(entry.base_name.split("=", 1)[1])
    except ValueError:
        return None


def _without_path(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "_path"}
