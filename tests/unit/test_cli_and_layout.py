"""The command line reads the registry; the product package holds no development tools."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from access_warehouse.cli import main
from access_warehouse.paths import PROJECT_ROOT


def test_kinds_and_sources_come_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kinds"]) == 0
    listed = capsys.readouterr().out
    assert "entra: Microsoft Entra ID" in listed
    assert "toy: toy events" in listed  # registered by the tests only, listed all the same
    assert "- kind: entra" in listed and "tenant_id: contoso" in listed

    assert main(["sources"]) == 0
    feeds = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in feeds] == [
        ["entra_signins", "entra:contoso:signins", "entra_signins"],
        ["entra_directory_audits", "entra:contoso:directory_audits", "entra_directory_audits"],
        ["db_audit_appdb", "postgres_audit_trigger:appdb", "postgres_audit_trigger"],
        ["db_audit_billing_portal", "generic_sql:billing_portal", "generic_sql"],
        ["db_audit_app_db_log", "postgres_csvlog:app_db_log", "postgres_csvlog"],
        ["db_audit_crm_general_log", "mysql_general_log:crm_general_log", "mysql_general_log"],
        [
            "db_audit_crm_server_audit",
            "mariadb_server_audit:crm_server_audit",
            "mariadb_server_audit",
        ],
        # the SQL Server and ClickHouse sources are configured with enabled: false: no DAG
        ["cloudflare_access_contoso", "cloudflare_access:contoso", "cloudflare_access"],
        ["ecs_jsonl_engflow", "ecs_jsonl:engflow", "ecs_jsonl"],
        [
            "cloudflare_logpush_http_intranet",
            "cloudflare_logpush_http:intranet",
            "cloudflare_logpush_http",
        ],
        # the export writes under the Entra feed's source id: one event per sign-in
        [
            "azure_monitor_export_contoso_archive_signins",
            "entra:contoso:signins",
            "azure_monitor_export_signins",
        ],
        ["mission_control_json_github", "mission_control_json:github", "mission_control_json"],
    ]


def test_check_config_reports_the_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert capsys.readouterr().out.startswith("ok: 13 sources, 12 feeds")
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - {kind: toy, name: Bad Name, path: /x}\n")
    assert main(["--path", str(bad), "check-config"]) == 1
    assert "sources.0.name (source 'Bad Name', kind 'toy')" in capsys.readouterr().err


def _imported_modules(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def test_production_code_never_imports_the_devtools() -> None:
    for folder in ("plugins", "dags"):
        imported = _imported_modules(PROJECT_ROOT / folder)
        assert not {name for name in imported if name.split(".")[0] == "devtools"}, folder
    assert not list((PROJECT_ROOT / "plugins").rglob("*simulator*"))
    # one thin file per DAG family
    assert sorted(path.name for path in (PROJECT_ROOT / "dags").glob("*.py")) == [
        "populations.py",
        "reporting.py",
        "retention.py",
        "sources.py",
        "verify.py",
    ]


def test_only_the_adapters_import_airflow_itself() -> None:
    package = PROJECT_ROOT / "plugins" / "access_warehouse"
    for path in package.rglob("*.py"):
        if "airflow_adapters" in path.parts:
            continue
        imported = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module
        }
        airflow = {name for name in imported if name.split(".")[0] == "airflow"}
        # the Graph client is the provider's hook, which reads its own connection
        assert airflow <= {"airflow.providers.microsoft.azure.hooks.msgraph"}, path


def test_parsing_the_dag_file_imports_no_database_client_or_gx() -> None:
    probe = (
        "import runpy, sys; [runpy.run_path(f'dags/{name}.py') for name in "
        "('sources', 'reporting', 'populations', 'retention', 'verify')]; "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("psycopg", "great_expectations", "pandas", "kiota_http"):  # httpx: Airflow's
        assert f"'{heavy}'" not in loaded, f"{heavy} is imported when the DAGs parse"
