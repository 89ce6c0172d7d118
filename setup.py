"""The one compiled part: netfilter's field scanner (src/reconwatch/ingest/_nffields.c).

Everything else is in pyproject.toml. The extension is optional: without a C
compiler the install still succeeds and the netfilter parser cuts the same
fields with DuckDB's regular expressions (slower; see docs/benchmarks.md).
"""

import os

from setuptools import Extension, setup

# CI sets this so that a failed build stops the install with the compiler's
# error, instead of a silent fallback found later by a test.
REQUIRED = os.environ.get("RECONWATCH_REQUIRE_COMPILED") == "1"

setup(
    ext_modules=[
        Extension(
            "reconwatch.ingest._nffields",
            ["src/reconwatch/ingest/_nffields.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            optional=not REQUIRED,
        )
    ]
)
