"""Configuration validation and extract windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from access_warehouse.config import ConfigError, load_sources
from access_warehouse.windows import WindowError, resolve_window


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_shipped_config_is_valid() -> None:
    config = load_sources()
    tenant = config.source("contoso", "entra")
    assert tenant.default and tenant.dag_id("signins") == "entra_signins"
    assert tenant.source_id("signins") == f"entra:{tenant.name}:signins"
    assert [feed.dag_id for feed in config.feeds()] == [
        "entra_signins",
        "entra_directory_audits",
        "db_audit_appdb",
        "db_audit_billing_portal",
        "db_audit_app_db_log",
        "db_audit_crm_general_log",
        "db_audit_crm_server_audit",
        "cloudflare_access_contoso",
        "ecs_jsonl_engflow",
        "cloudflare_logpush_http_intranet",
        "azure_monitor_export_contoso_archive_signins",
        "mission_control_json_github",
    ]
    database = config.source("appdb", "postgres_audit_trigger")
    assert database.identity.alias_for("adele.vance", "app-db") == (
        "adele.vance@contoso.onmicrosoft.com",
        "template",
    )
    assert database.identity.alias_for("svc_billing", "app-db") == (None, None)


ACME = "  - kind: entra\n    name: acme\n    tenant_id: t\n    conn_id: msgraph_acme\n"


def test_error_names_file_key_source_and_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n"
        + ACME
        + "    signins:\n      schedule: 'every day'\n      lookback_minutes: -5\n",
    )
    with pytest.raises(ConfigError) as error:
        load_sources(path)
    message = str(error.value)
    assert str(path) in message
    assert "sources.0.signins.schedule (source 'acme', kind 'entra')" in message
    assert "cron" in message
    assert "sources.0.signins.lookback_minutes" in message


def test_unknown_keys_and_duplicate_tenants_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"repeated: \['entra:acme'\]"):
        load_sources(write(tmp_path, "sources:\n" + ACME + ACME))
    with pytest.raises(ConfigError, match=r"sources\.0\.colour .*Extra inputs"):
        load_sources(write(tmp_path, "sources:\n" + ACME + "    colour: red\n"))
    with pytest.raises(ConfigError, match="at most one entra source may be the default"):
        other = ACME.replace("acme", "acme2")
        text = "sources:\n" + ACME + "    default: true\n" + other + "    default: true\n"
        load_sources(write(tmp_path, text))


def test_unknown_or_missing_kind_lists_the_known_kinds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_sources(write(tmp_path, "sources:\n  - kind: oracle_audit\n    name: erp\n"))
    message = str(error.value)
    assert "sources.0 (source 'erp', kind 'oracle_audit'): unknown kind 'oracle_audit'" in message
    assert "known kinds: " in message and "entra" in message
    with pytest.raises(ConfigError, match=r"missing 'kind'; known kinds: .*entra"):
        load_sources(write(tmp_path, "sources:\n  - name: erp\n"))


def test_the_old_layout_gets_a_way_forward(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"replaced by `sources:`.*kind: entra"):
        load_sources(write(tmp_path, "entra_tenants:\n  - name: acme\n"))
    with pytest.raises(ConfigError, match="unknown top-level keys \\['tenants'\\]"):
        load_sources(write(tmp_path, "tenants: []\n"))


def test_bad_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "sources: [\n")
    with pytest.raises(ConfigError, match="not valid YAML") as error:
        load_sources(path)
    assert str(path) in str(error.value)


def test_window_is_interval_widened_by_lookback() -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    window = resolve_window(
        interval_start=start, interval_end=end, params={}, lookback=timedelta(minutes=60)
    )
    assert (window.start, window.end) == (start - timedelta(hours=1), end)
    assert window.lookback == timedelta(minutes=60)


def test_params_win_and_manual_runs_default_to_last_complete_day() -> None:
    window = resolve_window(
        interval_start=None,
        interval_end=None,
        params={"window_start": "2026-10-01T06:00:00Z", "window_end": "2026-10-01T12:00:00"},
        lookback=timedelta(0),
    )
    assert window.start == datetime(2026, 10, 1, 6, tzinfo=UTC)
    assert window.end == datetime(2026, 10, 1, 12, tzinfo=UTC)
    manual = resolve_window(
        interval_start=None,
        interval_end=None,
        params={"window_start": None, "window_end": None},
        lookback=timedelta(minutes=30),
        now=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
    )
    assert manual.start == datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    assert manual.end == datetime(2026, 11, 21, tzinfo=UTC)


def test_bad_params_are_clear_errors() -> None:
    with pytest.raises(WindowError, match="both window_start and window_end"):
        resolve_window(
            interval_start=None,
            interval_end=None,
            params={"window_start": "2026-10-01T00:00:00Z"},
            lookback=timedelta(0),
        )
    with pytest.raises(WindowError, match="not an ISO 8601"):
        resolve_window(
            interval_start=None,
            interval_end=None,
            params={"window_start": "yesterday", "window_end": "today"},
            lookback=timedelta(0),
        )
    with pytest.raises(WindowError, match="after"):
        resolve_window(
            interval_start=None,
            interval_end=None,
            params={"window_start": "2026-10-02T00:00:00Z", "window_end": "2026-10-01T00:00:00Z"},
            lookback=timedelta(0),
        )
