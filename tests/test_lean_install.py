"""The core install works without pandas, and does not ask for it.

pandas is not a dependency of the core install (only of the Spark extra):
Arrow imports it the first time it builds an array from Python values
whenever it is installed, which costs every hunt about 0.4 s of its start.
Ibis's DuckDB backend works through Arrow without it. These tests hunt in an
interpreter where ``import pandas`` fails as it does when pandas is not
installed, and check the package's declared requirements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from reconwatch.generate import ALL_FAMILIES, min_sample_size


@pytest.fixture
def without_pandas(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import pandas`` fails as for a missing package."""
    shadow = tmp_path / "shadow" / "pandas"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pandas'\", name='pandas')\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(shadow.parent), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def test_the_shadow_hides_pandas(without_pandas: dict[str, str]) -> None:
    # Otherwise the test below would prove nothing.
    probe = subprocess.run(
        [sys.executable, "-c", "import pandas"],
        env=without_pandas,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode != 0
    assert "No module named 'pandas'" in probe.stderr


def test_a_whole_demo_hunt_runs_without_pandas(
    tmp_path: Path, without_pandas: dict[str, str]
) -> None:
    out = tmp_path / "demo"
    size = min_sample_size(ALL_FAMILIES)
    code = (
        "import sys\n"
        "from reconwatch.cli import main\n"
        f"try:\n    main(['demo', '--size', '{size}', '--out', {str(out)!r}])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "else:\n"
        "    code = 0\n"
        "loaded = 'pandas' in sys.modules and sys.modules['pandas'] is not None\n"
        "print('PANDAS-LOADED' if loaded else 'PANDAS-ABSENT')\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=without_pandas,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stdout.strip().endswith("PANDAS-ABSENT")
    assert "planted scanners found" in done.stdout
    cases = json.loads((out / "hunt" / "cases.json").read_text())
    assert cases["cases"], "the demo's planted actors make cases"
    assert (out / "hunt" / "report.html").stat().st_size > 0


def _core_requirements() -> list[Requirement]:
    """reconwatch's requirements outside any extra (markers of the Python version kept)."""
    found = [Requirement(text) for text in requires("reconwatch") or []]
    return [r for r in found if r.marker is None or r.marker.evaluate({"extra": ""})]


def test_the_core_requirements_do_not_bring_pandas() -> None:
    core = _core_requirements()
    names = {r.name.lower() for r in core}
    assert "ibis-framework" in names and "duckdb" in names
    assert "pandas" not in names
    # An extra of Ibis's backends would bring pandas back (each of them lists it).
    assert all(not r.extras for r in core if r.name.lower() == "ibis-framework")
    spark = [Requirement(t) for t in requires("reconwatch") or [] if 'extra == "spark"' in t]
    assert "pandas" in {r.name.lower() for r in spark}


def test_the_core_requirements_hold_what_ibis_duckdb_backend_needs_but_pandas() -> None:
    # Ibis's [duckdb] extra is what its DuckDB backend imports (pyarrow-hotfix,
    # packaging...): each part must be a core requirement here, pandas apart.
    needed = {
        Requirement(text).name.lower()
        for text in requires("ibis-framework") or []
        if 'extra == "duckdb"' in text.replace("'", '"')
    }
    assert {"duckdb", "pyarrow"} <= needed
    core = {r.name.lower() for r in _core_requirements()}
    assert needed - {"pandas"} <= core
