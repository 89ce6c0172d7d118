"""Parsers of the web family: access logs of web servers, proxies and load
balancers, and nginx's error log (its requests for missing files).

Each format lives in its own ``web_<name>`` module; this module only lists them
in sniffing order (the formats with the most specific markers first).
"""

from __future__ import annotations

from reconwatch.ingest.base import Parser
from reconwatch.ingest.web_alb import AlbParser
from reconwatch.ingest.web_clf import ClfParser
from reconwatch.ingest.web_haproxy import HaproxyParser
from reconwatch.ingest.web_iis import IisParser
from reconwatch.ingest.web_json import NginxJsonParser
from reconwatch.ingest.web_nginx_error import NginxErrorParser
from reconwatch.ingest.web_syslog import SyslogAccessParser

PARSERS: tuple[type[Parser], ...] = (
    NginxJsonParser,
    IisParser,
    AlbParser,
    HaproxyParser,
    ClfParser,
    # Its own lines start with a stamp no access log has; in syslog, program nginx.
    NginxErrorParser,
    # Access lines in syslog under any other program tag.
    SyslogAccessParser,
)
