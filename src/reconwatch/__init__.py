"""reconwatch: hunt IP-address reconnaissance (MITRE ATT&CK T1590.005, T1595) in SOC logs."""

__version__ = "0.1.0"
