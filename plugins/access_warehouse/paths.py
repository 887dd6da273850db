"""Where the project's non-Python files live (SQL and YAML under ``include/``)."""

from __future__ import annotations

import os
from pathlib import Path

#: The project root: ``plugins/access_warehouse/paths.py`` is two levels below it. A deployment
#: that mounts ``include/`` elsewhere sets ACCESS_WAREHOUSE_INCLUDE.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = Path(os.environ.get("ACCESS_WAREHOUSE_INCLUDE", PROJECT_ROOT / "include"))
SQL_DIR = INCLUDE_DIR / "sql"
#: Tests and staging deployments point ACCESS_WAREHOUSE_CONFIG at another folder of YAML.
CONFIG_DIR = Path(os.environ.get("ACCESS_WAREHOUSE_CONFIG", INCLUDE_DIR / "config"))
