"""Address-range and DNS-zone tests in the portable Ibis subset.

Engines store addresses as canonical text, so range membership is a set of
``startswith`` tests built by ``netaddr.text_prefixes`` (exact for single
addresses, with a colon check for partial IPv6 hextets): no integer
conversion, the same on DuckDB and Spark.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from reconwatch.netaddr import IPNetwork, TextPrefix, text_prefixes


def any_of(tests: Sequence[ir.BooleanValue]) -> ir.BooleanValue:
    return functools.reduce(lambda a, b: a | b, tests, ibis.literal(False))


def in_ranges(address: ir.StringValue, prefixes: Sequence[TextPrefix]) -> ir.BooleanValue:
    """True when the canonical ``address`` text lies in one of the ranges ``prefixes`` match."""
    tests = []
    for prefix, colon_at, exact in prefixes:
        if exact:
            tests.append(address == prefix)
            continue
        test = address.startswith(prefix)
        if colon_at is not None:
            test = test & (address.substr(colon_at, 1) == ":")
        tests.append(test)
    return address.notnull() & any_of(tests)


def in_networks(address: ir.StringValue, networks: Sequence[IPNetwork]) -> ir.BooleanValue:
    """``in_ranges`` over CIDR networks."""
    return in_ranges(address, text_prefixes(networks))


def under_zones(name: ir.StringValue, zones: Sequence[str]) -> ir.BooleanValue:
    """True when the lower-cased ``name`` is one of ``zones`` or lies under one."""
    tests = [(name == zone) | name.endswith("." + zone) for zone in zones]
    return name.notnull() & any_of(tests)
