"""``access_retention``: retention policies and legal holds (include/config/retention.yaml)."""

from access_warehouse.airflow_adapters.retention_dag import DAG_ID, build_retention_dag

globals()[DAG_ID] = build_retention_dag()
