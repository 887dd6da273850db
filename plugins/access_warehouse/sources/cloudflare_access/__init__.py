"""Source kind ``cloudflare_access``: Cloudflare Access authentication logs of one account.

One configured account is one feed (DAG ``cloudflare_access_<name>``, source id
``cloudflare_access:<name>``): ``GET /accounts/{account_id}/access/logs/access_requests`` over
a time window on ``created_at``, with an API token from an Airflow HTTP connection. Paging and
retries are in :mod:`.access_requests` (through :mod:`access_warehouse.sources.http`); the
mapping to the access-event contract is the docstring of :mod:`.access_requests`, summarised
in ``doc.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import Field

from access_warehouse.sources.base import (
    Feed,
    FetchRequest,
    Page,
    ScheduleConfig,
    SourceConfig,
    SourceKind,
    TimeWindow,
)
from access_warehouse.sources.cloudflare_access.access_requests import normalise_access_request
from access_warehouse.sources.registry import register_kind

KIND = "cloudflare_access"
RECORD_KIND = "cloudflare_access"
TIME_FIELD = "created_at"
#: The API's largest ``limit``.
MAX_PAGE_SIZE = 1000

_DOC = (Path(__file__).with_name("doc.md")).read_text()


class CloudflareAccessSource(SourceConfig, ScheduleConfig):
    """One Cloudflare account's Access authentication logs."""

    kind: Literal["cloudflare_access"]
    #: The 32-hex-digit account id of the dashboard URL.
    account_id: str = Field(pattern=r"^[0-9A-Za-z]{1,64}$")
    #: An Airflow HTTP connection: host = API base URL, password = API token.
    conn_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,250}$")
    lookback_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    max_attempts: int = Field(8, ge=1, le=50)

    @property
    def lookback(self) -> timedelta:
        return timedelta(minutes=self.lookback_minutes)

    @property
    def source_id(self) -> str:
        return f"{KIND}:{self.name}"

    @property
    def dag_id(self) -> str:
        return f"{KIND}_{self.name}"

    def feeds(self) -> list[Feed]:
        if not self.enabled:
            return []
        return [
            Feed(
                source_id=self.source_id,
                dag_id=self.dag_id,
                record_kind=RECORD_KIND,
                title=f"Cloudflare Access authentications ({self.name})",
                schedule=self.schedule,
                selection=TimeWindow(lookback=self.lookback, time_field=TIME_FIELD),
                fetch=partial(_fetch, self),
                normalise=normalise_access_request,
                doc_md=(
                    f"Account `{self.account_id}`, connection `{self.conn_id}`, "
                    f"{self.lookback_minutes} min lookback, pages of {self.page_size}.\n\n{_DOC}"
                ),
                tags=("cloudflare", "cloudflare_access", f"account:{self.name}"),
                conn_id=self.conn_id,
            )
        ]


def _fetch(source: CloudflareAccessSource, request: FetchRequest) -> Iterator[Page]:
    from access_warehouse.sources.cloudflare_access.access_requests import fetch_pages

    return fetch_pages(
        request,
        account_id=source.account_id,
        conn_id=source.conn_id,
        page_size=source.page_size,
        max_attempts=source.max_attempts,
    )


register_kind(
    SourceKind(
        name=KIND,
        config=CloudflareAccessSource,
        summary="Cloudflare Access authentication logs of one account (API token)",
        doc=_DOC,
        example={
            "name": "example",
            "account_id": "023e105f4ecef8ad9ca31a8372d0c353",
            "conn_id": "cloudflare_default",
            "schedule": "0 * * * *",
            "lookback_minutes": 60,
        },
    )
)
