"""``warehouse_verify``: recompute the manifest chains from the rows, daily; fails on a mismatch."""

from access_warehouse.airflow_adapters.verify_dag import DAG_ID, build_verify_dag

globals()[DAG_ID] = build_verify_dag()
