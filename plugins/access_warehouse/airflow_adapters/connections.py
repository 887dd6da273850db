"""Airflow connections the package needs, turned into plain values."""

from __future__ import annotations

from typing import Any

#: The warehouse's Airflow connection (contract: a `postgres` connection named `warehouse`).
WAREHOUSE_CONN_ID = "warehouse"

#: libpq settings an Airflow Postgres connection may carry in its extra.
_LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options")


def postgres_dsn(conn_id: str) -> str:
    """The libpq connection string of an Airflow Postgres connection (the warehouse or a
    database source)."""
    import psycopg  # only when a task runs: DAG files import this module to parse
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    extra = connection.extra_dejson or {}
    return psycopg.conninfo.make_conninfo(
        host=connection.host or None,
        port=connection.port or None,
        dbname=connection.schema or "postgres",
        user=connection.login or None,
        password=connection.password or None,
        **{key: str(extra[key]) for key in _LIBPQ_EXTRAS if extra.get(key) is not None},
    )


def warehouse_dsn(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The libpq connection string of the warehouse."""
    return postgres_dsn(conn_id)


class ConnectionNotDefined(LookupError):
    """No Airflow connection has this id."""


def airflow_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id`` (``ConnectionNotDefined`` when there is none)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConnectionNotDefined(f"connection {conn_id!r} is not defined in Airflow") from None


def connection_hook(connection: Any) -> Any:
    """The provider hook of ``connection``'s type, or None when no installed provider has one."""
    from airflow.sdk.exceptions import AirflowException

    try:
        return connection.get_hook()
    except (AirflowException, ImportError):
        return None


def http_connection(conn_id: str) -> dict[str, Any]:
    """An Airflow HTTP connection's fields for an HTTP API source: ``base_url`` (the host, with
    ``schema`` and ``port`` when the host has no scheme), ``password`` (the API token) and
    ``extra`` (a dict, e.g. ``verify``)."""
    connection = airflow_connection(conn_id)
    host = (connection.host or "").strip().rstrip("/")
    if host and "://" not in host:
        port = f":{connection.port}" if connection.port else ""
        host = f"{connection.schema or 'https'}://{host}{port}"
    return {
        "base_url": host,
        "password": connection.password or None,
        "extra": connection.extra_dejson or {},
    }
