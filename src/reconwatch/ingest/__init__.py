"""Ingest: sniff each input's format, parse it into the normalised tables, count every line."""
