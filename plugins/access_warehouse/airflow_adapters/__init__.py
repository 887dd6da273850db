"""The only code that imports Airflow: connection lookup, task bodies and the DAG factory.

The core package speaks of batches, windows, bookmarks and feeds and takes DSNs and plain values;
these adapters turn an Airflow task context into those calls.
"""
