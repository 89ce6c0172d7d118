"""DNS: the site's BIND server as its query log and the Zeek sensor's dns.log show it.

One BIND 9 instance (``ns1``) is authoritative for the site zone on its
public address and recursive for internal clients on the internal resolver
address. Its log channel is::

    logging { channel q { file "query.log"; print-time yes; print-category yes;
                          print-severity yes; };
              category queries { q; }; category security { q; }; };

so ``dns/query.log`` holds ``queries`` lines (no response code: BIND logs the
question only) and the ``security`` lines of refused zone transfers. The Zeek
sensor sees the same transactions with their answers and rcodes
(``zeek/dns.log``): that is where a brute force's NXDOMAIN share shows.

A transaction is one row of :class:`Queries`; each writes one line to each
file (plus a security line for a denied AXFR).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from reconwatch.generate import text
from reconwatch.generate.addresses import PublicV4Pool
from reconwatch.generate.family import US, Context, FamilyActor
from reconwatch.generate.site import Site
from reconwatch.generate.text import I64, Obj, Part

BIND_LOG: Final = "dns/query.log"
ZEEK_DNS_LOG: Final = "zeek/dns.log"

ZEEK_DNS_FIELDS: Final = (
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id",
    "rtt", "query", "qclass", "qclass_name", "qtype", "qtype_name", "rcode", "rcode_name",
    "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected",
)  # fmt: skip
ZEEK_DNS_TYPES: Final = (
    "time", "string", "addr", "port", "addr", "port", "enum", "count", "interval", "string",
    "count", "string", "count", "string", "count", "string", "bool", "bool", "bool", "bool",
    "count", "vector[string]", "vector[interval]", "bool",
)  # fmt: skip

QTYPES: Final = {
    "A": 1, "NS": 2, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
    "AXFR": 252, "ANY": 255,
}  # fmt: skip
QCLASSES: Final = {"IN": 1, "CH": 3}
QCLASS_NAMES: Final = ("-", "C_INTERNET", "-", "C_CHAOS")
RCODES: Final = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}

#: Names in the site zone and the address each resolves to (what a brute
#: force can find, and what the background asks for).
ZONE_HOSTS: Final = {
    "www": "203.0.113.10", "mail": "203.0.113.25", "ns1": "203.0.113.53",
    "ns2": "203.0.113.54", "vpn": "203.0.113.30", "webmail": "203.0.113.25",
    "smtp": "203.0.113.25", "api": "203.0.113.11", "portal": "203.0.113.12",
    "bastion": "203.0.113.22",
}  # fmt: skip
#: PTR records of the public /24 (host number -> name under the zone).
PTR_HOSTS: Final = {1: "fw1", 10: "www", 11: "api", 12: "portal", 22: "bastion", 25: "mail",
                    30: "vpn", 53: "ns1", 54: "ns2"}  # fmt: skip

#: Popular names internal clients resolve (weights fall off like real traffic).
POPULAR: Final = (
    "www.google.com", "clients4.google.com", "fonts.gstatic.com", "www.gstatic.com",
    "login.microsoftonline.com", "outlook.office365.com", "graph.microsoft.com",
    "teams.microsoft.com", "update.googleapis.com", "github.com", "api.github.com",
    "objects.githubusercontent.com", "www.wikipedia.org", "slack.com", "edgeapi.slack.com",
    "zoom.us", "www.youtube.com", "i.ytimg.com", "ocsp.digicert.com", "ocsp.pki.goog",
    "time.cloudflare.com", "deb.debian.org", "security.debian.org", "pypi.org",
    "files.pythonhosted.org", "registry.npmjs.org", "s3.amazonaws.com", "www.linkedin.com",
    "ctldl.windowsupdate.com", "settings-win.data.microsoft.com",
)  # fmt: skip
#: Names that do not exist but every network asks for (search-domain and
#: autodiscovery leftovers): the background's few NXDOMAINs.
NX_NOISE: Final = ("wpad.corp.example.com", "isatap.corp.example.com", "wpad.lan")

#: BIND's client object addresses (``client @0x...``): objects are reused.
_CLIENT_OBJECTS: Final = tuple(f"@0x7f3a5c{0x0012A8 + 0x1A0 * i:06x}" for i in range(48))


@dataclass
class Queries:
    """DNS transactions, one per row (numpy columns; strings as object columns)."""

    ts: I64
    client: Obj
    cport: I64
    server: Obj
    name: Obj
    qclass: Obj
    qtype: Obj
    rcode: Obj
    answers: Obj
    ttl: I64
    #: Recursion desired (the BIND ``+`` flag), recursion available, authoritative.
    rd: npt.NDArray[np.bool_]
    ra: npt.NDArray[np.bool_]
    aa: npt.NDArray[np.bool_]
    tcp: npt.NDArray[np.bool_]
    cookie: npt.NDArray[np.bool_]
    rtt: I64
    #: Zone transfers the server refused (also a ``security`` line).
    xfr_denied: npt.NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, np.bool_))
    #: Zone transfers the server gave (also an ``xfer-out`` "started" line).
    xfr_served: npt.NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, np.bool_))

    def __post_init__(self) -> None:
        if len(self.xfr_denied) != len(self.ts):
            self.xfr_denied = np.zeros(len(self.ts), np.bool_)
        if len(self.xfr_served) != len(self.ts):
            self.xfr_served = np.zeros(len(self.ts), np.bool_)

    @classmethod
    def build(cls, n: int, **values: object) -> Queries:
        """``n`` rows; scalars broadcast (strings as object columns)."""
        cols: dict[str, npt.NDArray[np.generic]] = {}
        for name, value in values.items():
            if isinstance(value, str):
                cols[name] = np.full(n, value, dtype=object)
            elif isinstance(value, list | tuple):
                cols[name] = np.asarray(list(value), dtype=object)
            elif isinstance(value, np.ndarray):
                cols[name] = value
            else:
                cols[name] = np.full(n, value)
        return cls(**cols)  # type: ignore[arg-type]


def bind_lines(q: Queries, rng: np.random.Generator) -> pa.Array:
    """``queries`` lines: ``DD-Mon-YYYY HH:MM:SS.mmm queries: info: client @0x... ip#port
    (name): query: name CLASS TYPE flags (server)``.

    Flags as BIND prints them: ``+``/``-`` for RD, ``E(0)`` for EDNS (every
    client here sends it), ``T`` over TCP, ``K`` with a DNS cookie.
    """
    n = len(q.ts)
    flags = text.join(
        text.pick(("-", "+"), q.rd.astype(np.int64)),
        "E(0)",
        text.pick(("", "T"), q.tcp.astype(np.int64)),
        text.pick(("", "K"), q.cookie.astype(np.int64)),
    )
    name = text.strings(q.name)
    return text.join(
        text.per_second(q.ts, lambda t: f"{t.day:02}-{text.MONTHS[t.month - 1]}-{t:%Y %H:%M:%S}"),
        ".",
        text.lpad(q.ts % 1_000_000 // 1000, 3),
        " queries: info: client ",
        text.pick(_CLIENT_OBJECTS, rng.integers(0, len(_CLIENT_OBJECTS), size=n)),
        " ",
        text.strings(q.client),
        "#",
        text.dec(q.cport),
        " (",
        name,
        "): query: ",
        name,
        " ",
        text.strings(q.qclass),
        " ",
        text.strings(q.qtype),
        " ",
        flags,
        " (",
        text.strings(q.server),
        ")\n",
    )


#: The site zone's serial in the generated ``xfer-out`` lines.
ZONE_SERIAL: Final = 2026093001


def security_lines(q: Queries, zone: str) -> tuple[I64, pa.Array]:
    """The ``security`` line BIND adds for each refused transfer, 1 ms after the query."""
    return _verdict_lines(
        q, q.xfr_denied, "security", 0, f" ({zone}): zone transfer '{zone}/AXFR/IN' denied\n"
    )


def transfer_lines(q: Queries, zone: str) -> tuple[I64, pa.Array]:
    """BIND's ``xfer-out`` line for each transfer it gave, 1 ms after the
    query: ``started``. (BIND also writes ``ended: N messages, N records...``
    when it is done; ingest skips that line, and every line of the sample is
    one that parses, so it is not written.)"""
    tail = f" ({zone}): transfer of '{zone}/IN': AXFR started (serial {ZONE_SERIAL})\n"
    return _verdict_lines(q, q.xfr_served, "xfer-out", 1, tail)


def _verdict_lines(
    q: Queries, which: npt.NDArray[np.bool_], category: str, obj: int, tail: str
) -> tuple[I64, pa.Array]:
    """BIND's line of ``category`` about the ``which`` rows' transfers, 1 ms after each query."""
    rows = np.flatnonzero(which)
    ts = q.ts[rows] + 1000
    lines = text.join(
        text.per_second(ts, lambda t: f"{t.day:02}-{text.MONTHS[t.month - 1]}-{t:%Y %H:%M:%S}"),
        ".",
        text.lpad(ts % 1_000_000 // 1000, 3),
        f" {category}: info: client ",
        _CLIENT_OBJECTS[obj],
        " ",
        text.strings(q.client[rows]),
        "#",
        text.dec(q.cport[rows]),
        tail,
    )
    return ts, lines


def zeek_header(start_us: int) -> str:
    """The header block Zeek writes at the top of dns.log."""
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tdns",
        f"#open\t{_zeek_time(start_us)}",
        "#fields\t" + "\t".join(ZEEK_DNS_FIELDS),
        "#types\t" + "\t".join(ZEEK_DNS_TYPES),
    ]
    return "\n".join(lines) + "\n"


def zeek_footer(end_us: int) -> str:
    return f"#close\t{_zeek_time(end_us)}\n"


def _zeek_time(micros: int) -> str:
    return dt.datetime.fromtimestamp(micros // 1_000_000, dt.UTC).strftime("%Y-%m-%d-%H-%M-%S")


def zeek_lines(q: Queries, rng: np.random.Generator) -> pa.Array:
    """Zeek dns.log rows (24 fields). Unanswered-name rows have no answers and no
    TTLs (``-``); ``rejected`` is T for REFUSED, as Zeek sets it."""
    n = len(q.ts)
    qtype = text.lookup(q.qtype, QTYPES)
    qclass = text.lookup(q.qclass, QCLASSES)
    rcode = text.lookup(q.rcode, RCODES)
    answered = q.answers != "-"
    ttls = text.join(text.dec(q.ttl), ".000000")
    bools = ("F", "T")
    return text.join(
        text.zeek_ts(q.ts),
        "\t",
        text.zeek_uids(rng, n),
        "\t",
        text.strings(q.client),
        "\t",
        text.dec(q.cport),
        "\t",
        text.strings(q.server),
        "\t53\t",
        text.pick(("udp", "tcp"), q.tcp.astype(np.int64)),
        "\t",
        text.dec(rng.integers(0, 65536, size=n)),
        "\t",
        # Every rtt here is under a second (at most 40 ms).
        text.join("0.", text.lpad(q.rtt, 6)),
        "\t",
        text.strings(q.name),
        "\t",
        text.dec(qclass),
        "\t",
        text.pick(QCLASS_NAMES, qclass),
        "\t",
        text.dec(qtype),
        "\t",
        # Zeek names type 255 "*" (its DNS analyzer's table), not "ANY".
        text.strings(np.where(q.qtype == "ANY", "*", q.qtype).astype(object)),
        "\t",
        text.dec(rcode),
        "\t",
        text.strings(q.rcode),
        "\t",
        text.pick(bools, q.aa.astype(np.int64)),
        "\tF\t",
        text.pick(bools, q.rd.astype(np.int64)),
        "\t",
        text.pick(bools, q.ra.astype(np.int64)),
        "\t0\t",
        text.strings(q.answers),
        "\t",
        pc.if_else(pa.array(answered), ttls, "-"),
        "\t",
        text.pick(bools, (rcode == RCODES["REFUSED"]).astype(np.int64)),
        "\n",
    )


def parts(q: Queries, rng: np.random.Generator, site: Site, actor: int = -1) -> list[Part]:
    """The lines ``q`` adds to the BIND log and to Zeek's dns.log."""
    out = [
        Part(BIND_LOG, q.ts, bind_lines(q, rng), actor),
        # Zeek stamps a transaction with its query time.
        Part(ZEEK_DNS_LOG, q.ts, zeek_lines(q, rng), actor),
    ]
    if q.xfr_denied.any():
        ts, lines = security_lines(q, site.zone)
        out.append(Part(BIND_LOG, ts, lines, actor))
    if q.xfr_served.any():
        ts, lines = transfer_lines(q, site.zone)
        out.append(Part(BIND_LOG, ts, lines, actor))
    return out


def zone_answer(label: str) -> str:
    """The A record of ``label`` in the site zone, or "-" (NXDOMAIN)."""
    return ZONE_HOSTS.get(label, "-")


def background(
    site: Site, seed: int, rng: np.random.Generator, units: int, t0: int, t1: int
) -> tuple[Queries, dict[str, int]]:
    """``units`` ordinary transactions: 70 % internal clients resolving popular
    names through the resolver (3 % NXDOMAIN for search-domain leftovers),
    30 % internet resolvers asking the authoritative server for the zone's
    published names (all exist). No client asks for more than a few distinct
    names of one zone, and none sweeps PTRs, so DNS detections stay silent.
    """
    n = units
    internal = rng.random(n) < 0.7
    first, last = site.client_subnets
    inside = (10 << 24) + (rng.integers(first, last + 1, size=n) << 8) + rng.integers(10, 251, n)
    resolvers = PublicV4Pool(seed ^ 0xD15, role=2).take(300)
    outside = resolvers[rng.integers(0, len(resolvers), size=n)]
    client = text.v4_text(np.where(internal, inside, outside))
    # Internal: popular names, Zipf-like; 3 % never-existing names.
    weights = 1.0 / np.arange(1, len(POPULAR) + 1)
    name_i = rng.choice(len(POPULAR), p=weights / weights.sum(), size=n)
    nx = internal & (rng.random(n) < 0.03)
    answer_pool = text.v4_text(PublicV4Pool(seed ^ 0xA45, role=2).take(len(POPULAR)))
    popular = np.asarray(POPULAR, dtype=object)[name_i]
    nx_names = np.asarray(NX_NOISE, dtype=object)[rng.integers(0, len(NX_NOISE), size=n)]
    # External: published names of the zone (A of www/mail/..., MX of the apex).
    published = ("www", "mail", "www", "webmail", "vpn", "api", "www", "portal")
    label_i = rng.integers(0, len(published), size=n)
    zone_names = np.asarray([f"{h}.{site.zone}" for h in published], dtype=object)[label_i]
    zone_addrs = np.asarray([ZONE_HOSTS[h] for h in published], dtype=object)[label_i]
    mx = ~internal & (rng.random(n) < 0.15)
    name = np.where(internal, np.where(nx, nx_names, popular), zone_names)
    name = np.where(mx, site.zone, name)
    qtype = np.where(internal & (rng.random(n) < 0.35), "AAAA", "A").astype(object)
    qtype = np.where(mx, "MX", qtype)
    answers = np.where(internal, answer_pool[name_i], zone_addrs)
    v6 = "2001:db8:ca5e::" + (name_i + 1).astype(str).astype(object)
    answers = np.where(internal & (qtype == "AAAA"), v6, answers)
    answers = np.where(mx, f"mail.{site.zone}", answers)
    answers = np.where(nx, "-", answers)
    rcode = np.where(nx, "NXDOMAIN", "NOERROR").astype(object)
    q = Queries.build(
        n,
        ts=np.sort(rng.integers(t0, max(t0 + 1, t1 - 100_000), size=n)),
        client=client,
        cport=rng.integers(1024, 65536, size=n),
        server=np.where(internal, site.resolver, site.dns_v4).astype(object),
        name=name.astype(object),
        qclass="IN",
        qtype=qtype.astype(object),
        rcode=rcode,
        answers=answers.astype(object),
        ttl=np.where(internal, rng.choice([60, 300, 3600], size=n), 3600),
        rd=internal,
        ra=internal,
        aa=~internal,
        tcp=np.zeros(n, np.bool_),
        cookie=rng.random(n) < 0.6,
        rtt=np.where(internal, rng.integers(900, 40_000, size=n), rng.integers(150, 900, size=n)),
    )
    stats = {"dns_queries": n, "dns_internal_queries": int(internal.sum())}
    return q, stats


# --- actors ------------------------------------------------------------------

#: Subdomain wordlist in the spirit of dnsrecon's ``subdomains-top1mil``: common
#: words first, then the numbered and dashed variants tools append.
_WORDS: Final = (
    "www", "mail", "ftp", "localhost", "webmail", "smtp", "pop", "ns1", "webdisk", "ns2",
    "cpanel", "whm", "autodiscover", "autoconfig", "m", "imap", "test", "ns", "blog", "pop3",
    "dev", "www2", "admin", "forum", "news", "vpn", "ns3", "mail2", "new", "mysql", "old",
    "lists", "support", "mobile", "mx", "static", "docs", "beta", "shop", "sql", "secure",
    "demo", "cp", "calendar", "wiki", "web", "media", "email", "images", "img", "download",
    "dns", "piwik", "stats", "dashboard", "portal", "manage", "start", "info", "apps",
    "video", "sip", "dns2", "api", "cdn", "mx1", "owa", "exchange", "intranet", "gateway",
    "git", "gitlab", "jenkins", "jira", "confluence", "staging", "stage", "prod", "uat",
    "qa", "backup", "db", "office", "remote", "citrix", "vpn2", "ldap", "auth", "sso",
    "crm", "erp", "hr", "monitor", "grafana", "kibana", "elastic", "proxy", "relay", "cloud",
)  # fmt: skip


def wordlist(count: int) -> list[str]:
    """``count`` distinct labels: the words, then ``word1``, ``word-dev``... variants."""
    # dict keeps the first occurrence: "ns" + "1" is already "ns1".
    out = dict.fromkeys(_WORDS)
    for suffix in ("1", "2", "-dev", "-test", "01", "-old", "3", "-new"):
        out.update(dict.fromkeys(w + suffix for w in _WORDS if w + suffix not in out))
    return list(out)[:count]


@dataclass(frozen=True)
class DnsActor:
    """A family actor and the DNS transactions it makes."""

    actor: FamilyActor
    queries: Queries


def _at(ctx: Context, seconds: float, offsets: I64) -> I64:
    out: I64 = ctx.actors_us + round(seconds * US) + offsets
    return out


def _steps(rng: np.random.Generator, n: int, mean_s: float) -> I64:
    steps = np.maximum(rng.exponential(mean_s * US, size=n), 2000).astype(np.int64)
    steps[0] = 0
    out: I64 = np.cumsum(steps)
    return out


def _answered(
    rng: np.random.Generator,
    ts: I64,
    address: str,
    server: str,
    name: object,
    qtype: object,
    answers: list[str],
    *,
    rcode: object = None,
    ttl: int = 3600,
    cookie: bool = False,
    cport_low: int = 32768,
    cport_high: int = 61000,
) -> Queries:
    """Queries one client sent over UDP to our authoritative server, answered
    by it (RD set, RA clear, AA set, a reply in 150-900 us). ``rcode`` defaults
    to NOERROR for answered names and NXDOMAIN for ``-``. The generator draws
    the source ports, then the reply times, after the caller's time stamps."""
    n = len(ts)
    if rcode is None:
        rcode = ["NOERROR" if a != "-" else "NXDOMAIN" for a in answers]
    return Queries.build(
        n,
        ts=ts,
        client=address,
        cport=rng.integers(cport_low, cport_high, size=n),
        server=server,
        name=name,
        qclass="IN",
        qtype=qtype,
        rcode=rcode
        if rcode is not None
        else ["NOERROR" if a != "-" else "NXDOMAIN" for a in answers],
        answers=answers,
        ttl=np.full(n, ttl),
        rd=np.ones(n, np.bool_),
        ra=np.zeros(n, np.bool_),
        aa=np.ones(n, np.bool_),
        tcp=np.zeros(n, np.bool_),
        cookie=np.full(n, cookie, np.bool_),
        rtt=rng.integers(150, 900, size=n),
    )


def brute_force(ctx: Context, address: str, at: float, names: int = 300) -> DnsActor:
    """dnsrecon ``-t brt``: a random label first (is there a wildcard?), then
    ``names`` wordlist names, threaded, within about two minutes, straight at
    the authoritative server. 9 of the zone's 10 names are in the list; the
    rest are NXDOMAIN.

    300 distinct names under one zone in one 5-minute window, 97 % NXDOMAIN:
    far over the 30-200 names of the DESIGN anchors.
    """
    site = ctx.site
    rng = ctx.rng(f"dns_bruteforce:{address}")
    probe = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789"), size=12))
    labels = [probe, *wordlist(names)]
    n = len(labels)
    answers = [zone_answer(label) for label in labels]
    ts = _at(ctx, at, _steps(rng, n, 0.3))
    names_asked = [f"{label}.{site.zone}" for label in labels]
    q = _answered(rng, ts, address, site.dns_v4, names_asked, "A", answers)
    actor = FamilyActor(
        address,
        "dns_bruteforce",
        f"dnsrecon-style brute force of {n - 1} names under {site.zone} after a wildcard probe",
        ("dns_bruteforce",),
    )
    return DnsActor(actor, q)


def ptr_sweep(ctx: Context, address: str, at: float) -> DnsActor:
    """fierce-style reverse sweep: a PTR query for each of the 256 addresses of
    the public /24, in order, about 10 per second. The 9 named hosts answer;
    the rest are NXDOMAIN. 256 contiguous addresses against the anchor of 80.
    """
    site = ctx.site
    rng = ctx.rng(f"ptr_sweep:{address}")
    net = site.public_v4.split("/")[0].split(".")
    reverse = f"{net[2]}.{net[1]}.{net[0]}.in-addr.arpa"
    n = 256
    answers = [f"{PTR_HOSTS[i]}.{site.zone}" if i in PTR_HOSTS else "-" for i in range(n)]
    ts = _at(ctx, at, _steps(rng, n, 0.1))
    names = [f"{i}.{reverse}" for i in range(n)]
    q = _answered(
        rng, ts, address, site.dns_v4, names, "PTR", answers, ttl=86400, cport_low=1024,
        cport_high=65536,
    )  # fmt: skip
    actor = FamilyActor(
        address, "ptr_sweep", f"fierce-style PTR sweep of {site.public_v4}", ("ptr_sweep",)
    )
    return DnsActor(actor, q)


def zone_transfer(ctx: Context, address: str, at: float) -> DnsActor:
    """``dig NS`` then ``dig AXFR`` over TCP: refused, logged by BIND's security category."""
    q = _ns_then_axfr(ctx, address, at, served=False)
    actor = FamilyActor(
        address, "zone_transfer", f"AXFR attempt of {ctx.site.zone} (denied)", ("zone_transfer",)
    )
    return DnsActor(actor, q)


def zone_transfer_served(ctx: Context, address: str, at: float) -> DnsActor:
    """``dig NS`` then ``dig AXFR`` over TCP, and the server gives the zone (an
    ``allow-transfer`` left open): every host of the site in the answer."""
    q = _ns_then_axfr(ctx, address, at, served=True)
    actor = FamilyActor(
        address,
        "zone_transfer_served",
        f"AXFR of {ctx.site.zone} served (allow-transfer left open): escalated as unauthorised "
        "access",
        ("zone_transfer",),
        escalate=True,
    )
    return DnsActor(actor, q)


def _ns_then_axfr(ctx: Context, address: str, at: float, *, served: bool) -> Queries:
    """The two transactions of ``dig NS`` then ``dig AXFR``: the transfer refused
    (BIND's security line) or ``served`` (its xfer-out line, the zone's hosts)."""
    site = ctx.site
    rng = ctx.rng(f"{'zone_transfer_served' if served else 'zone_transfer'}:{address}")
    hosts = ",".join(sorted(set(ZONE_HOSTS.values())))
    return Queries.build(
        2,
        ts=_at(ctx, at, np.array([0, 900_000 if served else 1_350_000], np.int64)),
        client=address,
        cport=rng.integers(32768, 61000, size=2),
        server=site.dns_v4,
        name=site.zone,
        qclass="IN",
        qtype=["NS", "AXFR"],
        rcode=["NOERROR", "NOERROR" if served else "REFUSED"],
        answers=[f"ns1.{site.zone},ns2.{site.zone}", hosts if served else "-"],
        ttl=np.array([86400, 3600 if served else 0]),
        rd=np.array([True, False]),
        ra=np.zeros(2, np.bool_),
        aa=np.array([True, served]),
        tcp=np.array([False, True]),
        cookie=np.ones(2, np.bool_),
        rtt=rng.integers(200, 2000, size=2),
        xfr_denied=np.array([False, not served]),
        xfr_served=np.array([False, served]),
    )


def chaos_probe(ctx: Context, address: str, at: float) -> DnsActor:
    """``dig version.bind CH TXT``: fingerprinting the server software. The site
    sets ``version "unknown";``, so the answer is that word."""
    site = ctx.site
    rng = ctx.rng(f"dns_chaos_probe:{address}")
    q = Queries.build(
        1,
        ts=_at(ctx, at, np.zeros(1, np.int64)),
        client=address,
        cport=rng.integers(32768, 61000, size=1),
        server=site.dns_v4,
        name="version.bind",
        qclass="CH",
        qtype="TXT",
        rcode="NOERROR",
        answers="TXT 7 unknown",
        ttl=np.zeros(1, np.int64),
        rd=np.ones(1, np.bool_),
        ra=np.zeros(1, np.bool_),
        aa=np.ones(1, np.bool_),
        tcp=np.zeros(1, np.bool_),
        cookie=np.ones(1, np.bool_),
        rtt=rng.integers(150, 900, size=1),
    )
    actor = FamilyActor(
        address, "dns_chaos_probe", "version.bind CH TXT probe of the name server",
        ("dns_chaos_probe",),
    )  # fmt: skip
    return DnsActor(actor, q)


#: Internal names an outsider tries on the public name server after reading
#: them somewhere (a leaked config, certificate logs, a split-horizon mistake).
INTERNAL_GUESSES: Final = ("dc01.corp", "exchange.corp", "files.corp", "vcenter.internal",
                           "git.internal", "printer.lan")  # fmt: skip
#: One published name that wrongly answers with an internal address.
LEAKY_NAME: Final = ("intranet", "10.20.0.5")


def internal_probe(ctx: Context, address: str, at: float) -> DnsActor:
    """An outsider asking the public server for internal-only names (refused),
    PTR names of 10.0.0.1-10.0.0.8 (refused), and one published name that
    answers with a private address (split-horizon leak): ``internal_name_probe``
    (14 internal names against a threshold of 3) and ``private_answer_leak``."""
    site = ctx.site
    rng = ctx.rng(f"internal_probe:{address}")
    ptrs = [f"{i}.0.0.10.in-addr.arpa" for i in range(1, 9)]
    names = [*INTERNAL_GUESSES, *ptrs, f"{LEAKY_NAME[0]}.{site.zone}"]
    n = len(names)
    refused = n - 1
    q = Queries.build(
        n,
        ts=_at(ctx, at, _steps(rng, n, 2.0)),
        client=address,
        cport=rng.integers(32768, 61000, size=n),
        server=site.dns_v4,
        name=names,
        qclass="IN",
        qtype=["A"] * len(INTERNAL_GUESSES) + ["PTR"] * len(ptrs) + ["A"],
        rcode=["REFUSED"] * refused + ["NOERROR"],
        answers=["-"] * refused + [LEAKY_NAME[1]],
        ttl=np.array([0] * refused + [3600]),
        rd=np.ones(n, np.bool_),
        ra=np.zeros(n, np.bool_),
        aa=np.array([False] * refused + [True]),
        tcp=np.zeros(n, np.bool_),
        cookie=np.ones(n, np.bool_),
        rtt=rng.integers(150, 900, size=n),
    )
    actor = FamilyActor(
        address,
        "internal_probe",
        "asks the public name server for internal-only names and private PTRs; one "
        "published name leaks a private address",
        ("internal_name_probe", "private_answer_leak"),
        escalate=True,
    )
    return DnsActor(actor, q)


def admin_checks(ctx: Context, address: str, at: float) -> Queries:
    """An administrator checking the zone's records after a change: each
    published name once, all answered (legitimate-use context, no detection)."""
    site = ctx.site
    rng = ctx.rng(f"dns_admin:{address}")
    labels = sorted(ZONE_HOSTS)
    n = len(labels)
    ts = _at(ctx, at, _steps(rng, n, 4.0))
    names = [f"{label}.{site.zone}" for label in labels]
    answers = [ZONE_HOSTS[label] for label in labels]
    return _answered(rng, ts, address, site.dns_v4, names, "A", answers, cookie=True)


def any_flood(ctx: Context, address: str, at: float, queries: int = 30) -> DnsActor:
    """``dig ANY`` again and again: the zone apex and its published names,
    ``queries`` ANY questions in about a minute (one every 2 s), the way
    reflection tools test a server and enumeration scripts pull every record
    type at once. BIND answers with one RRset (``minimal-any``, RFC 8482).

    30 ANY queries in one 5-minute window against a threshold of 20; 11
    distinct names, all existing, so no brute force.
    """
    site = ctx.site
    rng = ctx.rng(f"dns_any_flood:{address}")
    labels = ["", *sorted(ZONE_HOSTS)]
    pick = [labels[i % len(labels)] for i in range(queries)]
    answers = [zone_answer(label) if label else f"ns1.{site.zone},ns2.{site.zone}"
               for label in pick]  # fmt: skip
    n = queries
    ts = _at(ctx, at, _steps(rng, n, 2.0))
    names = [f"{label}.{site.zone}" if label else site.zone for label in pick]
    q = _answered(
        rng, ts, address, site.dns_v4, names, "ANY", answers, rcode="NOERROR", cport_low=1024,
        cport_high=65536,
    )  # fmt: skip
    actor = FamilyActor(
        address,
        "dns_any_flood",
        f"{n} ANY queries for {site.zone} and its names in about a minute",
        ("dns_any_flood",),
    )
    return DnsActor(actor, q)


#: ``_service._proto`` names an SRV brute force tries (nmap's dns-srv-enum,
#: dnsrecon ``-t srv``): Active Directory, VoIP, mail, chat, licensing.
SRV_NAMES: Final = (
    "_ldap._tcp", "_kerberos._tcp", "_kerberos._udp", "_kpasswd._tcp", "_gc._tcp",
    "_ldap._tcp.dc._msdcs", "_kerberos._tcp.dc._msdcs", "_sip._tls", "_sip._tcp", "_sip._udp",
    "_sipfederationtls._tcp", "_xmpp-server._tcp", "_xmpp-client._tcp", "_autodiscover._tcp",
    "_caldav._tcp", "_carddav._tcp", "_imap._tcp", "_imaps._tcp", "_submission._tcp",
    "_pop3s._tcp", "_h323cs._tcp", "_collab-edge._tls", "_cisco-uds._tcp", "_vlmcs._tcp",
)  # fmt: skip
#: The SRV records the site publishes (mail client autoconfiguration).
SRV_RECORDS: Final = {"_autodiscover._tcp": "mail", "_imaps._tcp": "mail",
                      "_submission._tcp": "mail"}  # fmt: skip


def srv_bruteforce(ctx: Context, address: str, at: float) -> DnsActor:
    """dnsrecon ``-t srv``: the 24 ``_service._proto`` names of :data:`SRV_NAMES`
    under the site zone, threaded, in about 15 s. The 3 mail records answer
    (the target host's name); the rest are NXDOMAIN. 24 distinct SRV names
    under one zone against a threshold of 10; SRV names are not counted by
    ``dns_bruteforce``.
    """
    site = ctx.site
    rng = ctx.rng(f"srv_bruteforce:{address}")
    n = len(SRV_NAMES)
    answers = [f"{SRV_RECORDS[s]}.{site.zone}" if s in SRV_RECORDS else "-" for s in SRV_NAMES]
    ts = _at(ctx, at, _steps(rng, n, 0.6))
    names = [f"{s}.{site.zone}" for s in SRV_NAMES]
    q = _answered(rng, ts, address, site.dns_v4, names, "SRV", answers)
    actor = FamilyActor(
        address,
        "srv_bruteforce",
        f"SRV brute force of {n} _service._proto names under {site.zone} (AD, SIP, XMPP...)",
        ("srv_bruteforce",),
    )
    return DnsActor(actor, q)


def chain_enumeration(ctx: Context, address: str, at: float, names: int = 51) -> DnsActor:
    """The first step of a recon chain: a short brute force (:func:`brute_force`
    with ``names`` words after the wildcard probe: 52 names, >= 50) whose
    answers (www, mail, webmail, smtp, ns1, ns2, vpn: 5 addresses) the same
    source scans next; the case links them (``resolved_then_probed``)."""
    found = brute_force(ctx, address, at, names)
    actor = FamilyActor(
        address,
        "recon_chain",
        f"brute force of {names + 1} names under {ctx.site.zone}",
        ("dns_bruteforce",),
        resolved_then_probed=True,
    )
    return DnsActor(actor, found.queries)
