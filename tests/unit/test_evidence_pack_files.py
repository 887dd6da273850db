"""Evidence packs without a database: where packs go, how verification counts CSV rows, and
that every file's query is one SQL file ordered by a full key."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date
from pathlib import Path

import pytest

from access_warehouse.paths import PROJECT_ROOT, SQL_DIR
from access_warehouse.reporting import evidence
from access_warehouse.reporting.evidence import FILES, _measure, default_pack_dir


def test_default_pack_dir_is_under_the_variable_and_never_an_existing_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(evidence.ENV_VAR, raising=False)
    assert default_pack_dir(date(2026, 10, 1), date(2026, 12, 31)).parent == (
        PROJECT_ROOT / "evidence"
    )
    monkeypatch.setenv(evidence.ENV_VAR, str(tmp_path))
    first = default_pack_dir(date(2026, 10, 1), date(2026, 12, 31))
    assert first.parent == tmp_path and not first.exists()
    assert re.fullmatch(r"access-review_2026-10-01_2026-12-31_\d{8}T\d{6}Z", first.name)
    first.mkdir()
    (first.parent / f"{first.name}-2").mkdir()
    second = default_pack_dir(date(2026, 10, 1), date(2026, 12, 31))
    # the same second: a suffix keeps them apart (unless the clock moved on meanwhile)
    assert not second.exists() and second.name.startswith("access-review_2026-10-01_2026-12-31_")


def test_the_evidence_folder_is_ignored_by_git() -> None:
    assert "/evidence/" in (PROJECT_ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize(
    "rows",
    [
        [["a", "b"]],
        [["a", "b"], ["1", "2"]],
        [["statement", "n"], ['GRANT SELECT,\nUPDATE ON "t"', "1"], ["x\r\ny", "2"]],
        [["only"], ['"'], ['""'], ["a\n\n\nb"], [""]],
    ],
    ids=["header only", "one row", "line breaks and quotes", "quotes only"],
)
def test_rows_are_counted_as_a_csv_reader_reads_them(tmp_path: Path, rows: list[list[str]]) -> None:
    text = io.StringIO(newline="")
    # the quoting COPY's CSV uses: a field with a quote, comma or line break is quoted
    csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    path = tmp_path / "f.csv"
    path.write_bytes(text.getvalue().encode())
    measured = _measure(path)
    with path.open(newline="") as handle:
        assert measured.rows == len(list(csv.reader(handle))) - 1 == len(rows) - 1
    assert measured.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert measured.bytes == path.stat().st_size


def test_a_last_row_without_its_newline_still_counts(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n3,4")
    assert _measure(path).rows == 2
    path.write_bytes(b"")
    assert _measure(path).rows == 0


def test_every_file_is_one_ordered_query_with_the_period_parameters_only() -> None:
    folder = SQL_DIR / evidence.SQL_FOLDER
    assert sorted(spec.sql_name for spec in FILES) == sorted(p.name for p in folder.glob("*.sql"))
    assert len({spec.name for spec in FILES}) == len(FILES)
    for spec in FILES:
        text = (folder / spec.sql_name).read_text()
        code = "\n".join(line.split("--")[0] for line in text.splitlines())
        assert ";" not in code, spec.sql_name
        # the outermost query orders its rows: files are the same bytes for the same state
        assert re.search(r"\nORDER BY [^()]*$", code), spec.sql_name
        assert set(re.findall(r"%\((\w+)\)s", code)) <= {"period_start", "period_end"}
