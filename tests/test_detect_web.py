"""Web reconnaissance detections: each case builds its requests inline and asserts exact findings.

Attacker 198.51.100.7, benign browser 192.0.2.20, against the site
www.example.org served on 203.0.113.80.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from conftest import BASE_TIME, spark_sql_options, table_rows
from ingest_helpers import make, parse
from reconwatch import schema
from reconwatch.config import (
    DetectConfig,
    ScannerUserAgentConfig,
    SensitivePathProbeConfig,
    WebHostBareIpConfig,
    WebTechnologyProbeConfig,
    WebVhostSweepConfig,
    WebWordlistScanConfig,
)
from reconwatch.detect import DETECTIONS, web
from reconwatch.ingest.web_alb import AlbParser
from reconwatch.ingest.web_clf import ClfParser
from test_ingest_web import alb_sweep_lines

ATTACKER = "198.51.100.7"
BENIGN = "192.0.2.20"
SERVER = "203.0.113.80"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def at(seconds: float) -> dt.datetime:
    return BASE_TIME + dt.timedelta(seconds=seconds)


def http_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """An ``http`` table from partial rows (proposed for conftest beside network_rows).

    Defaults: GET / on www.example.org answered 200 to a Chrome browser at
    BASE_TIME, line numbers 1..n; ``seconds`` may stand in for ``timestamp``.
    """
    defaults: dict[str, Any] = {
        "destination_ip": SERVER,
        "destination_port": 443,
        "url_domain": "www.example.org",
        "http_request_method": "GET",
        "url_path": "/",
        "http_version": "1.1",
        "http_response_status_code": 200,
        "user_agent_original": CHROME,
        "event_dataset": "clf",
        "log_file": "access.log",
    }
    return table_rows(schema.HTTP, defaults, rows)


def table(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(http_rows(rows))


def findings(expr: ibis.Table) -> list[dict[str, Any]]:
    return sorted(
        expr.to_pyarrow().to_pylist(),
        key=lambda f: (f["source_ip"], f["label"] or "", f["window_start"]),
    )


def finding(**values: Any) -> dict[str, Any]:
    return {"port_count": None, "ports": None, **values}


def browsing(pages: int, *, source: str = BENIGN, not_found: int = 3) -> list[dict[str, Any]]:
    """A busy browser: ``pages`` distinct pages, the first ``not_found`` of them broken links."""
    return [
        {
            "source_ip": source,
            "url_path": f"/page/{n}",
            "seconds": n,
            "http_response_status_code": 404 if n < not_found else 200,
        }
        for n in range(pages)
    ]


# --- web_wordlist_scan ------------------------------------------------------------------------


def test_acunetix_posing_as_chrome_is_caught_by_behaviour() -> None:
    words = [f"/{w}{n}" for n in range(30) for w in ("admin",)]
    rows = [
        {"source_ip": ATTACKER, "url_path": path, "http_response_status_code": 404, "seconds": n}
        for n, path in enumerate(words)
    ]
    rows.append({"source_ip": ATTACKER, "url_path": "/", "seconds": 31})  # a 200: not counted
    rows += browsing(200)
    assert findings(web.web_wordlist_scan(table(rows), WebWordlistScanConfig())) == [
        finding(
            detection="web_wordlist_scan",
            source_ip=ATTACKER,
            window_start=at(0),
            first_seen=at(0),
            last_seen=at(29),
            event_count=30,
            target_count=30,
            targets=sorted(words),
            score=30.0,
            label="4xx",
        )
    ]
    # The same browser with 24 broken links stays under the 25 distinct paths.
    assert (
        findings(web.web_wordlist_scan(table(browsing(200, not_found=24)), WebWordlistScanConfig()))
        == []
    )


# --- web_scanner_user_agent -------------------------------------------------------------------


def test_scanner_user_agents_are_named_case_insensitively_and_browsers_are_not() -> None:
    rows = [
        {
            "source_ip": ATTACKER,
            "url_path": "/",
            "seconds": 1,
            "user_agent_original": "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)",
        },
        {
            "source_ip": ATTACKER,
            "url_path": "/cgi-bin/",
            "seconds": 2,
            "user_agent_original": "Mozilla/5.00 (NIKTO/2.1.6) (Evasions:None) (Test:000002)",
        },
        {
            "source_ip": "198.51.100.8",
            "url_path": "/login",
            "seconds": 3,
            "user_agent_original": "sqlmap/1.7.2#stable (https://sqlmap.org)",
        },
        {"source_ip": BENIGN, "seconds": 4},
        {"source_ip": BENIGN, "seconds": 5, "user_agent_original": "curl/8.5.0"},
        {"source_ip": BENIGN, "seconds": 6, "user_agent_original": None},
    ]
    result = findings(web.web_scanner_user_agent(table(rows), ScannerUserAgentConfig()))
    assert result == [
        finding(
            detection="web_scanner_user_agent",
            source_ip=ATTACKER,
            window_start=at(0),
            first_seen=at(1),
            last_seen=at(2),
            event_count=2,
            target_count=2,
            targets=["/", "/cgi-bin/"],
            score=2.0,
            label="nikto",
        ),
        finding(
            detection="web_scanner_user_agent",
            source_ip="198.51.100.8",
            window_start=at(0),
            first_seen=at(3),
            last_seen=at(3),
            event_count=1,
            target_count=1,
            targets=["/login"],
            score=1.0,
            label="sqlmap",
        ),
    ]


def test_scanner_list_is_only_scanners() -> None:
    names = [name for name, _ in web.scanner_user_agents()]
    assert {"nikto", "sqlmap", "nmap", "nuclei", "acunetix", "feroxbuster"} <= set(names)
    substrings = {s for _, subs in web.scanner_user_agents() for s in subs}
    assert not {"curl", "python-requests", "mozilla"} & substrings


# --- web_sensitive_path_probe -----------------------------------------------------------------


def test_sensitive_path_probe_is_found_and_one_login_page_is_not() -> None:
    rows = [
        {"source_ip": ATTACKER, "url_path": p, "http_response_status_code": s, "seconds": n}
        for n, (p, s) in enumerate(
            [("/.env", 404), ("/.GIT/config", 403), ("/phpmyadmin/index.php", 404), ("/", 200)]
        )
    ]
    rows += [
        {"source_ip": BENIGN, "url_path": "/wp-login.php", "seconds": 1},
        {"source_ip": BENIGN, "url_path": "/environment", "seconds": 2},  # not /.env
        {"source_ip": BENIGN, "url_path": "/blog/.envy", "seconds": 3},
    ]
    assert findings(web.web_sensitive_path_probe(table(rows), SensitivePathProbeConfig())) == [
        finding(
            detection="web_sensitive_path_probe",
            source_ip=ATTACKER,
            window_start=at(0),
            first_seen=at(0),
            last_seen=at(2),
            event_count=3,
            target_count=3,
            targets=["/.env", "/.git/config", "/phpmyadmin/index.php"],
            score=3.0,
            label="sensitive paths",
        )
    ]


def test_an_editor_in_the_wordpress_admin_and_actuator_polling_are_not_probes() -> None:
    """Pages under one admin interface are one interface: a logged-in editor
    (``/wp-login.php`` then ``/wp-admin``) and Spring Boot monitoring
    (``/actuator/...``) stay under 3; a prober's guesses do not."""
    editor = [
        "/wp-login.php",
        "/wp-admin/",
        "/wp-admin/edit.php",
        "/wp-admin/post.php",
        "/wp-admin/load-styles.php",
        "/wp-admin/admin-ajax.php",
        "/wp-admin/edit.php",
    ]
    monitoring = ["/actuator/health", "/actuator/info", "/actuator/prometheus"] * 4
    prober = ["/wp-admin/", "/.env", "/.git/HEAD", "/phpmyadmin/", "/server-status"]
    rows = [{"source_ip": BENIGN, "url_path": p, "seconds": n} for n, p in enumerate(editor)] + [
        {"source_ip": "192.0.2.30", "url_path": p, "seconds": 15 * n}
        for n, p in enumerate(monitoring)
    ]
    rows += [
        {"source_ip": ATTACKER, "url_path": p, "http_response_status_code": 404, "seconds": n}
        for n, p in enumerate(prober)
    ]
    result = findings(web.web_sensitive_path_probe(table(rows), SensitivePathProbeConfig()))
    assert [(f["source_ip"], f["score"], f["targets"]) for f in result] == [
        (ATTACKER, 5.0, sorted(p.lower() for p in prober))
    ]


def test_renamed_installs_are_distinct_guesses_and_pages_under_one_are_not() -> None:
    paths = {
        "/wp-admin/": "/wp-admin",
        "/wp-admin/post.php": "/wp-admin",
        "/actuator/health": "/actuator",
        "/manager/html/list": "/manager/html",
        "/administrator/db/index.php": "/administrator",
        "/phpMyAdmin/index.php": "/phpmyadmin",
        "/phpmyadmin2017/index.php": "/phpmyadmin2017",
        "/phpmyadmin_old/": "/phpmyadmin_old",
        "/adminer-4.8.1.php": "/adminer-4.8.1.php",
        "/blog/wp-login.php": "/blog/wp-login.php",
        # Secrets are each a guess, wherever they lie.
        "/.git/HEAD": "/.git/head",
        "/api/.env": "/api/.env",
        "/phpmyadmin/config.json": "/phpmyadmin/config.json",
    }
    t = ibis.memtable(pa.table({"p": pa.array(list(paths), pa.string())}))
    got = t.select(f=web.sensitive_family(t.p)).to_pyarrow().column("f").to_pylist()
    assert dict(zip(paths, got, strict=True)) == paths
    # Three renamed installs guessed: three, so a prober cannot hide in variants.
    rows = [
        {"source_ip": ATTACKER, "url_path": p, "http_response_status_code": 404, "seconds": n}
        for n, p in enumerate(["/phpmyadmin/", "/phpmyadmin2017/", "/phpMyAdmin_old/index.php"])
    ]
    result = findings(web.web_sensitive_path_probe(table(rows), SensitivePathProbeConfig()))
    assert [f["score"] for f in result] == [3.0]


def test_a_probe_repeated_inside_one_window_is_one_finding() -> None:
    """The same three secrets at 10:10 and again at 10:40: wholly inside the
    10:00 hour, so one finding there, not one in each offset hour around it."""
    probe = ["/.env", "/.git/config", "/phpmyadmin/"]
    rows = [
        {"source_ip": ATTACKER, "url_path": p, "http_response_status_code": 404, "seconds": t + n}
        for t in (600, 2400)
        for n, p in enumerate(probe)
    ]
    result = findings(web.web_sensitive_path_probe(table(rows), SensitivePathProbeConfig()))
    assert [(f["window_start"], f["event_count"], f["score"]) for f in result] == [(at(0), 6, 3.0)]


def test_phpmyadmin_variants_are_one_family_and_look_alikes_are_not() -> None:
    paths = {
        "/phpmyadmin2017/index.php": True,  # the CrowdSec hub sample's
        "/phpMyAdmin-5.2.1-all-languages/": True,
        "/phpmyadmin_old/": True,
        "/db/phpmyadmin": True,  # still matched as the plain entry
        "/pma2019/": True,
        "/pma/": True,
        "/adminer-4.8.1.php": True,
        "/tools/adminer.php": True,
        "/pmaps/": False,  # hence no /pma* family
        "/blog/about-phpmyadmin": False,
        "/docs/phpmyadmin-guide/": False,  # families match from the root only
    }
    t = ibis.memtable(pa.table({"p": pa.array(list(paths), pa.string())}))
    got = t.select(s=web.is_sensitive(t.p)).to_pyarrow().column("s").to_pylist()
    assert dict(zip(paths, got, strict=True)) == paths
    assert "/phpmyadmin" in web.sensitive_families()
    assert "/phpmyadmin" in web.sensitive_paths()  # Sigma's endswith list keeps it
    assert not any(p.endswith("*") for p in web.sensitive_paths())


# --- web_technology_probe ---------------------------------------------------------------------


def test_technology_paths_name_their_product() -> None:
    paths = {
        "/crx/packmgr/service.jsp": "Adobe Experience Manager",
        "/CGI-BIN/videoconfiguration.cgi": "ACTi video monitoring panel",
        "/vpn/../vpns/cfg/smb.conf": "Citrix ADC / Gateway",
        "/blog/wp-content/plugins/akismet/readme.txt": "WordPress plugins and themes",
        "/wp-content/plugins/akismet/": "WordPress plugins and themes",
        "/wp-content/plugins/akismet/style.css": None,  # an asset browsers load
        "/wp-content/uploads/2024/cat.jpg": None,
        "/crxde-tutorial": None,
        "/some/random/path": None,
    }
    t = ibis.memtable(pa.table({"p": pa.array(list(paths), pa.string())}))
    got = t.select(x=web.technology_product(t.p)).to_pyarrow().column("x").to_pylist()
    assert dict(zip(paths, got, strict=True)) == paths


def test_technology_probe_needs_a_refusal_and_a_plugin_hunt_needs_three() -> None:
    plugins = [
        "/wp-content/plugins/adminimize/adminimize_page.php",
        "/wp-content/plugins/sniplets/modules/syntax_highlight.php",
        "/wp-content/plugins/blocksy-companion/readme.txt",
    ]
    rows = [
        {"source_ip": ATTACKER, "url_path": p, "http_response_status_code": 404, "seconds": n}
        for n, p in enumerate(plugins)
    ]
    rows.append(
        {
            "source_ip": "198.51.100.8",
            "url_path": "/crx/packmgr/service.jsp",
            "http_response_status_code": 403,
            "seconds": 5,
        }
    )
    # A visitor of a real WordPress site: plugin scripts answered 200 are no guess.
    rows += [
        {"source_ip": BENIGN, "url_path": p.replace("adminimize", "akismet"), "seconds": 10 + n}
        for n, p in enumerate(plugins)
    ]
    # A page with stale links to a removed plugin: assets and two scripts 404.
    rows += [
        {
            "source_ip": "192.0.2.21",
            "url_path": f"/wp-content/plugins/old-gallery/{name}",
            "http_response_status_code": 404,
            "seconds": 20 + n,
        }
        for n, name in enumerate(["gallery.css", "gallery.js", "ajax.php", "thumbs.php"])
    ]
    # A 401 on a product path: the product is there and asks for a login.
    rows.append(
        {
            "source_ip": "192.0.2.22",
            "url_path": "/crx/de/index.jsp",
            "http_response_status_code": 401,
            "seconds": 30,
        }
    )
    rows += browsing(50)
    result = findings(web.web_technology_probe(table(rows), WebTechnologyProbeConfig()))
    assert result == [
        finding(
            detection="web_technology_probe",
            source_ip=ATTACKER,
            window_start=at(0),
            first_seen=at(0),
            last_seen=at(2),
            event_count=3,
            target_count=3,
            targets=sorted(plugins),
            score=3.0,
            label="WordPress plugins and themes",
        ),
        finding(
            detection="web_technology_probe",
            source_ip="198.51.100.8",
            window_start=at(0),
            first_seen=at(5),
            last_seen=at(5),
            event_count=1,
            target_count=1,
            targets=["/crx/packmgr/service.jsp"],
            score=1.0,
            label="Adobe Experience Manager",
        ),
    ]
    # The thresholds are the config's: a fourth distinct plugin path demanded.
    strict = WebTechnologyProbeConfig(min_family_paths=4)
    assert [f["label"] for f in findings(web.web_technology_probe(table(rows), strict))] == [
        "Adobe Experience Manager"
    ]


# --- web_host_bare_ip -------------------------------------------------------------------------


def test_ip_literal_hosts_are_recognised_without_regex() -> None:
    hosts = [
        "203.0.113.80",
        "203.0.113.80:8080",
        "[2001:db8::1]:443",
        "2001:db8::1",
        "fe80::1",  # starts with a hex letter
        "[fe80::1]:8080",
        "www.example.org",
        "1.2.3",
        "cafe.be",
        "example.org:443",
        "",
        None,
    ]
    t = ibis.memtable(pa.table({"h": pa.array(hosts, pa.string())}))
    got = t.select(ip=web.is_ip_literal(t.h)).to_pyarrow().column("ip").to_pylist()
    # A missing Host is not an IP literal: False, not null.
    assert got == [True, True, True, True, True, True, False, False, False, False, False, False]


def test_bare_ip_host_requests_are_found_at_three() -> None:
    rows = [
        {"source_ip": ATTACKER, "url_domain": h, "seconds": n}
        for n, h in enumerate(["203.0.113.80", "203.0.113.80:80", "203.0.113.81"])
    ]
    rows += [{"source_ip": BENIGN, "url_domain": "203.0.113.80", "seconds": n} for n in range(2)]
    rows += [{"source_ip": BENIGN, "seconds": n} for n in range(10)]
    assert findings(web.web_host_bare_ip(table(rows), WebHostBareIpConfig())) == [
        finding(
            detection="web_host_bare_ip",
            source_ip=ATTACKER,
            window_start=at(0),
            first_seen=at(0),
            last_seen=at(2),
            event_count=3,
            target_count=3,
            targets=["203.0.113.80", "203.0.113.80:80", "203.0.113.81"],
            score=3.0,
            label="IP literal Host",
        )
    ]


# --- web_vhost_sweep --------------------------------------------------------------------------


def test_vhost_sweep_is_found_and_a_few_sites_are_not() -> None:
    vhosts = [
        f"{w}.example.org"
        for w in (
            "dev",
            "staging",
            "test",
            "admin",
            "intranet",
            "vpn",
            "mail",
            "git",
            "jenkins",
            "api",
        )
    ]
    rows = [
        {
            "source_ip": ATTACKER,
            "url_domain": h.upper(),
            "http_response_status_code": 404,
            "seconds": n,
        }
        for n, h in enumerate(vhosts)
    ]
    rows += [
        {"source_ip": BENIGN, "url_domain": f"site{n % 9}.example.org", "seconds": n}
        for n in range(100)
    ]
    result = findings(web.web_vhost_sweep(table(rows), WebVhostSweepConfig()))
    assert [(f["source_ip"], f["score"], f["targets"], f["label"]) for f in result] == [
        (ATTACKER, 10.0, sorted(vhosts), "Host")
    ]


def test_https_vhost_sweep_through_an_alb_is_found() -> None:
    """Fifteen Host names under one TLS SNI name: the sweep is in the Host names."""
    lines = alb_sweep_lines(15)
    parsed = parse(make(AlbParser), lines).rows
    parsed = parsed.append_column("event_dataset", pa.repeat(pa.scalar("aws.elb"), len(lines)))
    t = ibis.memtable(schema.conform(parsed, schema.HTTP))
    result = findings(web.web_vhost_sweep(t, WebVhostSweepConfig()))
    assert [(f["source_ip"], f["score"], f["label"]) for f in result] == [
        ("198.51.100.88", 15.0, "Host")
    ]


# --- registry and portability -----------------------------------------------------------------


def test_web_detections_are_registered_on_the_http_table() -> None:
    for name in web.DETECTIONS:
        assert DETECTIONS[name].inputs == ("http",)
        assert hasattr(DetectConfig(), DETECTIONS[name].config)
    assert DETECTIONS["web_scanner_user_agent"].technique == "T1595.002"
    assert DETECTIONS["web_wordlist_scan"].technique == "T1595.003"
    assert DETECTIONS["web_technology_probe"].technique == "T1595.002"


@pytest.mark.parametrize("name", list(web.DETECTIONS))
def test_web_detection_compiles_for_spark(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spark_sql_options(monkeypatch)
    detection = web.DETECTIONS[name]
    expr = detection.function(table(browsing(5)), getattr(DetectConfig(), detection.config))
    sql = ibis.to_sql(expr, dialect="pyspark")
    assert "SELECT" in sql
    assert "REGEXP" not in sql.upper() and "RLIKE" not in sql.upper()


# --- real samples (CrowdSec hub), parsed by the clf parser -----------------------------------


def hub_http(hub: Path, name: str) -> ibis.Table:
    """One CrowdSec hub sample parsed by the CLF parser, as the ``http`` table."""
    lines = next((hub / name).glob("*.log")).read_text().splitlines()
    parsed = parse(make(ClfParser), lines).rows
    parsed = parsed.append_column("log_file", pa.repeat(pa.scalar(name), parsed.num_rows))
    if "event_dataset" not in parsed.column_names:
        parsed = parsed.append_column("event_dataset", pa.repeat(pa.scalar("clf"), parsed.num_rows))
    return ibis.memtable(schema.conform(parsed, schema.HTTP))


def run_all(t: ibis.Table) -> list[tuple[str, str, int, float, str]]:
    cfg = DetectConfig()
    out = []
    for name, detection in web.DETECTIONS.items():
        for f in detection.function(t, getattr(cfg, detection.config)).to_pyarrow().to_pylist():
            out.append((name, f["source_ip"], f["event_count"], f["score"], f["label"]))
    return sorted(out)


def test_crowdsec_hub_web_samples(crowdsec_hub: Path) -> None:
    # Nikto's own user agent (CrowdSec http-bad-user-agent).
    assert run_all(hub_http(crowdsec_hub, "nginx-bad-user-agent")) == [
        ("web_scanner_user_agent", "127.0.0.1", 3, 3.0, "nikto")
    ]
    # Nikto's RFI checks without a user agent: 77 404s on 67 distinct paths.
    assert run_all(hub_http(crowdsec_hub, "apache-http-probing")) == [
        ("web_wordlist_scan", "172.17.0.1", 77, 67.0, "4xx")
    ]
    sensitive = hub_http(crowdsec_hub, "nginx-http-sensitive-files")
    assert run_all(sensitive) == [
        ("web_sensitive_path_probe", "127.0.0.1", 6, 6.0, "sensitive paths")
    ]
    found = web.web_sensitive_path_probe(sensitive, SensitivePathProbeConfig()).to_pyarrow()
    assert found.column("targets").to_pylist() == [
        ["/.bash_history", "/.bashrc", "/.cvs", "/.cvsignore", "/.env", "/.git/head"]
    ]
    # 3 admin-interface 404s, /phpmyadmin2017 by the /phpmyadmin* family.
    assert run_all(hub_http(crowdsec_hub, "http-admin-interface-probing")) == [
        ("web_sensitive_path_probe", "157.230.234.189", 3, 3.0, "sensitive paths")
    ]
    # WordPress plugin scripts and readmes answered 404: 3 and 4 distinct paths.
    assert run_all(hub_http(crowdsec_hub, "http-wordpress-scan")) == [
        ("web_technology_probe", "127.0.0.1", 3, 3.0, "WordPress plugins and themes"),
        ("web_technology_probe", "192.168.1.1", 4, 4.0, "WordPress plugins and themes"),
    ]
    # One 403/404 on a product's fingerprint path is enough; a random 404 is not.
    assert run_all(hub_http(crowdsec_hub, "http-technology-probing")) == [
        ("web_technology_probe", "10.0.0.1", 1, 1.0, "ACTi video monitoring panel"),
        ("web_technology_probe", "10.0.0.1", 1, 1.0, "Adobe Experience Manager"),
        ("web_technology_probe", "10.0.0.2", 1, 1.0, "Adobe Experience Manager"),
    ]
