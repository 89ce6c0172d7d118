"""Parsers of the firewalls family: firewall, flow and generic security event logs.

Each vendor lives in its own ``fw_<vendor>`` module; this module only lists
them for the registry, in sniffing order: formats with unmistakable markers
first (CEF/LEEF headers, the VPC Flow Logs header, PAN-OS' CSV head,
FortiGate's ``date= time=``, Cisco's ``%ASA-n-NNNNNN``), then the syslog
program (``filterlog``) and MikroTik's topics. The Windows Firewall log comes
last: its markers (the ``#Software: Microsoft Windows Firewall`` directive, or
records in the exact version 1.5 layout) are as unmistakable, and none of the
sniffers before it claims such a file, nor it theirs, so no place among them
changes what a file is read as. Juniper SRX (``RT_FLOW`` / ``RT_IDS`` with
``RT_FLOW_SESSION_`` or ``RT_SCREEN_`` message ids) comes after it, for the
same reason: no sniffer before it claims such a file, nor it theirs.
"""

from __future__ import annotations

from reconwatch.ingest.base import Parser
from reconwatch.ingest.fw_cef import CefParser, LeefParser
from reconwatch.ingest.fw_cisco import CiscoAsaParser
from reconwatch.ingest.fw_fortigate import FortigateParser
from reconwatch.ingest.fw_juniper import JuniperSrxParser
from reconwatch.ingest.fw_mikrotik import MikrotikParser
from reconwatch.ingest.fw_panos import PanosParser
from reconwatch.ingest.fw_pf import PfParser
from reconwatch.ingest.fw_vpcflow import VpcFlowParser
from reconwatch.ingest.fw_windows import WindowsFirewallParser

PARSERS: tuple[type[Parser], ...] = (
    CefParser,
    LeefParser,
    VpcFlowParser,
    PanosParser,
    FortigateParser,
    CiscoAsaParser,
    PfParser,
    MikrotikParser,
    WindowsFirewallParser,
    JuniperSrxParser,
)
