"""``access_populations``: who exists (include/config/populations.yaml), one task per population."""

from access_warehouse.airflow_adapters.population_dags import DAG_ID, build_population_dag

globals()[DAG_ID] = build_population_dag()
