"""Placeholder: being written."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from reconwatch.ingest.base import Parsed, Parser


class NetfilterParser(Parser):
    name = "netfilter"
    dataset = "netfilter"

    @classmethod
    def sniff(cls, sample: Sequence[str]) -> bool:
        return False

    def parse(self, lines: pa.Table) -> Parsed:
        raise NotImplementedError
