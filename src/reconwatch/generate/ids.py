"""IDS: Suricata's eve.json on the sensor behind the firewall.

One JSON object per line, keys in the order Suricata 7 writes them
(``timestamp``, ``flow_id``, ``in_iface``, ``event_type``, addresses, ports,
``proto``, then ``alert``/``app_proto``/``flow``). The background is ``flow``
events of ordinary sessions to the public servers, and a few reputation
alerts (``ET DROP Dshield``, ``ET CINS``) on stray sources, one each. The
actors are context for triage, not detections: the network scanners the ET
SCAN rules catch (nmap's window-1024 SYN, probes of MySQL/MSSQL/VNC), the
Nikto scan, the zone transfer attempt and the SSH guesser. Lines are built by
joining columns; no value here needs JSON escaping (checked in the tests by
``json.loads`` of every line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.generate import text
from reconwatch.generate.addresses import PublicV4Pool
from reconwatch.generate.family import US, Context
from reconwatch.generate.text import I64, Obj, Part

EVE_LOG: Final = "ids/eve.json"


@dataclass(frozen=True)
class Rule:
    """A Suricata/ET Open signature as it appears in an alert."""

    sid: int
    rev: int
    signature: str
    category: str
    severity: int


NMAP_SS: Final = Rule(2009582, 3, "ET SCAN NMAP -sS window 1024", "Attempted Information Leak", 2)
MYSQL: Final = Rule(
    2010937, 3, "ET SCAN Suspicious inbound to mySQL port 3306", "Potentially Bad Traffic", 2
)
MSSQL: Final = Rule(
    2010935, 3, "ET SCAN Suspicious inbound to MSSQL port 1433", "Potentially Bad Traffic", 2
)
VNC: Final = Rule(
    2002911, 6, "ET SCAN Potential VNC Scan 5900-5920", "Attempted Information Leak", 2
)
NIKTO: Final = Rule(
    2002677, 14, "ET SCAN Nikto Web App Scan in Progress", "Web Application Attack", 1
)
AXFR: Final = Rule(2100255, 16, "GPL DNS zone transfer TCP", "Attempted Information Leak", 2)
SSH_SCAN: Final = Rule(2001219, 20, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2)
DSHIELD: Final = Rule(2402000, 7340, "ET DROP Dshield Block Listed Source", "Misc Attack", 2)
CINS: Final = Rule(
    2403342, 92213, "ET CINS Active Threat Intelligence Poor Reputation IP group 43",
    "Misc Attack", 2,
)  # fmt: skip


@dataclass(frozen=True)
class Events:
    """eve events, one per row; alerts carry a rule index, flows -1."""

    ts: I64
    src: Obj
    sport: I64
    dst: Obj
    dport: I64
    proto: Obj
    app_proto: Obj
    rule: I64
    pkts_ts: I64
    pkts_tc: I64
    bytes_ts: I64
    bytes_tc: I64
    #: Start of the flow (alerts: the flow the alerting packet belongs to).
    start: I64


def _stamp(ts: I64) -> pa.Array:
    """``2026-09-30T00:12:05.123456+0000``."""
    return text.join(
        text.per_second(ts, lambda t: t.strftime("%Y-%m-%dT%H:%M:%S")),
        ".",
        text.lpad(ts % US, 6),
        "+0000",
    )


def lines(e: Events, rules: tuple[Rule, ...], rng: np.random.Generator, iface: str) -> pa.Array:
    """eve.json lines for ``e``: alert objects where ``rule >= 0``, flow objects elsewhere."""
    n = len(e.ts)
    # Suricata's flow_id is a 51-bit hash of the flow; unique per flow.
    flow_id = text.dec(rng.integers(1 << 40, 1 << 51, size=n))
    head = text.join(
        '{"timestamp":"',
        _stamp(e.ts),
        '","flow_id":',
        flow_id,
        f',"in_iface":"{iface}","event_type":"',
        pc.if_else(pa.array(e.rule >= 0), "alert", "flow"),
        '","src_ip":"',
        text.strings(e.src),
        '","src_port":',
        text.dec(e.sport),
        ',"dest_ip":"',
        text.strings(e.dst),
        '","dest_port":',
        text.dec(e.dport),
        ',"proto":"',
        text.strings(e.proto),
        '"',
    )
    counters = text.join(
        '"pkts_toserver":',
        text.dec(e.pkts_ts),
        ',"pkts_toclient":',
        text.dec(e.pkts_tc),
        ',"bytes_toserver":',
        text.dec(e.bytes_ts),
        ',"bytes_toclient":',
        text.dec(e.bytes_tc),
        ',"start":"',
        _stamp(e.start),
        '"',
    )
    index = np.maximum(e.rule, 0)
    alert = text.join(
        ',"pkt_src":"wire/pcap","alert":{"action":"allowed","gid":1,"signature_id":',
        text.pick([str(r.sid) for r in rules], index),
        ',"rev":',
        text.pick([str(r.rev) for r in rules], index),
        ',"signature":"',
        text.pick([r.signature for r in rules], index),
        '","category":"',
        text.pick([r.category for r in rules], index),
        '","severity":',
        text.pick([str(r.severity) for r in rules], index),
        '},"app_proto":"',
        text.strings(e.app_proto),
        '","direction":"to_server","flow":{',
        counters,
        "}}\n",
    )
    age = np.maximum((e.ts - e.start) // US, 0)
    flow = text.join(
        ',"app_proto":"',
        text.strings(e.app_proto),
        '","flow":{',
        counters,
        ',"end":"',
        _stamp(e.ts),
        '","age":',
        text.dec(age),
        ',"state":"',
        pc.if_else(pa.array(e.proto == "TCP"), "closed", "established"),
        '","reason":"timeout","alerted":false}}\n',
    )
    return text.join(head, pc.if_else(pa.array(e.rule >= 0), alert, flow))


def _events(n: int, **values: object) -> Events:
    cols = {}
    for name, value in values.items():
        if isinstance(value, str):
            cols[name] = np.full(n, value, dtype=object)
        elif isinstance(value, list | tuple):
            cols[name] = np.asarray(list(value), dtype=object)
        elif isinstance(value, np.ndarray):
            cols[name] = value
        else:
            cols[name] = np.full(n, value, dtype=np.int64)
    return Events(**cols)


#: Every rule the sample uses; ``Events.rule`` indexes this tuple.
RULES: Final = (NMAP_SS, MYSQL, MSSQL, VNC, NIKTO, AXFR, SSH_SCAN, DSHIELD, CINS)


def background(
    ctx: Context, rng: np.random.Generator, units: int, t0: int, t1: int
) -> tuple[Events, dict[str, int]]:
    """``units`` events: 95 % flow records of HTTPS/HTTP/SMTP/DNS sessions, 5 %
    reputation alerts on stray sources (one alert per source)."""
    n = units
    site = ctx.site
    is_alert = rng.random(n) < 0.05
    clients = PublicV4Pool(ctx.seed ^ 0x1D5, role=1).take(max(1, n // 3))
    stray = PublicV4Pool(ctx.seed ^ 0x1D5, role=0).take(n)
    src = text.v4_text(np.where(is_alert, stray, clients[rng.integers(0, len(clients), size=n)]))
    kind = rng.choice(4, p=[0.6, 0.15, 0.1, 0.15], size=n)  # https http smtp dns
    servers = np.asarray([site.web_v4, site.web_v4, site.mail_v4, site.dns_v4], dtype=object)
    dport = np.array([443, 80, 25, 53])[kind]
    app = np.asarray(["tls", "http", "smtp", "dns"], dtype=object)[kind]
    proto = np.where(kind == 3, "UDP", "TCP").astype(object)
    end = np.sort(rng.integers(t0, max(t0 + 1, t1 - 100_000), size=n))
    duration = np.where(kind == 3, 0, rng.integers(200_000, 60_000_000, size=n))
    pkts_ts = np.where(kind == 3, 1, rng.integers(6, 40, size=n))
    pkts_tc = np.where(kind == 3, 1, rng.integers(5, 60, size=n))
    # Reputation alerts: the first SYN of a dropped probe to a closed port.
    alert_port = rng.choice([22, 23, 445, 3389, 8080], size=n)
    events = _events(
        n,
        ts=end,
        src=src,
        sport=rng.integers(1024, 65536, size=n),
        dst=np.where(is_alert, site.web_v4, servers[kind]).astype(object),
        dport=np.where(is_alert, alert_port, dport),
        proto=np.where(is_alert, "TCP", proto).astype(object),
        app_proto=np.where(is_alert, "failed", app).astype(object),
        rule=np.where(
            is_alert, np.where(rng.random(n) < 0.6, RULES.index(DSHIELD), RULES.index(CINS)), -1
        ),
        pkts_ts=np.where(is_alert, 1, pkts_ts),
        pkts_tc=np.where(is_alert, 0, pkts_tc),
        bytes_ts=np.where(is_alert, 60, pkts_ts * rng.integers(60, 400, size=n)),
        bytes_tc=np.where(is_alert, 0, pkts_tc * rng.integers(60, 1400, size=n)),
        start=np.where(is_alert, end, end - duration),
    )
    return events, {"ids_events": n, "ids_reputation_alerts": int(is_alert.sum())}


def alerts(
    ctx: Context, address: str, at: float, rule: Rule, dst: str, dport: int, count: int = 1,
    every: float = 60.0, app_proto: str = "failed",
) -> Events:  # fmt: skip
    """``count`` alerts of ``rule`` on ``address`` (ET SCAN rules are thresholded,
    one alert per ``every`` seconds per source)."""
    rng = ctx.rng(f"ids:{rule.sid}:{address}")
    ts = ctx.actors_us + round(at * US) + np.arange(count, dtype=np.int64) * round(every * US)
    ts = ts + rng.integers(1000, 900_000, size=count)
    return _events(
        count,
        ts=ts,
        src=address,
        sport=rng.integers(32768, 61000, size=count),
        dst=dst,
        dport=dport,
        proto="TCP",
        app_proto=app_proto,
        rule=RULES.index(rule),
        pkts_ts=np.ones(count, np.int64),
        pkts_tc=np.zeros(count, np.int64),
        bytes_ts=np.full(count, 58 if app_proto == "failed" else 420, np.int64),
        bytes_tc=np.zeros(count, np.int64),
        start=ts - 500,
    )


def part(e: Events, rng: np.random.Generator, iface: str, actor: int = -1) -> Part:
    return Part(EVE_LOG, e.ts, lines(e, RULES, rng, iface), actor)
