"""Normalisers: one pure-Python module per source kind, each turning raw source records into
access events with exactly the columns of :data:`access_warehouse.contract.NORMALISED_COLUMNS`.

- :mod:`access_warehouse.normalise.signins`: Microsoft Graph ``auditLogs/signIns`` (v1.0 and beta).

Modules here never import pandas, Airflow or database drivers: they run per chunk inside the
load step, in tests and in the benchmark alike.
"""
