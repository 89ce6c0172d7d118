"""Each web/auth/honeypot sniffer claims its own samples and nobody else's."""

from __future__ import annotations

from pathlib import Path

from reconwatch.config import Config, IngestConfig
from reconwatch.ingest import auth, honeypot, mapping, registry, web
from reconwatch.ingest.sources import head_lines

OURS = [*web.PARSERS, *auth.PARSERS, *honeypot.PARSERS, *mapping.PARSERS]
FIXTURES = Path(__file__).parent / "fixtures"

#: Shared sample (relative to ../shared/data) -> the one of our formats that owns it.
OWNERS = {
    "benign-web/apache_logs": "clf",
    "formats/crowdsec-hub/apache-http-probing/apache-http-probing.log": "clf",
    "formats/crowdsec-hub/apache2-logs/apache2-logs.log": "clf",
    "formats/crowdsec-hub/apache2-malformed/apache2-logs.log": "clf",
    "formats/crowdsec-hub/aws-alb-http-bad-user-agent/aws-alb-http-bad-user-agent.log": "aws-alb",
    "formats/crowdsec-hub/cowrie-logs/cowrie-logs.log": "cowrie-text",
    "formats/crowdsec-hub/http-admin-interface-probing/http-admin-interface-probing.log": "clf",
    "formats/crowdsec-hub/http-technology-probing/http-technology-probing.log": "clf",
    "formats/crowdsec-hub/http-wordpress-scan/http-wordpress-scan.log": "clf",
    "formats/crowdsec-hub/nginx-bad-user-agent/nginx-bad-user-agent.log": "clf",
    "formats/crowdsec-hub/nginx-http-malformed/nginx_http-logs.log": "clf",
    "formats/crowdsec-hub/nginx-http-sensitive-files/nginx-http-sensitive-files.log": "clf",
    "formats/crowdsec-hub/nginx_http-logs/nginx_http-logs.log": "clf",
    "formats/crowdsec-hub/opnsense-sshd/opnsense-sshd.log": "sshd",
    "formats/crowdsec-hub/pfsense-rfc5424-nginx/pfsense-rfc5424-nginx.log": "nginx-error",
    "formats/crowdsec-hub/sshd-invalid-bf/sshd-invalid-bf.log": "sshd",
    "formats/crowdsec-hub/sshd-logs/sshd-logs.log": "sshd",
    "formats/crowdsec-hub/sshd-success-logs/sshd-success-logs.log": "sshd",
}

FIXTURE_OWNERS = {
    "web/nginx.json": "nginx-json",
    "web/iis.log": "iis",
    "web/haproxy.log": "haproxy",
    "auth/openvpn.log": "openvpn",
    "auth/windows.jsonl": "windows-json",
    "honeypot/cowrie.json": "cowrie",
    "honeypot/opencanary.json": "opencanary",
    "mapping/vpn.csv": "mapping",
    "mapping/edr.jsonl": "mapping",
}


def _claims(path: Path) -> list[str]:
    sample = head_lines(path.read_bytes()[:65536])
    return [parser.name for parser in OURS if parser.sniff(sample)]


def test_each_shared_sample_is_claimed_by_its_owner_only(shared_data: Path) -> None:
    samples = sorted(
        p
        for p in shared_data.rglob("*")
        if p.is_file()
        and p.suffix not in (".assert", ".yaml", ".json", ".md")
        and p.name != "LICENSE"
    )
    assert len(samples) >= 30
    claims = {str(p.relative_to(shared_data)): _claims(p) for p in samples}
    expected = {name: ([OWNERS[name]] if name in OWNERS else []) for name in claims}
    assert claims == expected


def test_each_fixture_is_claimed_by_its_owner_only() -> None:
    mapping.activate(
        Config(
            ingest=IngestConfig(
                mappings=[str(FIXTURES / "mapping" / n) for n in ("vpn.yaml", "edr.yaml")]
            )
        )
    )
    try:
        claims = {name: _claims(FIXTURES / name) for name in FIXTURE_OWNERS}
    finally:
        mapping.activate(Config())
    assert claims == {name: [owner] for name, owner in FIXTURE_OWNERS.items()}


def test_registry_sniffs_our_fixtures_to_our_formats() -> None:
    # haproxy.log holds one sshd line too: a mixed syslog file, for the multiplexer.
    expected = {**FIXTURE_OWNERS, "web/haproxy.log": "syslog"}
    for name, owner in expected.items():
        if owner == "mapping":
            continue
        sample = head_lines((FIXTURES / name).read_bytes())
        found = registry.sniff(sample)
        assert (name, found.name if found else None) == (name, owner)


def test_sniffers_never_raise_on_junk() -> None:
    junk = ["", "{", "#Fields:", "\x00" * 100, "[" * 10_000, '{"logtype": 1}', "a" * 70_000]
    for parser in OURS:
        assert parser.sniff(junk) in (True, False)
        assert parser.sniff([]) is False
