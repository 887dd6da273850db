"""The `cloudflare_access` kind against the Cloudflare simulator in its own process, over real
HTTPS (its certificate trusted by path): every record of a window lands once, reruns change
nothing, throttling / 5xx / dropped connections / broken pages are retried and counted, late
records come in through the next run's lookback, and a wrong token fails at once without
leaking the token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from warehouse_asserts import audit_snapshot, event_ids, tables_containing

from access_warehouse.extract import extract
from access_warehouse.landing import ExtractWindow
from access_warehouse.load import load_batch
from access_warehouse.sources.base import Feed
from access_warehouse.sources.cloudflare_access import CloudflareAccessSource
from access_warehouse.sources.http import AccessRefused, UnreadablePage
from devtools.cloudflare_simulator import PAGE_FAULTS, SimulatorProcess, http_connection_json

DAY = datetime(2026, 11, 10, tzinfo=UTC)
CONN_ID = "cloudflare_test"
LOGINS_PER_DAY = 300
#: Longer than the simulator's longest indexing delay (90 min): nothing late is ever missed.
LOOKBACK = timedelta(minutes=120)


@pytest.fixture(scope="module")
def cloudflare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    workdir = tmp_path_factory.mktemp("cloudflare")
    args = ("--logins-per-day", str(LOGINS_PER_DAY), "--now", "2026-11-12T00:00:00Z", "--frozen")
    with SimulatorProcess(workdir, *args) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh(cloudflare: SimulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """No faults, the clock two days after DAY, counters zeroed, the right token."""
    cloudflare.faults(script=[], script_after=0, retry_after="1", late_arrival=True)
    cloudflare.set_clock(DAY + timedelta(days=2))
    cloudflare.reset()
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", http_connection_json(cloudflare.state))


def access_feed(
    cloudflare: SimulatorProcess, *, page_size: int = 50, max_attempts: int = 4
) -> Feed:
    source = CloudflareAccessSource.model_validate(
        {
            "kind": "cloudflare_access",
            "name": "test",
            "account_id": cloudflare.state["account_id"],
            "conn_id": CONN_ID,
            "lookback_minutes": int(LOOKBACK.total_seconds() // 60),
            "page_size": page_size,
            "max_attempts": max_attempts,
        }
    )
    (feed,) = source.feeds()
    return feed


def run_window(start: datetime, end: datetime) -> ExtractWindow:
    """The extract window of the run whose data interval is ``[start, end)``."""
    return ExtractWindow(start - LOOKBACK, end, LOOKBACK)


def truth(
    cloudflare: SimulatorProcess, window: ExtractWindow, *, visible: bool = True
) -> list[str]:
    return [r["ray_id"] for r in cloudflare.records(window.start, window.end, visible=visible)]


def batch_row(dsn: str, batch_id: str) -> tuple[str, str | None]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT status, error FROM landing.extract_batches WHERE batch_id = %s", (batch_id,)
        ).fetchone()


def last_batch(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return str(
            conn.execute(
                "SELECT batch_id FROM landing.extract_batches ORDER BY started_at DESC LIMIT 1"
            ).fetchone()[0]
        )


WINDOW = run_window(DAY, DAY + timedelta(days=1))


def test_every_record_of_a_window_lands_exactly_once_and_a_rerun_changes_nothing(
    cloudflare: SimulatorProcess, warehouse_dsn: str
) -> None:
    feed = access_feed(cloudflare)
    expected = truth(cloudflare, WINDOW)
    assert len(expected) > 5 * 50  # several pages

    summary = extract(warehouse_dsn, feed, window=WINDOW)
    loaded = load_batch(warehouse_dsn, summary.batch_id, feed)

    assert summary.records == len(expected) == loaded.loaded
    assert (loaded.quarantined, loaded.duplicates) == (0, 0)
    assert sorted(event_ids(warehouse_dsn, feed.source_id)) == sorted(expected)
    assert summary.pages == len(expected) // 50 + 1  # the last, short page ends the paging
    assert summary.requests["requests"] == summary.pages == cloudflare.stats()["pages_served"]
    assert summary.requests["retries"] == 0

    before = audit_snapshot(warehouse_dsn)
    again = extract(warehouse_dsn, feed, window=WINDOW)
    reloaded = load_batch(warehouse_dsn, again.batch_id, feed)
    assert (reloaded.inserted, reloaded.updated, reloaded.loaded) == (0, 0, len(expected))
    assert audit_snapshot(warehouse_dsn) == before, "a rerun changes no row"


def test_users_resolve_to_the_same_people_as_their_entra_aliases(
    cloudflare: SimulatorProcess, warehouse_dsn: str
) -> None:
    feed = access_feed(cloudflare, page_size=1000)
    summary = extract(warehouse_dsn, feed, window=WINDOW)
    load_batch(warehouse_dsn, summary.batch_id, feed)
    with psycopg.connect(warehouse_dsn) as conn:
        rows = conn.execute(
            "SELECT e.actor_principal_name, e.target_type, e.auth_method, a.alias"
            " FROM audit.access_events e"
            " JOIN audit.external_user_aliases a ON a.external_user_id = e.external_user_id"
            " WHERE e.source_id = %s",
            (feed.source_id,),
        ).fetchall()
    assert rows
    assert any(name.endswith("@contoso.onmicrosoft.com") for name, *_ in rows)
    assert all(alias == name.lower() for name, _, _, alias in rows)
    assert {target_type for _, target_type, _, _ in rows} == {"application"}
    assert {method for _, _, method, _ in rows} >= {"azureAD", "onetimepin"}


@pytest.mark.robustness("Cloudflare 429 with Retry-After: waited out and counted")
@pytest.mark.parametrize("retry_after", ["0.25", "1"], ids=["decimal", "integer"])
def test_throttling_is_waited_out_as_retry_after_says_and_counted(
    retry_after: str, cloudflare: SimulatorProcess, warehouse_dsn: str
) -> None:
    cloudflare.faults(script=[429, 429], script_after=2, retry_after=retry_after)

    summary = extract(warehouse_dsn, access_feed(cloudflare), window=WINDOW)

    stats = summary.requests
    assert stats["throttled"] == 2 == cloudflare.stats()["throttled"]
    assert stats["retries"] == 2 and stats["requests"] == summary.pages + 2
    assert stats["waited_s"] == pytest.approx(2 * float(retry_after), abs=0.01)
    assert sorted(truth(cloudflare, WINDOW)) == sorted(landed_ids(warehouse_dsn, summary))


@pytest.mark.robustness("Cloudflare 5xx: retried with backoff and counted")
def test_server_errors_are_retried_with_backoff_and_counted(
    cloudflare: SimulatorProcess, warehouse_dsn: str
) -> None:
    cloudflare.faults(script=[503, 502], script_after=3)

    summary = extract(warehouse_dsn, access_feed(cloudflare), window=WINDOW)

    stats = summary.requests
    assert stats["server_errors"] == 2 == cloudflare.stats()["errors_5xx"]
    assert stats["retries"] == 2 and stats["throttled"] == 0
    assert stats["waited_s"] >= 1.0  # exponential backoff: 1 s, then 2 s (plus jitter)
    assert sorted(truth(cloudflare, WINDOW)) == sorted(landed_ids(warehouse_dsn, summary))


@pytest.mark.robustness("Cloudflare connection refused: retried, counted, then fails")
def test_connection_errors_are_retried_counted_and_then_fail(
    cloudflare: SimulatorProcess, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = {**cloudflare.state, "api_base_url": f"https://127.0.0.1:{port}/client/v4"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", http_connection_json(state))

    with pytest.raises(Exception, match="onnect"):
        extract(warehouse_dsn, access_feed(cloudflare, max_attempts=2), window=WINDOW)

    status, error = batch_row(warehouse_dsn, last_batch(warehouse_dsn))
    assert status == "failed" and "ConnectError" in error
    with psycopg.connect(warehouse_dsn) as conn:
        stats = conn.execute(
            "SELECT request_stats FROM landing.extract_batches WHERE batch_id = %s",
            (last_batch(warehouse_dsn),),
        ).fetchone()[0]
    assert (stats["requests"], stats["retries"], stats["connection_errors"]) == (2, 1, 1)


@pytest.mark.robustness("Cloudflare page that cannot be read, once: retried, the window completes")
@pytest.mark.parametrize("fault", PAGE_FAULTS)
def test_an_unreadable_page_is_retried_and_the_window_completes(
    fault: str, cloudflare: SimulatorProcess, warehouse_dsn: str
) -> None:
    cloudflare.faults(script=[fault], script_after=2)

    summary = extract(warehouse_dsn, access_feed(cloudflare), window=WINDOW)

    assert cloudflare.stats()["page_faults"] == 1
    assert summary.requests["bad_pages"] == 1 and summary.requests["retries"] == 1
    assert sorted(truth(cloudflare, WINDOW)) == sorted(landed_ids(warehouse_dsn, summary))


@pytest.mark.robustness("Cloudflare page that stays unreadable: the extract fails")
def test_a_page_that_stays_unreadable_fails_the_extract_with_a_clear_message(
    cloudflare: SimulatorProcess, warehouse_dsn: str
) -> None:
    cloudflare.faults(script=["success_false"] * 5, script_after=2)

    with pytest.raises(UnreadablePage, match=r"connection 'cloudflare_test'.*'success' is False"):
        extract(warehouse_dsn, access_feed(cloudflare, max_attempts=2), window=WINDOW)

    status, error = batch_row(warehouse_dsn, last_batch(warehouse_dsn))
    assert status == "failed" and "unreadable page" in error
    with psycopg.connect(warehouse_dsn) as conn:
        landed = conn.execute(
            "SELECT count(*) FROM landing.records WHERE batch_id = %s",
            (last_batch(warehouse_dsn),),
        ).fetchone()[0]
    assert landed == 2 * 50  # the pages before it, kept for proof, never loaded


def test_a_late_record_lands_through_the_next_runs_lookback(
    cloudflare: SimulatorProcess, warehouse_dsn: str
) -> None:
    feed = access_feed(cloudflare)
    first, second = WINDOW, run_window(DAY + timedelta(days=1), DAY + timedelta(days=2))

    cloudflare.set_clock(DAY + timedelta(days=1, minutes=5))  # the run right after midnight
    run = extract(warehouse_dsn, feed, window=first)
    load_batch(warehouse_dsn, run.batch_id, feed)
    missing = set(truth(cloudflare, first, visible=False)) - set(truth(cloudflare, first))
    assert missing, "the simulator indexes the day's last login 40 minutes late"
    assert not missing & set(event_ids(warehouse_dsn, feed.source_id))

    cloudflare.set_clock(DAY + timedelta(days=2, minutes=5))  # the next day's run
    run = extract(warehouse_dsn, feed, window=second)
    load_batch(warehouse_dsn, run.batch_id, feed)

    landed = event_ids(warehouse_dsn, feed.source_id)
    assert missing <= set(landed)
    everything = ExtractWindow(first.start, second.end)
    assert sorted(landed) == sorted(truth(cloudflare, everything)), "each record exactly once"


@pytest.mark.robustness("Cloudflare wrong API token: fails at once, token never shown")
def test_a_wrong_token_fails_fast_naming_the_connection_not_the_token(
    cloudflare: SimulatorProcess, warehouse_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "wrong-token-Zq81xY4"
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}", http_connection_json(cloudflare.state, token=token)
    )
    started = time.monotonic()

    with pytest.raises(AccessRefused) as refused:
        extract(warehouse_dsn, access_feed(cloudflare, max_attempts=8), window=WINDOW)

    assert time.monotonic() - started < 5
    message = str(refused.value)
    assert "cloudflare_test" in message and "401" in message and token not in message
    assert cloudflare.stats()["unauthorized"] == 1  # asked once, not retried
    status, error = batch_row(warehouse_dsn, last_batch(warehouse_dsn))
    assert status == "failed" and "cloudflare_test" in error and token not in error
    assert tables_containing(warehouse_dsn, token) == []


def landed_ids(dsn: str, summary) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT payload->>'ray_id' FROM landing.records WHERE batch_id = %s",
                (summary.batch_id,),
            )
        ]


def test_the_simulator_serves_the_documented_shape(cloudflare: SimulatorProcess) -> None:
    records = cloudflare.records(DAY, DAY + timedelta(hours=6))
    documented = {
        "user_email",
        "ip_address",
        "app_uid",
        "app_domain",
        "action",
        "connection",
        "allowed",
        "created_at",
        "ray_id",
    }
    assert records and all(documented <= set(record) for record in records)
    assert all(record["created_at"][-7] == "." for record in records)  # ...:00.12345Z
    # deterministic: a second simulator process gives the same records
    other = Path(cloudflare.workdir) / "second"
    args = ("--logins-per-day", str(LOGINS_PER_DAY))
    with SimulatorProcess(other, *args) as second:
        assert second.records(DAY, DAY + timedelta(hours=6)) == records
