"""Parsers of the auth family: user activity (logins, failures, VPN sessions).

Each format lives in its own ``auth_<name>`` module; this module lists them.
"""

from __future__ import annotations

from reconwatch.ingest.auth_openvpn import OpenVpnParser, OpenVpnStatusParser
from reconwatch.ingest.auth_sshd import SshdParser
from reconwatch.ingest.auth_windows import WindowsJsonParser
from reconwatch.ingest.base import Parser

PARSERS: tuple[type[Parser], ...] = (
    WindowsJsonParser,
    SshdParser,
    OpenVpnStatusParser,
    OpenVpnParser,
)
