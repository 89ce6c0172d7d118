"""Detections of DNS enumeration (being written)."""

from __future__ import annotations

from typing import Final

from reconwatch.detect.base import Detection

DETECTIONS: Final[dict[str, Detection]] = {}
