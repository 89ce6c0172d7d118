"""What a detection is and what it returns.

A detection is a module in ``reconwatch.detect`` with a config dataclass (in
``reconwatch.config``) and a function ``detect(network, cfg) -> ibis.Table``
whose result has exactly the ``FINDINGS`` columns. Findings are few (one per
actor and window), so stages after detection may work on them in Python.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from reconwatch.schema import TIMESTAMP

FINDINGS: Final = pa.schema(
    [
        pa.field("detection", pa.string(), nullable=False),
        pa.field("source_ip", pa.string(), nullable=False),
        # Start of the tumbling window the finding belongs to (null when the
        # detection is not windowed, e.g. TRW over the whole input).
        pa.field("window_start", TIMESTAMP),
        pa.field("first_seen", TIMESTAMP, nullable=False),
        pa.field("last_seen", TIMESTAMP, nullable=False),
        # Events (lines) that support the finding.
        pa.field("event_count", pa.int64(), nullable=False),
        pa.field("target_count", pa.int64(), nullable=False),
        pa.field("port_count", pa.int64(), nullable=False),
        # Distinct destination addresses and ports involved.
        pa.field("targets", pa.list_(pa.string())),
        pa.field("ports", pa.list_(pa.int32())),
        # Detection-specific strength: distinct ports/hosts/pairs for scans, the
        # log-likelihood ratio for TRW, packet count for flag scans.
        pa.field("score", pa.float64(), nullable=False),
        # Detection-specific label, e.g. the probed port of a horizontal sweep,
        # the scanned host of a vertical scan, or "FIN,NULL" for flag scans.
        pa.field("label", pa.string()),
    ]
)
