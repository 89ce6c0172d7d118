"""The one compiled part: netfilter's field scanner (src/reconwatch/ingest/_nffields.c).

Everything else is in pyproject.toml. The extension is optional: without a C
compiler the install still succeeds and the netfilter parser cuts the same
fields with DuckDB's regular expressions (slower; see docs/benchmarks.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "reconwatch.ingest._nffields",
            ["src/reconwatch/ingest/_nffields.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            optional=True,
        )
    ]
)
