"""The client behind the site's own proxies, read from X-Forwarded-For.

A web server behind a reverse proxy, load balancer or CDN logs the proxy as
the client (nginx ``$remote_addr``, Apache ``%h``): every scanner would be one
source, the proxy. Each proxy appends the address it got the request from to
the request's ``X-Forwarded-For``, so the header reads ``client, proxy1,
proxy2`` and the server's peer is the last proxy. Only the entries our own
proxies appended can be believed: anything further left is whatever the
client sent, and a scanner can write any address there.

So, as nginx's realip module with ``real_ip_recursive on`` and CrowdSec's
``trusted_ips`` do, for a row whose peer (``source_ip``) lies in
``ingest.trusted_proxies`` and that has an X-Forwarded-For (``base.FORWARDED``,
emitted by the web parsers): the header is split on ``,``, each entry trimmed,
and the entries are walked from the right, passing over those that are
trusted proxies themselves; the first one that is not becomes the row's
``source_ip`` (canonical, as every address), and its port, if the entry has
one, the ``source_port`` (the logged port was the proxy's connection, so it is
nulled otherwise). Rules where the header is not plain:

* ``a.b.c.d:port``, ``[v6]:port`` and ``[v6]`` (load balancers that write
  the client's port, e.g. Azure Application Gateway) are read without the
  port and brackets; a bare IPv6 address is read as it is (``2001:db8::1:80``
  is an address, there is no port to strip).
* An entry that is not an address (``unknown``, which Squid and RFC 7239
  proxies write for a client they hide, ``-``, an empty entry, an obfuscated
  ``_id``, a port above 65535, a zone id, garbage) stops the walk and the row
  keeps the proxy's address: the client is not known, and the proxy at least
  is. (nginx keeps the last trusted entry instead; the peer is one we saw.)
* A header whose ``MAX_HOPS`` rightmost entries are all trusted proxies keeps
  the proxy's address too (no site chains that many proxies; the entries
  further left are the client's own text).
* A row whose peer is not trusted keeps its ``source_ip`` whatever its
  header says: anyone can send ``X-Forwarded-For``.

With ``trusted_proxies`` empty (the default) the header is never read.
Vectorised: Arrow compute and numpy over the batch, the addresses normalised
once per distinct value (``addresses.normalise_ips``), range membership by
``addresses.in_networks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Final, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.ingest.addresses import in_networks, normalise_ips
from reconwatch.ingest.base import FORWARDED
from reconwatch.netaddr import IPNetwork, parse_networks

#: Entries read from the right end of a header, at most.
MAX_HOPS: Final = 32

#: An entry with its port, or a bracketed IPv6 address: ``1.2.3.4:5678``,
#: ``[2001:db8::1]:443``, ``[2001:db8::1]``. Other entries are read whole.
_WITH_PORT: Final = (
    r"^(?:\[(?P<bracketed>[^\]]*)\]|(?P<v4>[0-9]{1,3}(?:\.[0-9]{1,3}){3}))"
    r"(?::(?P<port>[0-9]{1,5}))?$"
)


class Forwarded(NamedTuple):
    """Rows with their clients read from X-Forwarded-For, how many were
    (``read``) and how many from a trusted proxy had a header that named none
    (``unread``: they keep the proxy's address)."""

    rows: pa.Table
    read: int
    unread: int = 0


@lru_cache(maxsize=8)
def _networks(items: tuple[str, ...]) -> list[IPNetwork]:
    return parse_networks(items)


def forwarded_rows(rows: pa.Table, trusted_proxies: Sequence[str]) -> Forwarded:
    """``rows`` without the ``FORWARDED`` column, their clients read from it
    behind ``trusted_proxies`` (see the module doc); ``read`` rows were."""
    if FORWARDED not in rows.column_names:
        return Forwarded(rows, 0)
    header = rows.column(FORWARDED)
    rows = rows.drop_columns([FORWARDED])
    if not trusted_proxies or rows.num_rows == 0 or "source_ip" not in rows.column_names:
        return Forwarded(rows, 0)  # the header is never read (the default)
    header = header.combine_chunks().cast(pa.string())
    networks = _networks(tuple(trusted_proxies))
    source = rows.column("source_ip").combine_chunks().cast(pa.string())
    given = pc.and_(pc.is_valid(header), pc.invert(pc.is_in(header, pa.array(["", "-"]))))
    asked = pc.and_(in_networks(source, networks), pc.fill_null(given, False))
    picked = pc.indices_nonzero(asked)
    if len(picked) == 0:
        return Forwarded(rows, 0)
    client, port = _walk(pc.take(header, picked), networks)
    found = pc.is_valid(client)
    count = int(pc.sum(found.cast(pa.int64())).as_py() or 0)
    if count == 0:
        return Forwarded(rows, 0, len(picked))
    # The rows whose client was read: ``asked`` less those whose walk found none.
    read = pc.replace_with_mask(asked, asked, found)
    rows = rows.set_column(
        rows.schema.get_field_index("source_ip"),
        "source_ip",
        pc.replace_with_mask(source, read, pc.filter(client, found)),
    )
    ports = pc.filter(port, found)
    if "source_port" in rows.column_names:
        at = rows.schema.get_field_index("source_port")
        old = rows.column(at).combine_chunks()
        new = pc.replace_with_mask(old, read, ports.cast(old.type))
        rows = rows.set_column(at, "source_port", new)
    else:
        new = pc.replace_with_mask(pa.nulls(rows.num_rows, pa.int32()), read, ports)
        rows = rows.append_column("source_port", new)
    return Forwarded(rows, count, len(picked) - count)


def _walk(headers: pa.Array, networks: Sequence[IPNetwork]) -> tuple[pa.Array, pa.Array]:
    """Per header (none null): the client address (null: none) and its port.

    One hop at a time from the right, each over the rows still walking: a
    row stops at its first entry that is not a trusted proxy (nearly every
    row at the first or second), so the entries further left -- the client's
    own text, as many as it likes -- are never read, let alone normalised.
    """
    entries = pc.split_pattern(headers, ",")
    values = entries.values
    offsets = entries.offsets.to_numpy()[:-1].astype(np.int64)
    lengths = pc.list_value_length(entries).to_numpy().astype(np.int64)
    walking = np.ones(len(headers), dtype=bool)
    stopped: list[np.ndarray] = []
    found: list[tuple[pa.Array, pa.Array]] = []
    for hop in range(MAX_HOPS):
        rows = np.flatnonzero(walking & (lengths > hop))
        if len(rows) == 0:
            break
        address, port = _entries(pc.take(values, pa.array(offsets[rows] + lengths[rows] - 1 - hop)))
        # An entry that is no address is not a trusted proxy either: it stops too.
        stop = ~in_networks(address, networks).to_numpy(zero_copy_only=False)
        stopped.append(rows[stop])
        found.append((address.filter(pa.array(stop)), port.filter(pa.array(stop))))
        walking[rows[stop]] = False
    # Rows still walking: every entry read was a trusted proxy: no client.
    at = np.full(len(headers), -1, dtype=np.int64)
    if stopped:
        which = np.concatenate(stopped)
        at[which] = np.arange(len(which))
    pick = pa.array(at, mask=at < 0)
    clients = pa.concat_arrays([a for a, _ in found]) if found else pa.array([], pa.string())
    ports = pa.concat_arrays([p for _, p in found]) if found else pa.array([], pa.int32())
    return pc.take(clients, pick), pc.take(ports, pick)


def _entries(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each entry's canonical address (null: not one) and port (null: none)."""
    text = pc.utf8_trim_whitespace(text)
    parts = pc.extract_regex(text, _WITH_PORT)
    cut = pc.fill_null(pc.is_valid(parts), False)
    inner = pc.binary_join_element_wise(
        pc.struct_field(parts, "bracketed"), pc.struct_field(parts, "v4"), ""
    )
    host = pc.if_else(cut, inner, text)
    port_text = pc.if_else(cut, pc.struct_field(parts, "port"), pa.scalar(None, pa.string()))
    digits = pc.if_else(pc.equal(port_text, ""), pa.scalar(None, pa.string()), port_text)
    port = pc.cast(digits, pa.int32())  # 1 to 5 digits: always fits
    bad_port = pc.fill_null(pc.greater(port, 65535), False)
    host = pc.if_else(pc.or_(bad_port, pc.equal(host, "")), pa.scalar(None, pa.string()), host)
    return normalise_ips(host), pc.if_else(bad_port, pa.scalar(None, pa.int32()), port)
