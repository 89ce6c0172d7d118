"""Exports of a hunt's cases to the tools a SOC already runs.

Each module turns the cases document (``cases.json``, schema
``reconwatch.cases/1``, see docs/cases-json.md) into one target format:
``stix`` (STIX 2.1 bundle), ``ocsf`` (OCSF Detection Finding), ``ecs`` (ECS
alerts as Elasticsearch ``_bulk`` NDJSON), ``thehive`` (TheHive 5 alerts, with
an optional push) and ``sigma`` (the detections themselves as Sigma rules).
``cli`` is the ``reconwatch export`` command group. docs/exports.md maps every
field.
"""
