"""Windows Security logon events as JSON (``--format windows-json``).

Three JSON shapes of the same events are read, one object per line:

* Winlogbeat / Elastic Agent (ECS): ``{"@timestamp": "...", "winlog": {"event_id":
  4625, "computer_name": "DC01", "event_data": {"TargetUserName": "admin",
  "IpAddress": "192.0.2.5", "IpPort": "51234", "AuthenticationPackageName": "NTLM"}}}``
* ``evtx_dump -o jsonl`` (the ``evtx`` Rust crate, also the ``evtx`` PyPI
  package's ``records_json``): ``{"Event": {"System": {"EventID": 4625,
  "TimeCreated": {"#attributes": {"SystemTime": "..."}}, "Computer": "DC01"},
  "EventData": {...same names...}}}``.
* ``Get-WinEvent -LogName Security | ConvertTo-Json`` (Windows PowerShell 5.1
  and PowerShell 7): ``{"Id": 4625, "ProviderName":
  "Microsoft-Windows-Security-Auditing", "MachineName": "DC01", "TimeCreated":
  "\\/Date(1700000000123)\\/" (5.1: ms since the epoch, UTC) or
  "2023-11-14T22:13:20.123+01:00" (7), "Properties": [{"Value": "S-1-5-18"},
  ...]}``. The event data is positional: ``TEMPLATES`` names the values by
  their place in the event's template, and they are read under those names
  like the other shapes'. Records of another provider are ``OTHER_EVENT``.

Events kept (``auth`` rows): 4624 logon (success), 4625 failed logon, 4634
logoff, 4648 logon with explicit credentials, 4776 NTLM credential validation
(success when ``Status`` is 0; ``auth_method`` ntlm). 4634 and 4776 name no
client address by nature (4776's ``Workstation`` is a NetBIOS name, and the
auth table has no column for a source host name): they become rows with a
NULL ``source_ip`` (``source_optional``), still carrying the user, outcome,
action and the logging computer (``observer_name``); an address they do
carry (an enriched export) is kept. 4624/4625/4648 without one (local logons,
``IpAddress`` "-") are rejected with ``NO_ADDRESS``: for them the address is
the point of the row. Other event ids are rejected with ``OTHER_EVENT``.

``.evtx`` files (plain or compressed) reach this parser as the second shape:
``ingest.sources`` decodes them record by record with the ``evtx`` package,
one JSON line per record (line N = record N). ``ConvertTo-Json`` writes one
JSON array over many lines (or, for a single event, one pretty-printed
object), often as UTF-16: ``ingest.sources`` re-encodes it and hands it on
one compact element per line (line N = the Nth element of the array).
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

#: Events that carry no client address by nature: kept with a NULL source_ip.
NO_CLIENT_EVENTS: Final = (4634, 4776)

#: Event id -> (event_action, event_outcome); 4776's outcome comes from Status.
EVENTS: Final = {
    4624: ("login", "success"),
    4625: ("login", "failure"),
    4634: ("logout", None),
    4648: ("explicit_credentials", None),
    4776: ("credential_validation", None),
}

#: The event provider whose templates ``TEMPLATES`` gives.
PROVIDER: Final = "Microsoft-Windows-Security-Auditing"

#: Event data names in template order (the provider's manifest), for
#: ``Get-WinEvent``'s positional ``Properties``. Later template versions only
#: append (4624 v1/v2 after ``ImpersonationLevel``), so these places hold for all.
TEMPLATES: Final = {
    4624: ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId",
           "TargetUserSid", "TargetUserName", "TargetDomainName", "TargetLogonId",
           "LogonType", "LogonProcessName", "AuthenticationPackageName", "WorkstationName",
           "LogonGuid", "TransmittedServices", "LmPackageName", "KeyLength", "ProcessId",
           "ProcessName", "IpAddress", "IpPort", "ImpersonationLevel"),
    4625: ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId",
           "TargetUserSid", "TargetUserName", "TargetDomainName", "Status", "FailureReason",
           "SubStatus", "LogonType", "LogonProcessName", "AuthenticationPackageName",
           "WorkstationName", "TransmittedServices", "LmPackageName", "KeyLength",
           "ProcessId", "ProcessName", "IpAddress", "IpPort"),
    4634: ("TargetUserSid", "TargetUserName", "TargetDomainName", "TargetLogonId", "LogonType"),
    4648: ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId",
           "LogonGuid", "TargetUserName", "TargetDomainName", "TargetLogonGuid",
           "TargetServerName", "TargetInfo", "ProcessId", "ProcessName", "IpAddress", "IpPort"),
    4776: ("PackageName", "TargetUserName", "Workstation", "Status"),
}  # fmt: skip

#: (column, [Winlogbeat key, evtx_dump key, Get-WinEvent key]) for the record's own fields.
_SYSTEM: Final = (
    ("event_id", ["winlog.event_id", "Event.System.EventID", "Id"]),
    ("event_id_text", ["event.code", "Event.System.EventID.#text"]),
    ("time", ["@timestamp", "Event.System.TimeCreated.#attributes.SystemTime", "TimeCreated"]),
    ("computer", ["winlog.computer_name", "Event.System.Computer", "MachineName"]),
    ("provider", ["ProviderName"]),
)

#: (column, event data name): ``winlog.event_data.NAME`` (Winlogbeat),
#: ``Event.EventData.NAME`` (evtx_dump), or the ``Properties`` value at NAME's
#: place in the event's template (Get-WinEvent).
_DATA: Final = (
    ("user", "TargetUserName"),
    ("ip", "IpAddress"),
    ("port", "IpPort"),
    ("package", "AuthenticationPackageName"),
    ("status", "Status"),
)

#: PowerShell 5.1's DateTime: "/Date(ms since the epoch, UTC[+offset])/" once the JSON is decoded.
_MS_DATE: Final = r"^/Date\((-?\d{1,15})(?:[+-]\d{4})?\)/$"
#: Milliseconds since the epoch of 0001-01-01 and 9999-12-31, the timestamp range.
_MS_RANGE: Final = (-62_135_596_800_000, 253_402_300_799_999)


def _looks_like_windows(value: dict[str, object]) -> bool:
    winlog = value.get("winlog")
    if isinstance(winlog, dict) and "event_id" in winlog:
        return True
    event = value.get("Event")
    if isinstance(event, dict) and isinstance(event.get("System"), dict):
        return True
    # Get-WinEvent | ConvertTo-Json (an EventLogRecord).
    return (
        isinstance(value.get("Id"), int)
        and isinstance(value.get("Properties"), list)
        and any(key in value for key in ("ProviderName", "LogName", "TimeCreated", "RecordId"))
    )


def _properties_path(place: int) -> str:
    """The JSONPath of the ``Properties`` value at ``place`` (0-based)."""
    return f'{json_path("Properties")}[{place}]."Value"'


def _case(index: int) -> str:
    def value(text: str | None) -> str:
        return lit(text) if text is not None else "NULL"

    whens = " ".join(f"WHEN {code} THEN {value(v[index])}" for code, v in EVENTS.items())
    return f"CASE code {whens} END"


class WindowsJsonParser(Parser):
    """Windows Security logon events exported as JSON (Winlogbeat, evtx_dump, Get-WinEvent)."""

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

        def value_at(path: str) -> str:
            """``v[i]``, the value at ``path`` in the one list extracted per line."""
            if path not in paths:
                paths.append(path)
            return f"v[{paths.index(path) + 1}]"

        def first(*values: str) -> str:
            return f"coalesce({', '.join(values)})" if len(values) > 1 else values[0]

        value = {column: first(*(value_at(json_path(k)) for k in keys)) for column, keys in _SYSTEM}
        for column, name in _DATA:
            places = " ".join(
                f"WHEN {code} THEN {value_at(_properties_path(template.index(name)))}"
                for code, template in TEMPLATES.items()
                if name in template
            )
            value[column] = first(
                value_at(json_path(f"winlog.event_data.{name}")),
                value_at(json_path(f"Event.EventData.{name}")),
                f"CASE WHEN by_place THEN CASE code {places} END END",
            )
        codes = ", ".join(str(c) for c in EVENTS)
        no_client = ", ".join(str(c) for c in NO_CLIENT_EVENTS)
        low, high = _MS_RANGE
        sql = f"""
        WITH j AS (
            SELECT log_line, _row, regexp_full_match(line, '\\s*') AS skip,
                   {json_values_sql("line", "win_paths")} AS v
            FROM {{view}}
        ),
        c AS (
            SELECT log_line, _row, skip, v,
                   coalesce(TRY_CAST({value["event_id"]} AS INTEGER),
                            TRY_CAST({value["event_id_text"]} AS INTEGER)) AS code,
                   {value["provider"]} AS provider,
                   {value_at(json_path("Properties") + "[0]")} IS NOT NULL AS by_place
            FROM j
        ),
        f AS (
            SELECT log_line, _row, skip, v, code, provider,
                   {value["time"]} AS time0, {value["computer"]} AS computer,
                   {value["user"]} AS user0, {value["ip"]} AS ip0, {value["port"]} AS port0,
                   {value["package"]} AS package0, {value["status"]} AS status0,
                   TRY_CAST(regexp_extract({value["time"]}, {lit(_MS_DATE)}, 1) AS BIGINT) AS ms
            FROM c
        )
        SELECT log_line, _row, skip,
               coalesce(CASE WHEN ms BETWEEN {low} AND {high} THEN epoch_ms(ms) END,
                        timezone('UTC', TRY_CAST(time0 AS TIMESTAMPTZ))) AS timestamp,
               nullif(nullif(ip0, '-'), '') AS source_raw,
               code IN ({no_client}) AS source_optional,
               CAST(TRY_CAST(nullif(port0, '0') AS USMALLINT) AS INTEGER) AS source_port,
               nullif(nullif(user0, '-'), '') AS user_name,
               {_case(0)} AS event_action,
               CASE WHEN code = 4776 THEN CASE WHEN lower(status0) IN ('0x0', '0') THEN 'success'
                                               ELSE 'failure' END
                    ELSE {_case(1)} END AS event_outcome,
               CASE WHEN code = 4776 THEN 'ntlm'
                    ELSE lower(nullif(nullif(trim(package0), '-'), '')) END AS auth_method,
               'windows' AS service_name,
               CAST(code AS VARCHAR) AS event_code,
               computer AS observer_name,
               CASE WHEN v IS NULL THEN {lit(NOT_JSON)}
                    WHEN code IS NULL THEN {lit(NOT_WINDOWS)}
                    WHEN code NOT IN ({codes}) OR provider <> {lit(PROVIDER)}
                        THEN {lit(OTHER_EVENT)}
                    WHEN coalesce(ip0, '-') IN ('-', '') AND code NOT IN ({no_client})
                        THEN {lit(NO_ADDRESS)}
               END AS reason
        FROM f
        """  # noqa: S608 - constant SQL and a generated view name; JSON paths are bound
        return run_batch(self.ctx.con, lines, sql, {"win_paths": paths})
