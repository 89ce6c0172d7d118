"""TheHive export: alerts valid for thehive4py's InputAlert, escaped Markdown, and the push."""

from __future__ import annotations

import json
import re
import threading
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pydantic
import pytest
import typing_extensions as tx
from click.testing import CliRunner
from thehive4py.types.alert import InputAlert

from export_helpers import (
    HOSTILE_ACTOR,
    HOSTILE_PATH,
    INTEL_SOURCE,
    case_by_source,
    edge_document,
    hunted,
    swept_ports,
    write,
)
from reconwatch.export.cli import export
from reconwatch.export.thehive import AlertOptions, TheHiveError, alerts, push_alerts
from reconwatch.export.thehive import markdown as hive_markdown
from reconwatch.report.text import markdown

__all__ = ["hunted"]

_converted: dict[Any, Any] = {}


def _strict(typed_dict: Any) -> Any:
    """thehive4py's ``typing.TypedDict`` rebuilt for pydantic on Python 3.11
    (which requires ``typing_extensions.TypedDict``), refusing unknown keys."""
    if typed_dict in _converted:
        return _converted[typed_dict]
    fields = {}
    for key, hint in get_type_hints(typed_dict).items():
        wrap = tx.Required if key in typed_dict.__required_keys__ else tx.NotRequired
        fields[key] = wrap[_convert(hint)]
    rebuilt: Any = tx.TypedDict(typed_dict.__name__, fields)  # type: ignore[operator]
    rebuilt.__pydantic_config__ = pydantic.ConfigDict(extra="forbid")
    _converted[typed_dict] = rebuilt
    return rebuilt


def _convert(hint: Any) -> Any:
    if typing.is_typeddict(hint):
        return _strict(hint)
    if get_origin(hint) is list:
        return list[_convert(get_args(hint)[0])]  # type: ignore[misc]
    if get_origin(hint) is Union:
        return Union[tuple(_convert(a) for a in get_args(hint))]  # noqa: UP007
    return hint


INPUT_ALERT = pydantic.TypeAdapter(_strict(InputAlert))


def test_the_validator_refuses_what_thehive_would() -> None:
    good = {"type": "t", "source": "s", "sourceRef": "r", "title": "x", "description": "d"}
    INPUT_ALERT.validate_python(good, strict=True)
    for bad in ({**good, "severity": "high"}, {**good, "unknown": 1}, {"type": "t"}):
        with pytest.raises(pydantic.ValidationError):
            INPUT_ALERT.validate_python(bad, strict=True)


def test_every_alert_is_a_valid_input_alert(hunted: dict[str, Any]) -> None:
    items = alerts(hunted) + alerts(edge_document(hunted))
    for item in items:
        assert INPUT_ALERT.validate_python(item, strict=True) == item
    case = case_by_source(hunted, "198.51.100.23")
    item = next(a for a in items if a["sourceRef"] == case["id"])
    assert item["severity"] == {"low": 1, "medium": 2, "high": 3, "critical": 4}[case["severity"]]
    assert [p["patternId"] for p in item["procedures"]] == case["techniques"]
    assert item["procedures"][0]["tactic"] == "reconnaissance"
    source = next(o for o in item["observables"] if o["data"] == "198.51.100.23")
    assert source["dataType"] == "ip" and source["ioc"] is True
    assert (item["tlp"], item["pap"], source["tlp"]) == (2, 2, 2)


def test_hostile_text_is_escaped_in_markdown_and_kept_as_data(hunted: dict[str, Any]) -> None:
    intel = next(
        a for a in alerts(hunted) if a["sourceRef"] == case_by_source(hunted, INTEL_SOURCE)["id"]
    )
    assert HOSTILE_ACTOR not in intel["description"]
    assert "<img" not in intel["description"] and "&lt;img" in intel["description"]
    assert "\\[click\\]" in intel["description"] and "\\*x\\*" in intel["description"]
    assert "\\|" in intel["description"]  # no table cell can be opened
    source = next(o for o in intel["observables"] if o["data"] == INTEL_SOURCE)
    assert f"threat-actor:{HOSTILE_ACTOR}" in source["tags"]  # plain data, verbatim
    hostile = next(
        a for a in alerts(edge_document(hunted)) if a["sourceRef"] == "RW-20260930-hostile"
    )
    assert HOSTILE_PATH not in hostile["description"] and "<script>" not in hostile["description"]
    assert "&lt;script&gt;" in hostile["description"] and "\\`id\\`" in hostile["description"]


def test_urls_from_logs_are_no_links_in_the_description(hunted: dict[str, Any]) -> None:
    """GFM renderers turn a bare ``http://`` or ``www.`` into a link with no
    Markdown syntax: an attacker's Host header or a feed's actor name must not
    give the analyst a link to click."""
    document = edge_document(hunted)
    case = next(c for c in document["cases"] if c["id"] == "RW-20260930-hostile")
    case["findings"][0]["evidence"][0]["detail"] = (
        "GET www.evil.example /x 404 Mozilla (+https://scanner.example/about)"
    )
    case["reasons"] = ["Host header was foohttp://evil.example/login"]
    (item,) = [a for a in alerts(document) if a["sourceRef"] == case["id"]]
    text = str(item["description"])
    assert "://" not in text.replace("\\://", "") and "www." not in text.replace("www\\.", "")
    assert "www\\.evil.example" in text and "https\\://scanner.example" in text
    assert "foohttp\\://evil.example" in text
    intel = next(
        a for a in alerts(hunted) if a["sourceRef"] == case_by_source(hunted, INTEL_SOURCE)["id"]
    )
    assert "\\[click\\](http\\://evil.example)" in intel["description"]


def test_e_mail_addresses_and_sweep_keys_are_no_links_in_the_description(
    hunted: dict[str, Any],
) -> None:
    """GFM also autolinks anything shaped like an e-mail address (and
    ``mailto:``/``xmpp:``): a sweep's key ``tcp/8080@198.51.100.0/24`` became
    a mailto link of ``8080@198.51.100.0``, and a log's ``admin@evil.example``
    one to click. Every ``@`` is escaped; ``\\@`` reads as ``@``."""
    document, case = swept_ports(hunted, range(0))
    case["reasons"] = ["phish reply-to mailto:admin@evil.example"]
    text = next(a for a in alerts(document) if a["sourceRef"] == case["id"])["description"]
    assert "@" in case["campaign"] and "\\@" in text
    assert re.search(r"(?<!\\)@", text) is None, text
    assert "mailto:admin\\@evil.example" in text


def test_a_case_of_many_sources_names_fifty_and_counts_the_rest(hunted: dict[str, Any]) -> None:
    document = edge_document(hunted)
    case = document["cases"][1]  # the IPv6 case
    case["sources"] = [f"2001:db8:77:1::{i + 1:x}" for i in range(60)]
    (item,) = [a for a in alerts(document) if a["sourceRef"] == case["id"]]
    line = next(ln for ln in item["description"].splitlines() if ln.startswith("**Sources:**"))
    assert line.endswith(f"{markdown('2001:db8:77:1::32')} and 10 more")
    assert line.count("2001:db8:77:1::") == 50


def test_a_campaign_names_its_key_and_its_sweeps(hunted: dict[str, Any]) -> None:
    def described(document: dict[str, Any], case: dict[str, Any]) -> str:
        (item,) = [a for a in alerts(document) if a["sourceRef"] == case["id"]]
        return str(item["description"])

    document, case = swept_ports(hunted, range(0))
    campaign = hive_markdown(case["campaign"])  # its "@" escaped: no e-mail autolink
    assert f"**Campaign:** {campaign}\n" in described(document, case)  # one sweep: its key
    document, case = swept_ports(hunted, range(9000, 9023))
    text = described(document, case)
    line = next(ln for ln in text.splitlines() if ln.startswith("**Campaign:**"))
    assert line.startswith(f"**Campaign:** {campaign} (24 sweeps ")
    assert line.endswith(" and 4 more)") and line.count("campaign:") == 21


def test_options_set_source_tlp_and_pap(hunted: dict[str, Any]) -> None:
    (item, *_) = alerts(hunted, AlertOptions(source="soc-a", tlp=3, pap=1))
    assert (item["source"], item["tlp"], item["pap"]) == ("soc-a", 3, 1)
    assert all((o["tlp"], o["pap"]) == (3, 1) for o in item["observables"])


# --------------------------------------------------------------------------- push


class FakeHive:
    """TheHive's alert endpoint on localhost: records requests, answers as told."""

    def __init__(self, status: int = 201, body: str = '{"_id": "~1"}') -> None:
        self.status, self.body = status, body
        self.requests: list[dict[str, Any]] = []
        hive = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hive.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status = hive.status
                if (
                    status == 201
                    and sum(
                        r["body"]["sourceRef"] == hive.requests[-1]["body"]["sourceRef"]
                        for r in hive.requests
                    )
                    > 1
                ):
                    status = 409  # TheHive refuses a second alert with the same sourceRef
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(hive.body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHive:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_push_posts_each_alert_with_the_bearer_key_and_dedupes(hunted: dict[str, Any]) -> None:
    items = alerts(hunted)[:3]
    with FakeHive() as hive:
        first = push_alerts(items, hive.url + "/", "s3cret")
        again = push_alerts(items, hive.url, "s3cret")
    assert [r.status for r in first] == ["created"] * 3
    assert [r.status for r in again] == ["already sent"] * 3
    request = hive.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/api/v1/alert")
    assert request["auth"] == "Bearer s3cret"
    assert request["type"] == "application/json"
    assert request["body"] == items[0]


def test_400_already_exists_counts_as_sent(hunted: dict[str, Any]) -> None:
    body = '{"type": "CreateError", "message": "Alert already exists"}'
    with FakeHive(status=400, body=body) as hive:
        (result,) = push_alerts(alerts(hunted)[:1], hive.url, "k")
    assert result.status == "already sent"


def test_server_error_is_one_clean_line(hunted: dict[str, Any]) -> None:
    body = '{"message": "boom\\n\\u001b[31mred"}'
    with FakeHive(status=500, body=body) as hive, pytest.raises(TheHiveError) as error:
        push_alerts(alerts(hunted)[:1], hive.url, "k")
    message = str(error.value)
    assert "HTTP 500" in message and "\n" not in message and "\x1b" not in message


def test_unreachable_server_and_bad_scheme_are_clean_errors(hunted: dict[str, Any]) -> None:
    with FakeHive() as hive:
        url = hive.url  # closed on exit: nothing listens there afterwards
    with pytest.raises(TheHiveError, match="cannot reach TheHive"):
        push_alerts(alerts(hunted)[:1], url, "k", timeout=5)
    with pytest.raises(TheHiveError, match="must be http"):
        push_alerts(alerts(hunted)[:1], "file:///etc/passwd", "k")


def test_cli_push_reads_the_key_from_the_environment(
    hunted: dict[str, Any], tmp_path: Path
) -> None:
    path = write(tmp_path / "cases.json", hunted)
    runner = CliRunner()
    with FakeHive() as hive:
        result = runner.invoke(
            export,
            ["thehive", str(path), "--push", hive.url, "--api-key-env", "RW_TEST_KEY"],
            env={"RW_TEST_KEY": "from-env"},
        )
        missing = runner.invoke(
            export,
            ["thehive", str(path), "--push", hive.url, "--api-key-env", "RW_UNSET_KEY"],
            env={"RW_UNSET_KEY": ""},
        )
    assert result.exit_code == 0, result.output
    assert result.output.count(": created") == len(hunted["cases"])
    assert {r["auth"] for r in hive.requests} == {"Bearer from-env"}
    assert missing.exit_code == 1
    assert "RW_UNSET_KEY is not set" in missing.output and "Traceback" not in missing.output


def test_cli_push_server_error_is_a_click_error(hunted: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "cases.json", hunted)
    with FakeHive(status=500, body="down") as hive:
        result = CliRunner().invoke(
            export, ["thehive", str(path), "--push", hive.url], env={"THEHIVE_API_KEY": "k"}
        )
    assert result.exit_code == 1
    assert result.output.startswith("Error: TheHive refused alert") and "HTTP 500" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_redirect_is_refused_and_the_key_goes_nowhere_else(hunted: dict[str, Any]) -> None:
    with FakeHive() as elsewhere:
        seen: list[dict[str, Any]] = []

        class Redirect(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                seen.append({"auth": self.headers.get("Authorization")})
                self.send_response(301)
                self.send_header("Location", elsewhere.url + "/api/v1/alert")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            with pytest.raises(TheHiveError, match="HTTP 301"):
                push_alerts(alerts(hunted)[:1], url, "s3cret")
        finally:
            server.shutdown()
            server.server_close()
    assert seen == [{"auth": "Bearer s3cret"}]
    assert elsewhere.requests == []  # neither the key nor the alert followed the redirect


def test_urls_with_a_query_or_user_are_refused(hunted: dict[str, Any]) -> None:
    for url in ("https://hive.example/?a=b", "https://user:pw@hive.example", "https://h/#x"):
        with pytest.raises(TheHiveError, match="no query, fragment or user"):
            push_alerts(alerts(hunted)[:1], url, "k")
    # The key never crosses a network in clear (loopback, as in these tests, is fine).
    with pytest.raises(TheHiveError, match="plain http"):
        push_alerts(alerts(hunted)[:1], "http://hive.example", "k")
