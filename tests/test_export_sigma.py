"""Sigma export: every rule parses in pySigma, passes its validators and converts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from sigma.backends.test import TextQueryTestBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.validation import SigmaValidator
from sigma.validators.core import validators

from reconwatch.config import Config, DetectConfig
from reconwatch.detect import DETECTIONS
from reconwatch.export.cli import export
from reconwatch.export.sigma import all_rules, export_sigma, rule_id, unsupported

#: pySigma's ATT&CK and D3FEND tag validators download MITRE's data at run
#: time; the tests run offline, so tags are checked for format only
#: (tag_format, namespace_tag) and against the expected technique below.
ONLINE = {"attacktag", "d3_fendtag"}


def collection(text: str) -> SigmaCollection:
    rules = SigmaCollection.from_yaml(text, collect_errors=True)
    errors = [e for r in rules.rules for e in r.errors]
    assert not errors, errors
    rules.resolve_rule_references()
    return rules


def test_every_rule_parses_validates_and_converts() -> None:
    rules = collection(all_rules(export_sigma()))
    offline = [v for name, v in validators.items() if name not in ONLINE]
    issues = SigmaValidator(offline).validate_rules(rules.rules)
    assert not issues, issues
    queries = TextQueryTestBackend().convert(rules)
    assert len(queries) == len(export_sigma())  # one query per detection


def test_every_detection_has_a_rule_or_a_reason() -> None:
    files, skipped = export_sigma(), unsupported()
    assert set(files) | set(skipped) == set(DETECTIONS)
    assert not set(files) & set(skipped)
    assert {"vertical_scan", "horizontal_scan", "dns_bruteforce", "web_wordlist_scan"} <= set(files)
    assert {"zone_transfer", "dns_chaos_probe", "web_scanner_user_agent"} <= set(files)
    assert "trw_scan" in skipped


def test_count_detections_are_correlations_on_the_configured_thresholds() -> None:
    cfg = Config.model_validate(
        {"detect": {"vertical_scan": {"min_ports": 40, "window_seconds": 600}}}
    ).detect
    rules = collection(export_sigma(cfg)["vertical_scan"])
    base, correlation = rules.rules
    assert isinstance(base, SigmaRule) and isinstance(correlation, SigmaCorrelationRule)
    assert base.logsource.category == "firewall"
    assert correlation.type.name == "VALUE_COUNT"
    assert correlation.group_by == ["src_ip", "dst_ip"]
    assert correlation.condition.count == 40 and correlation.condition.fieldref == "dst_port"
    assert correlation.timespan.seconds == 600
    assert correlation.rules[0].rule is base
    default = collection(export_sigma(DetectConfig())["vertical_scan"]).rules[1]
    assert default.condition.count == DetectConfig().vertical_scan.min_ports


def test_simple_detections_are_plain_rules_with_attack_tags() -> None:
    files = export_sigma()
    (axfr,) = collection(files["zone_transfer"]).rules
    assert isinstance(axfr, SigmaRule) and axfr.logsource.category == "dns"
    assert {str(t) for t in axfr.tags} == {"attack.reconnaissance", "attack.t1590.001"}
    (chaos,) = collection(files["dns_chaos_probe"]).rules
    assert "version.bind" in files["dns_chaos_probe"]
    assert isinstance(chaos, SigmaRule)
    (agents,) = collection(files["web_scanner_user_agent"]).rules
    assert agents.logsource.category == "webserver" and "nikto" in files["web_scanner_user_agent"]


def test_authorised_secondaries_become_a_filter() -> None:
    cfg = Config.model_validate(
        {"detect": {"zone_transfer": {"authorised_secondaries": ["192.0.2.53/32"]}}}
    ).detect
    (rule,) = collection(export_sigma(cfg)["zone_transfer"]).rules
    query = TextQueryTestBackend().convert_rule(rule)[0]
    assert "192.0.2.53" in query and "not" in query


def test_ids_are_stable_and_unique() -> None:
    first, second = export_sigma(), export_sigma()
    assert first == second
    ids = [str(r.id) for text in first.values() for r in collection(text).rules]
    assert len(set(ids)) == len(ids)
    corr = yaml.safe_load_all(first["horizontal_scan"])
    assert list(corr)[1]["id"] == rule_id("horizontal_scan")


def test_cli_writes_one_file_per_detection(tmp_path: Path) -> None:
    config = tmp_path / "reconwatch.yaml"
    config.write_text("detect:\n  horizontal_scan: {min_hosts: 99}\n", encoding="utf-8")
    result = CliRunner().invoke(
        export, ["sigma", "--out", str(tmp_path / "rules"), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "rules").iterdir())
    assert files == sorted(f"{n}.yml" for n in export_sigma())
    text = (tmp_path / "rules" / "horizontal_scan.yml").read_text(encoding="utf-8")
    assert collection(text).rules[1].condition.count == 99
    assert "no Sigma rule for trw_scan" in result.output


def test_cli_stdout_and_bad_config(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(export, ["sigma"])
    assert result.exit_code == 0
    parsed: list[Any] = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert len(parsed) == len(collection(all_rules(export_sigma())).rules)
    bad = tmp_path / "bad.yaml"
    bad.write_text("detect:\n  vertical_scan: {min_ports: lots}\n", encoding="utf-8")
    failed = runner.invoke(export, ["sigma", "--config", str(bad)])
    assert failed.exit_code == 1 and failed.output.startswith("Error:")
    assert "Traceback" not in failed.output


def test_every_rule_is_tagged_with_its_detections_technique() -> None:
    for name, text in export_sigma().items():
        technique = DETECTIONS[name].technique.lower()
        for rule in collection(text).rules:
            tags = {str(t) for t in rule.tags}
            assert f"attack.{technique}" in tags, name
            assert tags & {"attack.reconnaissance", "attack.discovery"}, name


def test_internal_enumeration_rules_exclude_our_own_clients() -> None:
    files = export_sigma()
    rules = collection(files["internal_name_probe"])
    _, correlation = rules.rules
    assert isinstance(correlation, SigmaCorrelationRule)
    assert correlation.condition.fieldref == "query"
    assert correlation.condition.count == DetectConfig().internal_name_probe.min_names
    query = "\n".join(str(q) for q in TextQueryTestBackend().convert(rules))
    assert ".internal" in query and "10.0.0.0/8" in query and "not" in query
    (leak,) = collection(files["private_answer_leak"]).rules
    assert "192.168.0.0/16" in TextQueryTestBackend().convert_rule(leak)[0]
    (host,) = collection(files["web_internal_host"]).rules
    assert host.logsource.category == "webserver"
    pattern = re.compile(
        yaml.safe_load(files["web_internal_host"])["detection"]["selection_address"]["cs-host|re"]
    )
    matched = [
        h for h in ("[FD00::1]:443", "[fd12::1]", "10.1.2.3:8080", "[FE80::1]") if pattern.search(h)
    ]
    assert matched == ["[FD00::1]:443", "[fd12::1]", "10.1.2.3:8080"]
    assert {"ids_scan_alert", "honeypot_touch"} <= set(unsupported())


def test_ptr_sweep_says_what_the_rule_leaves_out() -> None:
    """reconwatch fires on a /24's coverage *or* the total (ours only) *or* an
    ip6.arpa walk: the rule counts the in-addr.arpa total alone, and says so."""
    (_, correlation) = collection(export_sigma()["ptr_sweep"]).rules
    text = " ".join(str(correlation.description).split())
    assert "also requires" not in text
    assert "ip6.arpa" in text and "does not see" in text and "home networks" in text
