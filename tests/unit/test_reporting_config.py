"""``include/config/reporting.yaml``: the shipped file is valid, and a bad edit fails naming the
file, the key and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_warehouse.config import ConfigError
from access_warehouse.reporting.config import load_reporting_config


def test_the_shipped_config_is_valid() -> None:
    config = load_reporting_config()
    assert config.evaluation_days == max(config.dormant_after_days, config.review_windows_days[1])
    assert config.source_retention_days.days("entra:x:signins", "entra_signins") == 30
    assert config.source_retention_days.days("toy:x", "toy_events") is None
    types = [rule.change_type for rule in config.privileged_changes.directory]
    assert "role_assignment" in types and "privileged_group_membership" in types


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dormant_after_days: 0\n", "dormant_after_days: Input should be greater than or equal"),
        ("review_windows_days: [90, 30]\n", "review_windows_days: Value error, two day counts"),
        ("failed_signins: {window_minute: 5}\n", "failed_signins.window_minute: Extra inputs"),
        (
            "privileged_changes: {database: [{change_type: x, statement: '^GRANT\\\\b'}]}\n",
            "backspace in Postgres",
        ),
        (
            "privileged_changes: {directory: [{change_type: x, action: '(unclosed'}]}\n",
            "not a valid regular expression",
        ),
        ("privileged_changes: {directory: [{change_type: x}]}\n", "needs an `action` or"),
        ("source_retention_days: {by_kind: {entra_signins: 0}}\n", "at least 1 day"),
        ("- a list\n", "expected a mapping at the top level"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "reporting.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_reporting_config(path)
    assert str(path) in str(error.value) and expected in str(error.value)
