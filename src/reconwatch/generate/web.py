"""Web: the public web server's access log (nginx, ``vhost_combined`` layout).

nginx on 203.0.113.10 logs with::

    log_format vhost '$host:$server_port $remote_addr - $remote_user [$time_local] '
                     '"$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

which is Apache's ``vhost_combined`` text: the combined format with the
requested host in front. The host is what shows a request addressed to the
bare IP (``203.0.113.10:80``), which plain ``combined`` cannot show.

Background visitors load a page and its assets with a real browser's user
agent (200, 304 on revalidation, the odd 404, 301 from HTTP to HTTPS); none
of them has more than two 404s, a scanner user agent, a sensitive path or a
bare-IP host, so the web detections stay silent on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from reconwatch.generate import text
from reconwatch.generate.addresses import PublicV4Pool
from reconwatch.generate.family import US, Context, FamilyActor
from reconwatch.generate.text import I64, Obj, Part

ACCESS_LOG: Final = "web/access.log"

#: Real browser user agents of 2026-era releases.
BROWSERS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 Safari/537.36 Edg/128.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 Mobile Safari/537.36",
)
#: What gobuster/ffuf users put in ``-a`` to look like a browser.
SPOOFED_CHROME: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
NIKTO_UA: Final = "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:{test})"

#: Pages of the site with their sizes, and the assets a page pulls in.
PAGES: Final = (
    ("/", 14872), ("/index.html", 14872), ("/about/", 9311), ("/products/", 22410),
    ("/products/reconwatch/", 18533), ("/blog/", 16120), ("/blog/2026/09/release-notes/", 21877),
    ("/contact/", 7402), ("/careers/", 10268), ("/docs/", 25311), ("/search?q=pricing", 8650),
    ("/pricing/", 12044),
)  # fmt: skip
ASSETS: Final = (
    ("/static/css/main.3f2a1c.css", 48211), ("/static/js/app.9b41e0.js", 187422),
    ("/static/img/logo.svg", 4810), ("/favicon.ico", 15086), ("/static/fonts/inter.woff2", 98220),
    ("/robots.txt", 68),
)  # fmt: skip


@dataclass(frozen=True)
class Requests:
    """HTTP requests, one per row."""

    ts: I64
    client: Obj
    host: Obj
    method: Obj
    target: Obj
    status: I64
    size: I64
    referer: Obj
    agent: Obj


def _clf_time(t: dt.datetime) -> str:
    """``30/Sep/2026:00:12:05 +0000`` (nginx ``$time_local`` on a UTC server)."""
    return f"{t.day:02}/{text.MONTHS[t.month - 1]}/{t:%Y:%H:%M:%S} +0000"


def lines(r: Requests) -> pa.Array:
    """``host:port client - - [30/Sep/2026:00:12:05 +0000] "GET / HTTP/1.1" 200 5120
    "referer" "agent"``."""
    return text.join(
        text.strings(r.host),
        " ",
        text.strings(r.client),
        " - - [",
        text.per_second(r.ts, _clf_time),
        '] "',
        text.strings(r.method),
        " ",
        text.strings(r.target),
        ' HTTP/1.1" ',
        text.dec(r.status),
        " ",
        text.dec(r.size),
        ' "',
        text.strings(r.referer),
        '" "',
        text.strings(r.agent),
        '"\n',
    )


def _requests(n: int, **values: object) -> Requests:
    cols: dict[str, npt.NDArray[np.generic]] = {}
    for name, value in values.items():
        if isinstance(value, str):
            cols[name] = np.full(n, value, dtype=object)
        elif isinstance(value, list | tuple):
            cols[name] = np.asarray(list(value), dtype=object)
        elif isinstance(value, np.ndarray):
            cols[name] = value
        else:
            cols[name] = np.full(n, value, dtype=np.int64)
    return Requests(**cols)  # type: ignore[arg-type]


def background(
    ctx: Context, rng: np.random.Generator, units: int, t0: int, t1: int
) -> tuple[Requests, dict[str, int]]:
    """``units`` requests from visitors: each visit is a page plus some assets
    within seconds, from one of about ``units / 5`` clients."""
    n = units
    site = ctx.site
    clients = text.v4_text(PublicV4Pool(ctx.seed ^ 0x3EB, role=1).take(max(1, n // 5)))
    who = rng.integers(0, len(clients), size=n)
    agent = rng.integers(0, len(BROWSERS), size=len(clients))[who]
    is_page = rng.random(n) < 0.45
    page = rng.integers(0, len(PAGES), size=n)
    asset = rng.integers(0, len(ASSETS), size=n)
    target = np.where(
        is_page,
        np.asarray([p for p, _ in PAGES], dtype=object)[page],
        np.asarray([a for a, _ in ASSETS], dtype=object)[asset],
    )
    size = np.where(
        is_page, np.asarray([s for _, s in PAGES])[page], np.asarray([s for _, s in ASSETS])[asset]
    )
    # Pages vary a little in size (dynamic parts); assets do not.
    size = np.where(is_page, size + rng.integers(-200, 200, size=n), size)
    u = rng.random(n)
    status = np.select([u < 0.05, u < 0.08, (u < 0.22) & ~is_page], [301, 404, 304], 200)
    target = np.where(status == 404, "/static/img/banner-2025.png", target)
    size = np.select([status == 301, status == 404, status == 304], [162, 555, 0], size)
    host = np.where(status == 301, f"{site.zone}:80", f"www.{site.zone}:443").astype(object)
    referer = np.where(
        is_page,
        np.where(rng.random(n) < 0.3, "https://www.google.com/", "-"),
        f"https://www.{site.zone}/",
    ).astype(object)
    req = _requests(
        n,
        ts=np.sort(rng.integers(t0, max(t0 + 1, t1 - 100_000), size=n)),
        client=clients[who],
        host=host,
        method="GET",
        target=target.astype(object),
        status=status.astype(np.int64),
        size=size.astype(np.int64),
        referer=referer,
        agent=np.asarray(BROWSERS, dtype=object)[agent],
    )
    return req, {"web_requests": n, "web_clients": len(np.unique(who))}


# --- actors ------------------------------------------------------------------

_DIRS: Final = (
    "admin", "administrator", "backup", "backups", "old", "new", "test", "tmp", "temp", "dev",
    "staging", "api", "v1", "v2", "login", "logout", "register", "upload", "uploads", "files",
    "download", "downloads", "images", "img", "css", "js", "static", "assets", "media", "cgi-bin",
    "include", "includes", "lib", "vendor", "src", "dist", "build", "data", "db", "database",
    "sql", "logs", "log", "config", "conf", "settings", "private", "secret", "internal", "portal",
    "dashboard", "panel", "cpanel", "manager", "console", "shell", "cmd", "webadmin", "user",
    "users", "account", "accounts", "profile", "members", "member", "shop", "cart", "checkout",
    "order", "orders", "search", "docs", "doc", "help", "support", "blog", "news", "forum",
    "wiki", "mail", "webmail", "phpmyadmin", "pma", "mysql", "status", "health", "metrics",
    "debug", "info", "about", "contact", "home", "main", "default", "index", "site", "web",
)  # fmt: skip
#: What a wordlist scanner finds on this site: (status, bytes).
_FOUND: Final = {
    "/images": (301, 169), "/static": (301, 169), "/css": (301, 169), "/js": (301, 169),
    "/admin": (403, 153), "/api": (401, 61), "/blog": (301, 169), "/docs": (301, 169),
    "/about": (301, 169), "/contact": (301, 169), "/index": (200, 14872),
}  # fmt: skip


def _wordlist(count: int) -> list[str]:
    """``count`` distinct paths: each directory word bare, then with extensions."""
    out = [f"/{w}" for w in _DIRS]
    for ext in (".php", ".html", ".bak", ".zip", ".txt", ".old"):
        out.extend(f"/{w}{ext}" for w in _DIRS)
    return out[:count]


@dataclass(frozen=True)
class WebActor:
    actor: FamilyActor
    requests: Requests


def _at(ctx: Context, seconds: float, rng: np.random.Generator, n: int, mean_s: float) -> I64:
    steps = np.maximum(rng.exponential(mean_s * US, size=n), 1000).astype(np.int64)
    steps[0] = 0
    out: I64 = ctx.actors_us + round(seconds * US) + np.cumsum(steps)
    return out


def wordlist_scan(ctx: Context, address: str, at: float, paths: int = 600) -> WebActor:
    """gobuster ``dir`` with ``-a`` set to a Chrome UA: ``paths`` distinct paths
    in about two minutes, 98 % 404 (589 of 600 by default: over both Elastic's
    500 4xx / 250 URLs and CrowdSec's 10 distinct 404s)."""
    rng = ctx.rng(f"web_wordlist_scan:{address}")
    targets = _wordlist(paths)
    found = [_FOUND.get(t, (404, 555)) for t in targets]
    req = _requests(
        len(targets),
        ts=_at(ctx, at, rng, len(targets), 0.2),
        client=address,
        host=f"www.{ctx.site.zone}:443",
        method="GET",
        target=targets,
        status=np.array([s for s, _ in found], np.int64),
        size=np.array([b for _, b in found], np.int64),
        referer="-",
        agent=SPOOFED_CHROME,
    )
    actor = FamilyActor(
        address,
        "web_wordlist_scanner",
        f"gobuster-style wordlist scan of {paths} paths with a spoofed Chrome user agent",
        ("web_wordlist_scan",),
        ports=1,
    )
    return WebActor(actor, req)


#: Paths a Nikto run tries first (from its db_tests), sensitive ones included.
_NIKTO_PATHS: Final = (
    "/", "/robots.txt", "/sitemap.xml", "/.htaccess", "/.htpasswd", "/server-status",
    "/server-info", "/phpinfo.php", "/info.php", "/test.php", "/admin/", "/administrator/",
    "/phpmyadmin/", "/pma/", "/cgi-bin/test-cgi", "/cgi-bin/printenv", "/cgi-bin/php",
    "/wp-login.php", "/wp-admin/", "/wp-config.php", "/config.php", "/configuration.php",
    "/.git/HEAD", "/.svn/entries", "/.DS_Store", "/web.config", "/WEB-INF/web.xml",
    "/backup.tar.gz", "/db.sql", "/database.sql", "/icons/README", "/manual/", "/examples/",
    "/iisadmin/", "/scripts/", "/console/", "/jmx-console/", "/manager/html", "/solr/",
    "/elmah.axd", "/trace.axd", "/crossdomain.xml", "/clientaccesspolicy.xml", "/.well-known/",
    "/admin.php", "/login.php", "/shell.php", "/cmd.php", "/upload.php", "/install.php",
)  # fmt: skip


def nikto(ctx: Context, address: str, at: float) -> WebActor:
    """A Nikto 2.5 run over plain HTTP (so the IDS reads its user agent): its
    own user agent with the test id, sensitive files among the paths, most
    answered 404; 150 requests in about two minutes (a HEAD pass over 50
    paths, then two GET passes)."""
    rng = ctx.rng(f"nikto:{address}")
    paths = list(_NIKTO_PATHS) * 3
    n = len(paths)
    method = ["HEAD" if i < len(_NIKTO_PATHS) else "GET" for i in range(n)]
    status = [200 if p in ("/", "/robots.txt") else 403 if p.startswith("/.ht") else 404
              for p in paths]  # fmt: skip
    size = [0 if m == "HEAD" else 14872 if s == 200 else 153 if s == 403 else 555
            for m, s in zip(method, status, strict=True)]  # fmt: skip
    tests = [f"{1 + i:06d}" for i in range(n)]
    req = _requests(
        n,
        ts=_at(ctx, at, rng, n, 0.8),
        client=address,
        host=f"www.{ctx.site.zone}:80",
        method=method,
        target=paths,
        status=np.array(status, np.int64),
        size=np.array(size, np.int64),
        referer="-",
        agent=[NIKTO_UA.format(test=t) for t in tests],
    )
    actor = FamilyActor(
        address,
        "nikto_scan",
        "Nikto web vulnerability scan (Nikto user agent, sensitive paths)",
        ("web_scanner_user_agent", "web_sensitive_path_probe"),
    )
    return WebActor(actor, req)


SENSITIVE_PATHS: Final = (
    "/.env", "/.git/config", "/wp-login.php", "/.aws/credentials", "/config.json",
    "/.env.production", "/api/.env", "/backup.sql", "/.DS_Store", "/phpinfo.php",
    "/wp-config.php.bak", "/.svn/entries", "/docker-compose.yml", "/.vscode/sftp.json",
    "/id_rsa", "/.htpasswd", "/server-status", "/actuator/env",
)  # fmt: skip


def sensitive_probe(ctx: Context, address: str, at: float) -> WebActor:
    """A secrets hunter: 18 well-known sensitive files, once each, in under a
    minute, with an ordinary browser user agent (only the paths give it away)."""
    rng = ctx.rng(f"web_sensitive_path_probe:{address}")
    n = len(SENSITIVE_PATHS)
    status = [403 if p.startswith(("/.ht", "/.git", "/server-status")) else 404
              for p in SENSITIVE_PATHS]  # fmt: skip
    req = _requests(
        n,
        ts=_at(ctx, at, rng, n, 2.0),
        client=address,
        host=f"www.{ctx.site.zone}:443",
        method="GET",
        target=list(SENSITIVE_PATHS),
        status=np.array(status, np.int64),
        size=np.where(np.array(status) == 403, 153, 555).astype(np.int64),
        referer="-",
        agent=BROWSERS[4],
    )
    actor = FamilyActor(
        address,
        "sensitive_path_prober",
        "probe of well-known secret files (.env, .git/config, wp-login.php...)",
        ("web_sensitive_path_probe",),
    )
    return WebActor(actor, req)


#: Plugins a WordPress scanner asks for first (wpscan's popular list, in part).
WP_PLUGINS: Final = (
    "contact-form-7",
    "wordpress-seo",
    "akismet",
    "jetpack",
    "woocommerce",
    "elementor",
    "wpforms-lite",
    "really-simple-ssl",
    "classic-editor",
    "all-in-one-seo-pack",
    "wp-file-manager",
    "revslider",
)


def technology_probe(ctx: Context, address: str, at: float) -> WebActor:
    """A WordPress plugin enumeration (wpscan ``--enumerate p`` with a random
    browser user agent): each plugin's readme.txt, answered 404 by a site that
    does not run WordPress; 12 requests in about half a minute."""
    rng = ctx.rng(f"web_technology_probe:{address}")
    n = len(WP_PLUGINS)
    req = _requests(
        n,
        ts=_at(ctx, at, rng, n, 2.5),
        client=address,
        host=f"www.{ctx.site.zone}:443",
        method="GET",
        target=[f"/wp-content/plugins/{slug}/readme.txt" for slug in WP_PLUGINS],
        status=np.full(n, 404, np.int64),
        size=np.full(n, 555, np.int64),
        referer="-",
        agent=BROWSERS[2],
    )
    actor = FamilyActor(
        address,
        "technology_prober",
        "WordPress plugin enumeration (wpscan-like) against a site without WordPress",
        ("web_technology_probe",),
    )
    return WebActor(actor, req)


def bare_ip(ctx: Context, address: str, at: float) -> WebActor:
    """An internet-wide scanner's banner grab: ``/`` and a couple of paths on
    the bare address (``Host: 203.0.113.10``) over HTTP and HTTPS; the
    default server answers 403. Nobody who knows the site's name does that."""
    rng = ctx.rng(f"web_host_bare_ip:{address}")
    site = ctx.site
    host = [f"{site.web_v4}:80", f"{site.web_v4}:443", f"{site.web_v4}:443",
            f"{site.web_v4}:80"]  # fmt: skip
    targets = ["/", "/", "/favicon.ico", "/.well-known/security.txt"]
    n = len(targets)
    req = _requests(
        n,
        ts=_at(ctx, at, rng, n, 3.0),
        client=address,
        host=host,
        method="GET",
        target=targets,
        status=np.full(n, 403, np.int64),
        size=np.full(n, 153, np.int64),
        referer="-",
        agent=BROWSERS[0],
    )
    actor = FamilyActor(
        address,
        "bare_ip_client",
        f"requests addressed to the bare IP {site.web_v4} instead of the site's name",
        ("web_host_bare_ip",),
        ports=2,
    )
    return WebActor(actor, req)


#: Host names a virtual-host brute force tries (gobuster ``vhost``, ffuf with
#: ``-H "Host: FUZZ.example.com"``); the site serves the first four.
VHOST_WORDS: Final = (
    "www", "api", "portal", "webmail", "dev", "staging", "test", "admin", "intranet", "beta",
    "old", "new", "mail", "vpn", "git", "gitlab", "jenkins", "jira", "confluence", "grafana",
    "kibana", "internal", "backup", "demo", "uat", "qa", "stage", "prod", "sso", "auth",
    "crm", "erp", "hr", "monitor", "status", "docs", "wiki", "shop", "m", "cdn",
)  # fmt: skip


def vhost_sweep(ctx: Context, address: str, at: float) -> WebActor:
    """A virtual-host brute force against the web server's address: ``GET /``
    with a different ``Host: word.example.com`` each time (40 words, about
    one every half second, a spoofed Chrome user agent). nginx's default
    server answers 404 for the names it does not serve. 40 distinct Host
    values in one 15-minute window against a threshold of 10; one path only,
    so no wordlist scan."""
    rng = ctx.rng(f"web_vhost_sweep:{address}")
    site = ctx.site
    n = len(VHOST_WORDS)
    served = [i < 4 for i in range(n)]
    req = _requests(
        n,
        ts=_at(ctx, at, rng, n, 0.5),
        client=address,
        host=[f"{w}.{site.zone}:443" for w in VHOST_WORDS],
        method="GET",
        target="/",
        status=np.where(served, 200, 404).astype(np.int64),
        size=np.where(served, 14872, 555).astype(np.int64),
        referer="-",
        agent=SPOOFED_CHROME,
    )
    actor = FamilyActor(
        address,
        "vhost_sweep",
        f"virtual-host brute force: {n} Host names under {site.zone} on the web server",
        ("web_vhost_sweep",),
    )
    return WebActor(actor, req)


#: Host headers of an outsider reaching for internal hosts through the public
#: web server (host-header routing and SSRF probes): two private addresses
#: (under ``web_host_bare_ip``'s 3) and names under private suffixes.
INTERNAL_HOSTS: Final = ("10.0.5.20", "intranet.corp", "jira.internal", "172.16.0.1",
                         "gitlab.corp", "vcenter.lan")  # fmt: skip


def internal_host(ctx: Context, address: str, at: float) -> WebActor:
    """Requests to the public server with internal Host values
    (:data:`INTERNAL_HOSTS`), one each, a few seconds apart, hoping a
    misrouted virtual host or proxy forwards them inside: ``web_internal_host``
    (6 requests against a threshold of 1), the playbook's internal
    enumeration criterion (escalated). 6 Host values stay under the vhost
    sweep's 10, 2 IP literals under the bare-IP threshold of 3."""
    rng = ctx.rng(f"web_internal_host:{address}")
    n = len(INTERNAL_HOSTS)
    req = _requests(
        n,
        ts=_at(ctx, at, rng, n, 4.0),
        client=address,
        host=[f"{h}:80" for h in INTERNAL_HOSTS],
        method="GET",
        target="/",
        status=np.full(n, 404, np.int64),
        size=np.full(n, 555, np.int64),
        referer="-",
        agent=BROWSERS[3],
    )
    actor = FamilyActor(
        address,
        "internal_host_probe",
        "requests naming internal addresses and internal-only names in Host",
        ("web_internal_host",),
        escalate=True,
    )
    return WebActor(actor, req)


#: The recon chain's web step: the front page, then secrets.
CHAIN_PATHS: Final = ("/", "/robots.txt", "/.env", "/.git/config", "/admin/", "/server-status",
                      "/wp-login.php", "/backup.sql")  # fmt: skip


def chain_probe(ctx: Context, address: str, at: float) -> WebActor:
    """The last step of a recon chain: the web server it found, the front page
    and robots.txt, then six sensitive paths (403/404, nothing served):
    ``web_sensitive_path_probe`` (6 against a threshold of 3)."""
    rng = ctx.rng(f"web_chain_probe:{address}")
    n = len(CHAIN_PATHS)
    status = [200 if p in ("/", "/robots.txt") else 403 if p in ("/.git/config",
              "/server-status") else 404 for p in CHAIN_PATHS]  # fmt: skip
    req = _requests(
        n,
        ts=_at(ctx, at, rng, n, 3.0),
        client=address,
        host=f"www.{ctx.site.zone}:443",
        method="GET",
        target=list(CHAIN_PATHS),
        status=np.array(status, np.int64),
        size=np.array([14872, 68, 555, 153, 555, 153, 555, 555], np.int64),
        referer="-",
        agent=BROWSERS[4],
    )
    actor = FamilyActor(
        address,
        "recon_chain",
        "then web probing of the server it found (secrets, admin paths)",
        ("web_sensitive_path_probe",),
    )
    return WebActor(actor, req)


def part(r: Requests, actor: int = -1) -> Part:
    return Part(ACCESS_LOG, r.ts, lines(r), actor)
