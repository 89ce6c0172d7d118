"""The same events logged in two files: counted once.

A stock Debian or Ubuntu rsyslog writes every kernel line to both
``/var/log/kern.log`` and ``/var/log/syslog``; ``ufw.log`` repeats the UFW
lines again; a copy of a log left beside it (``kern.log.bak``) repeats a
whole file. Hunting ``/var/log/`` would count each packet two or three times:
a FIN probe sent twice would cross a threshold of three, and every count in a
case would be doubled.

For each lake table, files that log the same dataset from the same observer
(or both from none; or a web server's access log file and its copy relayed
through syslog, ``RELAYED``) over overlapping times are compared on a sample of the
smaller file's rows within the larger one's time span: when at least half
have an identical row (every column but the file and the line number, nulls
equal) in the larger one, the smaller file's rows that
have such a twin are left out of every detection and case. Rows without a
twin stay (syslog's lines from before kern.log began, say). What was left out
is said per file, in the hunt's warnings.

One input (every Parquet file of the table from one input of one run) is the
common case and costs nothing; otherwise one aggregate over the table's file,
dataset and observer columns, and a sample join per candidate pair.
Everything is Ibis, so DuckDB and Spark drop the same rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import ibis.expr.types as ir

#: Rows of the smaller file compared with the larger one.
SAMPLE_ROWS: Final = 2000
#: Share of the sample with a twin that makes the smaller file a copy.
COPY_SHARE: Final = 0.5
#: The share, both ways, for a web server's access log and a relayed copy
#: (``RELAYED``): the file names no host, so another server's relay could match.
RELAYED_SHARE: Final = 0.99
#: Columns that say where a row was read, not what happened.
WHERE_READ: Final = ("log_file", "log_line")
#: Datasets that hold the same events from two inputs: a web server's access
#: log read from its file (``clf``, ``nginx.json``) and the copy it (or rsyslog)
#: sent through syslog (``nginx.access``, ``syslog.access``).
RELAYED: Final = (frozenset({"clf", "nginx.json", "nginx.access", "syslog.access"}),)
#: Lake file names written by ingest: run id, input index, batch (compaction renames them).
_INGEST_FILE = re.compile(r"(?:^|/)(\d{8}T\d+-[0-9a-f]+)-(\d{5})-\d{5}-\d+\.parquet$")


@dataclass(frozen=True)
class Copy:
    """Rows of ``copy`` left out because ``original`` holds identical ones."""

    table: str
    dataset: str
    copy: str
    original: str
    rows: int

    def message(self) -> str:
        return (
            f"{self.copy}: {self.rows:,} {self.dataset} row(s) are copies of rows in "
            f"{self.original} (the same time, host and event): counted once"
        )


def single_input(files: list[str]) -> bool:
    """True when every file was written by ingest for one input of one run."""
    inputs = set()
    for name in files:
        match = _INGEST_FILE.search(name)
        if match is None:
            return False  # compacted (or foreign) files: look at the rows
        inputs.add(match.groups())
    return len(inputs) <= 1


def without_copies(table: ir.Table, name: str) -> tuple[ir.Table, list[Copy]]:
    """``table`` less the rows that repeat another file's (see the module docstring)."""
    groups = (
        table.group_by(["log_file", "event_dataset", "observer_name"])
        .aggregate(rows=table.count(), first=table.timestamp.min(), last=table.timestamp.max())
        .to_pyarrow()
        .to_pylist()
    )
    if len(groups) < 2:
        return table, []
    # Larger files first: a smaller one is compared with each larger one.
    groups.sort(key=lambda g: (-g["rows"], str(g["log_file"])))
    identity = [c for c in table.columns if c not in WHERE_READ]
    found: list[Copy] = []
    dropped: set[tuple[str, str, str | None]] = set()
    for index, small in enumerate(groups):
        for large in groups[:index]:
            key = (large["log_file"], large["event_dataset"], large["observer_name"])
            if key in dropped or not _candidates(large, small):
                continue
            copy = _compare(table, identity, large, small)
            if copy is None:
                continue
            table, rows = copy
            if rows:
                found.append(
                    Copy(name, str(small["event_dataset"]), str(small["log_file"]),
                         str(large["log_file"]), rows)
                )  # fmt: skip
                dropped.add((small["log_file"], small["event_dataset"], small["observer_name"]))
                break
    return table, found


def _relayed(large: dict[str, object], small: dict[str, object]) -> bool:
    """A web server's access log and its copy through syslog: two datasets of
    ``RELAYED`` (its file names no host, the syslog copy its relay's)."""
    one, other = large["event_dataset"], small["event_dataset"]
    return one != other and any(one in group and other in group for group in RELAYED)


def _candidates(large: dict[str, object], small: dict[str, object]) -> bool:
    """Same dataset and observer (or a file and its syslog copy), another
    file, overlapping times."""
    relayed = _relayed(large, small)
    observers = large["observer_name"] == small["observer_name"] or (
        relayed and (large["observer_name"] is None or small["observer_name"] is None)
    )
    return (
        (large["event_dataset"] == small["event_dataset"] or relayed)
        and observers
        and large["log_file"] != small["log_file"]
        and large["first"] is not None
        and small["first"] is not None
        and large["first"] <= small["last"]  # type: ignore[operator]
        and small["first"] <= large["last"]  # type: ignore[operator]
    )


def _of(table: ir.Table, group: dict[str, object]) -> ir.BooleanValue:
    """The rows of one (file, dataset, observer) group; a missing observer is null."""
    observer = group["observer_name"]
    return (
        (table.log_file == group["log_file"])
        & (table.event_dataset == group["event_dataset"])
        & (table.observer_name.isnull() if observer is None else table.observer_name == observer)
    )


def _twins(rows: ir.Table, others: ir.Table, identity: list[str]) -> list[ir.BooleanValue]:
    """Null-safe equality of every identity column (an ICMP row has no ports)."""
    return [rows[c].identical_to(others[c]) for c in identity]


def _mostly_twins(
    rows: ir.Table, others: ir.Table, identity: list[str], span: dict[str, object], share: float
) -> bool:
    """Whether ``share`` of a sample of ``rows`` within ``span``'s times (where
    both files have rows: syslog's lines from before kern.log began have no
    twin to find, and must not hide the copies after them) have a twin in
    ``others``."""
    shared = rows.filter(rows.timestamp.between(span["first"], span["last"]))
    sample = shared.order_by("log_line").limit(SAMPLE_ROWS).view()
    size = int(sample.count().to_pyarrow().as_py())
    twins = sample.semi_join(others, _twins(sample, others, identity)).count()
    return size > 0 and int(twins.to_pyarrow().as_py()) >= share * size


def _compare(
    table: ir.Table, identity: list[str], large: dict[str, object], small: dict[str, object]
) -> tuple[ir.Table, int] | None:
    """``table`` without ``small``'s twins of ``large``'s rows, and how many; None
    when the sample says ``small`` is not a copy."""
    relayed = _relayed(large, small)
    if relayed:
        # The same request says which file and relay it came through: not an event's part.
        identity = [c for c in identity if c not in ("event_dataset", "observer_name")]
    original = table.filter(_of(table, large)).view()
    copy = table.filter(_of(table, small))
    # A file naming no host against a relay's copy: another server behind the
    # same scanner answers much alike, so each must be the other's copy, all
    # but a few rows, both ways (two servers differ at least in their users').
    share = RELAYED_SHARE if relayed else COPY_SHARE
    if not _mostly_twins(copy, original, identity, large, share):
        return None
    if relayed and not _mostly_twins(original, copy, identity, small, share):
        return None
    kept = copy.anti_join(original, _twins(copy, original, identity)).select(*table.columns)
    rows = int(str(small["rows"])) - int(kept.count().to_pyarrow().as_py())
    rest = table.filter(~_of(table, small))
    return rest.union(kept, distinct=False), rows
