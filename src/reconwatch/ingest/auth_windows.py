"""Windows Security logon events as JSON lines (``--format windows-json``).

Two JSON shapes of the same events are read, one object per line:

* Winlogbeat / Elastic Agent (ECS): ``{"@timestamp": "...", "winlog": {"event_id":
  4625, "computer_name": "DC01", "event_data": {"TargetUserName": "admin",
  "IpAddress": "192.0.2.5", "IpPort": "51234", "AuthenticationPackageName": "NTLM"}}}``
* ``evtx_dump -o jsonl`` (the ``evtx`` Rust crate, also the ``evtx`` PyPI
  package's ``records_json``): ``{"Event": {"System": {"EventID": 4625,
  "TimeCreated": {"#attributes": {"SystemTime": "..."}}, "Computer": "DC01"},
  "EventData": {...same names...}}}``.

Events kept (``auth`` rows): 4624 logon (success), 4625 failed logon, 4634
logoff, 4648 logon with explicit credentials, 4776 NTLM credential validation
(success when ``Status`` is 0x0). 4634 and 4776 name no client address, and
4624/4625 of local logons have ``IpAddress`` "-": such lines are rejected with
``NO_ADDRESS`` (the auth table is keyed by a source address). Other event ids
are rejected with ``OTHER_EVENT``.

``.evtx`` files (plain or compressed) reach this parser as the second shape:
``ingest.sources`` decodes them record by record with the ``evtx`` package,
one JSON line per record (line N = record N). Not read:
``Get-WinEvent | ConvertTo-Json``, which writes one JSON array over many lines
with the event data as positional ``Properties``; export with Winlogbeat or
read the ``.evtx`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from reconwatch.ingest.base import Parsed, Parser
from reconwatch.ingest.linesql import (
    json_path,
    json_values_sql,
    lit,
    run_batch,
    sniff_json_objects,
)

NOT_JSON: Final = "not a JSON object"
NOT_WINDOWS: Final = "not a Windows event"
OTHER_EVENT: Final = "Windows event not read"
NO_ADDRESS: Final = "Windows event without a client address"

#: Event id -> (event_action, event_outcome); 4776's outcome comes from Status.
EVENTS: Final = {
    4624: ("login", "success"),
    4625: ("login", "failure"),
    4634: ("logout", None),
    4648: ("explicit_credentials", None),
    4776: ("credential_validation", None),
}

#: (column, [Winlogbeat key, evtx_dump key]) in the order of the extracted list.
_FIELDS: Final = (
    ("event_id", ["winlog.event_id", "Event.System.EventID"]),
    ("event_id_text", ["event.code", "Event.System.EventID.#text"]),
    ("time", ["@timestamp", "Event.System.TimeCreated.#attributes.SystemTime"]),
    ("computer", ["winlog.computer_name", "Event.System.Computer"]),
    ("user", ["winlog.event_data.TargetUserName", "Event.EventData.TargetUserName"]),
    ("ip", ["winlog.event_data.IpAddress", "Event.EventData.IpAddress"]),
    ("port", ["winlog.event_data.IpPort", "Event.EventData.IpPort"]),
    ("package", ["winlog.event_data.AuthenticationPackageName",
                 "Event.EventData.AuthenticationPackageName"]),
    ("status", ["winlog.event_data.Status", "Event.EventData.Status"]),
)  # fmt: skip


def _looks_like_windows(value: dict[str, object]) -> bool:
    winlog = value.get("winlog")
    if isinstance(winlog, dict) and "event_id" in winlog:
        return True
    event = value.get("Event")
    return isinstance(event, dict) and isinstance(event.get("System"), dict)


def _case(index: int) -> str:
    def value(text: str | None) -> str:
        return lit(text) if text is not None else "NULL"

    whens = " ".join(f"WHEN {code} THEN {value(v[index])}" for code, v in EVENTS.items())
    return f"CASE code {whens} END"


class WindowsJsonParser(Parser):
    """Windows Security logon events exported as JSON lines."""

    name = "windows-json"
    dataset = "windows.security"
    table = "auth"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        try:
            return sniff_json_objects(sample, _looks_like_windows)
        except Exception:  # a sniffer must never stop format detection
            return False

    def parse(self, lines: pa.Table) -> Parsed:
        paths: list[str] = []
        value: dict[str, str] = {}
        for column, keys in _FIELDS:
            indices = []
            for key in keys:
                paths.append(json_path(key))
                indices.append(f"v[{len(paths)}]")
            value[column] = f"coalesce({', '.join(indices)})"
        codes = ", ".join(str(c) for c in EVENTS)
        sql = f"""
        WITH j AS (
            SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
                   {json_values_sql("line", "win_paths")} AS v
            FROM {{view}}
        ),
        f AS (
            SELECT log_line, _row, skip, v,
                   coalesce(TRY_CAST({value["event_id"]} AS INTEGER),
                            TRY_CAST({value["event_id_text"]} AS INTEGER)) AS code,
                   {value["time"]} AS time0, {value["computer"]} AS computer,
                   {value["user"]} AS user0, {value["ip"]} AS ip0, {value["port"]} AS port0,
                   {value["package"]} AS package0, {value["status"]} AS status0
            FROM j
        )
        SELECT log_line, _row, skip,
               timezone('UTC', TRY_CAST(time0 AS TIMESTAMPTZ)) AS timestamp,
               ip0 AS source_raw,
               CAST(TRY_CAST(nullif(port0, '0') AS USMALLINT) AS INTEGER) AS source_port,
               nullif(nullif(user0, '-'), '') AS user_name,
               {_case(0)} AS event_action,
               CASE WHEN code = 4776 THEN CASE WHEN lower(status0) = '0x0' THEN 'success'
                                               ELSE 'failure' END
                    ELSE {_case(1)} END AS event_outcome,
               lower(nullif(nullif(trim(package0), '-'), '')) AS auth_method,
               'windows' AS service_name,
               CAST(code AS VARCHAR) AS event_code,
               computer AS observer_name,
               CASE WHEN v IS NULL THEN {lit(NOT_JSON)}
                    WHEN code IS NULL THEN {lit(NOT_WINDOWS)}
                    WHEN code NOT IN ({codes}) THEN {lit(OTHER_EVENT)}
                    WHEN coalesce(ip0, '-') IN ('-', '') THEN {lit(NO_ADDRESS)}
               END AS reason
        FROM f
        """  # noqa: S608 - constant SQL and a generated view name; JSON paths are bound
        return run_batch(self.ctx.con, lines, sql, {"win_paths": paths})
