"""``reconwatch export``: the cases document (or the detections) in other tools' formats.

Registered on the main command by ``main.add_command(export)``. Every
subcommand reads a ``cases.json`` (``-`` for stdin, so ``reconwatch hunt
--json ... | reconwatch export ecs -`` works) and writes to stdout or
``--out``; problems are one-line ``click.ClickException``s, never tracebacks.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from reconwatch.export import DEFAULT_INDEX, DEFAULT_SOC
from reconwatch.export import document as doc
from reconwatch.export.thehive import (
    LEVELS,
    AlertOptions,
    TheHiveError,
    alerts,
    api_key_from_env,
    export_thehive,
    push_alerts,
)
from reconwatch.files import write_text_atomic
from reconwatch.report.text import clean

# The other exporters are imported by their commands: they load STIX and the
# detections' registry (Ibis, Arrow), which no other command should wait for.

#: Elasticsearch index / data stream names: lower case, no spaces or separators.
_INDEX = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,254}$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

CASES_ARG = click.argument("cases_json", metavar="CASES_JSON", type=str)
OUT_OPT = click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)


def _error(message: str) -> click.ClickException:
    # Messages may quote file names or document text: cleaned to one line.
    return click.ClickException(clean(message, 500))


def _load(path: str) -> dict[str, Any]:
    try:
        if path == "-":
            return doc.parse_document(_stdin_text(), "stdin")
        return doc.load_document(path)
    except doc.CasesDocumentError as exc:
        raise _error(str(exc)) from None


def _stdin_text() -> str:
    # Read as bytes: a text stdin raises UnicodeDecodeError (a traceback) on
    # a file that is not UTF-8, where a file path gives a one-line error.
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise doc.CasesDocumentError(f"stdin: cannot read: {exc}") from None


def _write(text: str, out: Path | None) -> None:
    # A lone surrogate (a JSON ``\\udc80`` escape in a hand-edited document)
    # cannot be UTF-8: written as that JSON escape again, not as a raw byte on
    # stdout (invalid UTF-8) or a traceback with --out.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        write_text_atomic(out, text)
    except OSError as exc:
        raise _error(f"{out}: cannot write: {exc.strerror}") from None
    click.echo(f"wrote {clean(str(out), 200)}", err=True)


def _convert(build: Any, *args: Any) -> str:
    try:
        return str(build(*args))
    except doc.CasesDocumentError as exc:
        raise _error(str(exc)) from None


@click.group("export")
def export() -> None:
    """Export cases (or the detections) to STIX, OCSF, ECS, TheHive and Sigma."""


@export.command("stix")
@CASES_ARG
@OUT_OPT
@click.option(
    "--soc-name", default=DEFAULT_SOC, show_default=True, help="Name of the SOC identity."
)
def stix_command(cases_json: str, out: Path | None, soc_name: str) -> None:
    """STIX 2.1 bundle: indicators, sightings, observed data, actors, attack patterns."""
    from reconwatch.export.stix import export_stix

    _write(_convert(export_stix, _load(cases_json), soc_name), out)


@export.command("ocsf")
@CASES_ARG
@OUT_OPT
@click.option("--ndjson", is_flag=True, help="One finding per line instead of a JSON array.")
def ocsf_command(cases_json: str, out: Path | None, ndjson: bool) -> None:
    """OCSF 1.5 Detection Findings (class 2004), one per case."""
    from reconwatch.export.ocsf import export_ocsf

    _write(_convert(export_ocsf, _load(cases_json), ndjson), out)


@export.command("ecs")
@CASES_ARG
@OUT_OPT
@click.option(
    "--index", default=DEFAULT_INDEX, show_default=True, help="Target index or data stream."
)
def ecs_command(cases_json: str, out: Path | None, index: str) -> None:
    """ECS alerts as NDJSON for the Elasticsearch/OpenSearch _bulk API."""
    from reconwatch.export.ecs import export_ecs

    if not _INDEX.match(index):
        raise _error(f"{index!r} is not a valid index name (lower case letters, digits, . _ + -)")
    _write(_convert(export_ecs, _load(cases_json), index), out)


@export.command("thehive")
@CASES_ARG
@OUT_OPT
@click.option("--source", default="reconwatch", show_default=True, help="Alert source.")
@click.option("--tlp", type=click.Choice(sorted(LEVELS)), default="amber", show_default=True)
@click.option("--pap", type=click.Choice(sorted(LEVELS)), default="amber", show_default=True)
@click.option("--push", "push_url", metavar="URL", help="Send the alerts to TheHive at URL.")
@click.option(
    "--api-key-env",
    metavar="VAR",
    default="THEHIVE_API_KEY",
    show_default=True,
    help="Environment variable holding the API key (never pass the key itself).",
)
@click.option("--insecure", is_flag=True, help="Do not verify TheHive's TLS certificate.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle to verify TheHive's certificate.",
)
def thehive_command(
    cases_json: str,
    out: Path | None,
    source: str,
    tlp: str,
    pap: str,
    push_url: str | None,
    api_key_env: str,
    insecure: bool,
    ca_file: str | None,
) -> None:
    """TheHive 5 alerts (JSON list); with --push, POST them to TheHive's API."""
    options = AlertOptions(source=clean(source, 100), tlp=LEVELS[tlp], pap=LEVELS[pap])
    document = _load(cases_json)
    if push_url is None:
        _write(_convert(export_thehive, document, options), out)
        return
    if not _ENV_VAR.match(api_key_env):
        raise _error(f"--api-key-env takes a variable name, not {api_key_env!r}")
    try:
        key = api_key_from_env(api_key_env)
        results = push_alerts(
            alerts(document, options), push_url, key, verify=not insecure, ca_file=ca_file
        )
    except TheHiveError as exc:
        raise _error(str(exc)) from None
    for result in results:
        click.echo(f"{clean(result.source_ref, 80)}: {result.status}")
    if out is not None:
        _write(export_thehive(document, options), out)


@export.command("sigma")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one <detection>.yml per detection into this directory (else stdout).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="reconwatch.yaml whose detect thresholds the rules use.",
)
def sigma_command(out_dir: Path | None, config_path: Path | None) -> None:
    """Sigma rules (correlation rules for count-based detections) with the config's thresholds."""
    from reconwatch.config import ConfigError, load_config
    from reconwatch.export.sigma import export_sigma, unsupported

    try:
        cfg = load_config(config_path).detect
    except ConfigError as exc:
        raise _error(str(exc)) from None
    files = export_sigma(cfg)
    skipped = unsupported(cfg)
    if out_dir is None:
        click.echo("---\n".join(files[name] for name in sorted(files)), nl=False)
    else:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            for name, text in sorted(files.items()):
                write_text_atomic(out_dir / f"{name}.yml", text)
        except OSError as exc:
            raise _error(f"{out_dir}: cannot write: {exc.strerror}") from None
        click.echo(f"wrote {len(files)} rule files to {clean(str(out_dir), 200)}", err=True)
    for name, why in sorted(skipped.items()):
        click.echo(f"no Sigma rule for {name}: {why}", err=True)
