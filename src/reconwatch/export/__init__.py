"""Exports of a hunt's cases to the tools a SOC already runs.

Each module turns the cases document (``cases.json``, schema
``reconwatch.cases/1``, see docs/cases-json.md) into one target format:
``stix`` (STIX 2.1 bundle), ``ocsf`` (OCSF Detection Finding), ``ecs`` (ECS
alerts as Elasticsearch ``_bulk`` NDJSON), ``thehive`` (TheHive 5 alerts, with
an optional push) and ``sigma`` (the detections themselves as Sigma rules).
``cli`` is the ``reconwatch export`` command group. docs/exports.md maps every
field.

The option defaults the command shows live here, so that ``reconwatch
--help`` need not import the exporters (STIX, the detections' registry).
"""

from typing import Final

#: Name of the SOC's STIX identity (``export stix --soc-name``).
DEFAULT_SOC: Final = "reconwatch SOC"
#: Elasticsearch index or data stream of the ECS alerts (``export ecs --index``).
DEFAULT_INDEX: Final = "reconwatch-alerts"
