"""``access_reporting``: the reporting tables auditors read, rebuilt for the days loads touch."""

from access_warehouse.airflow_adapters.reporting_dag import DAG_ID, build_reporting_dag

globals()[DAG_ID] = build_reporting_dag()
