"""IDS/IPS and honeypot alerts as findings of the actor they name.

Suricata/Snort scan signatures (``ET SCAN``...), Snort's portscan
preprocessor and Zeek ``Scan::`` notices are another sensor's verdict on the
same behaviour the port-scan detections look for: they become
``ids_scan_alert`` findings, so the actor's case shows them beside the
firewall evidence. A touch on a honeypot (OpenCanary, Cowrie: category
``honeypot``) is a ``honeypot_touch`` finding: nothing legitimate talks to a
honeypot, so one touch is high-confidence evidence.

Which alerts are scans and which are exploitation is data
(``reconwatch/data/ids_signatures.yaml``); the exploitation list feeds
triage's "signs of compromise" criterion through ``is_exploit``.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final

import ibis
import ibis.expr.types as ir
import yaml

from reconwatch.config import HoneypotTouchConfig, IdsScanAlertConfig
from reconwatch.detect.base import Detection
from reconwatch.detect.dns import windowed_findings
from reconwatch.detect.portscan import as_findings

IDS_SCAN_ALERT: Final = "ids_scan_alert"
HONEYPOT_TOUCH: Final = "honeypot_touch"
#: ``rule_category`` of honeypot alerts (ingest/honeypot_*.py).
HONEYPOT_CATEGORY: Final = "honeypot"
#: ATT&CK Active Scanning.
ACTIVE_SCANNING: Final = "T1595"


@functools.cache
def signatures() -> dict[str, dict[str, tuple[str, ...]]]:
    """``{"scan"|"exploit": {"categories"|"name_prefixes"|"id_prefixes": (...)}}``, lower-case."""
    text = resources.files("reconwatch").joinpath("data/ids_signatures.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {
        kind: {key: tuple(str(v).lower() for v in values) for key, values in lists.items()}
        for kind, lists in data.items()
    }


def _matches(alerts: ir.Table, kind: str) -> ir.BooleanValue:
    lists = signatures()[kind]
    category = alerts.rule_category.lower()
    name = alerts.rule_name.lower()
    rule_id = alerts.rule_id.lower()
    tests = [category == c for c in lists.get("categories", ())]
    tests += [name.startswith(p) for p in lists.get("name_prefixes", ())]
    tests += [rule_id.startswith(p) for p in lists.get("id_prefixes", ())]
    return functools.reduce(lambda a, b: a | b, tests, ibis.literal(False)).fill_null(False)


def is_scan(alerts: ir.Table) -> ir.BooleanValue:
    """Alerts that are reconnaissance signatures (see the data file)."""
    return _matches(alerts, "scan")


def is_exploit(alerts: ir.Table) -> ir.BooleanValue:
    """Alerts that are exploitation, intrusion or malware signatures (see the data file).

    A scan signature never counts, whatever its category: Emerging Threats
    files ``ET SCAN Nikto Web App Scan in Progress`` under
    web-application-attack, yet it reports a scanner, not a break-in.
    """
    return _matches(alerts, "exploit") & ~_matches(alerts, "scan")


def _ports(t: ir.Table) -> dict[str, ir.Value]:
    return {"ports": t.destination_port.collect(distinct=True).sort()}


def ids_scan_alert(alert: ir.Table, cfg: IdsScanAlertConfig) -> ir.Table:
    """Scan signatures from an IDS: ``ids_scan_alert`` findings.

    Per source and window of ``cfg.window_seconds`` (3600 s), scan alerts >=
    ``cfg.min_alerts`` (1): the sensor already applied its own threshold.
    Score: alerts. Label: ``IDS scan signatures``. Targets: the alerted
    destinations; ports: their ports.
    """
    honeypot = alert.rule_category.lower().fill_null("") == HONEYPOT_CATEGORY
    events = alert.filter(is_scan(alert) & ~honeypot)
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="destination_ip",
        having=lambda t: t.event_count >= cfg.min_alerts,
        score=lambda t: t.event_count,
        extra=lambda t: {"port_count": t.destination_port.nunique()},
        collected=_ports,
    )
    return as_findings(best, IDS_SCAN_ALERT, label="IDS scan signatures")


def honeypot_touch(alert: ir.Table, cfg: HoneypotTouchConfig) -> ir.Table:
    """Honeypot touches: ``honeypot_touch`` findings.

    Per source and window of ``cfg.window_seconds`` (86400 s), honeypot
    events >= ``cfg.min_events`` (1). Score: events. Label: ``honeypot``.
    Targets: the honeypots touched; ports: their services.
    """
    events = alert.filter(alert.rule_category.lower() == HONEYPOT_CATEGORY)
    best = windowed_findings(
        events,
        window_seconds=cfg.window_seconds,
        keys=["source_ip"],
        target="destination_ip",
        having=lambda t: t.event_count >= cfg.min_events,
        score=lambda t: t.event_count,
        extra=lambda t: {"port_count": t.destination_port.nunique()},
        collected=_ports,
    )
    return as_findings(best, HONEYPOT_TOUCH, label=HONEYPOT_CATEGORY)


DETECTIONS: Final[dict[str, Detection]] = {
    IDS_SCAN_ALERT: Detection(
        ids_scan_alert,
        "ids_scan_alert",
        "IDS scan signatures (ET SCAN, Snort portscan, Zeek Scan::) from one source",
        ACTIVE_SCANNING,
        ("alert",),
    ),
    HONEYPOT_TOUCH: Detection(
        honeypot_touch,
        "honeypot_touch",
        "a source touching a honeypot (OpenCanary, Cowrie): nothing legitimate does",
        ACTIVE_SCANNING,
        ("alert",),
    ),
}
