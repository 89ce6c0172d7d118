"""A throwaway PostgreSQL server for the tests, from the Debian packages (.ci/run installs them).

It runs as the ``postgres`` system user in a fresh data directory on a free
loopback port, and is stopped and deleted afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database on a private PostgreSQL server."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")
    bindir = Path(bins[-1]).parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="rw-pg-", dir="/tmp"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                        "-U", "postgres"], **run)  # type: ignore[call-overload]  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-o", options,
                        "-w", "-l", str(root / "log"), "start"], **run)  # type: ignore[call-overload]  # fmt: skip
        subprocess.run([*as_postgres, str(bindir / "createdb"), "-h", "127.0.0.1", "-p",
                        str(port), "-U", "postgres", "reconwatch"], **run)  # type: ignore[call-overload]  # fmt: skip
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/reconwatch"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=120)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
