"""Every configured source's DAGs (include/config/sources.yaml), one per feed.

``entra_signins`` and ``entra_directory_audits`` for the default Entra tenant, the same with a
``_<tenant>`` suffix for the others, and whatever further kinds the registry holds.
"""

from access_warehouse.airflow_adapters.dag_factory import build_source_dags

globals().update(build_source_dags())
