"""``POST /api/v1/feeds/{source}``: a department pushes a CSV or JSON batch.

The caller authenticates with ``Authorization: Bearer <token>`` (an account made by
``povguard accounts create``) and may push only the sources of its account. The body
is ``text/csv`` (UTF-8 with or without BOM, GBK/GB18030: detected as for files, or
the ``charset`` of the content type) or ``application/json`` (a list of records or
``{"data": [...]}``), at most :data:`MAX_BODY_BYTES`; ``period=YYYY-MM`` is required.
The batch goes through the source's mapping, normalisation, validation and
quarantine exactly like a delivered file (:mod:`povguard.ingest.push`), replaces only
its own earlier rows (a retry changes nothing), and the answer is its accounting.

Errors use the API's one body ``{"error": {"code", "message"}}``: 401 ``unauthorized``
(no or a bad token), 403 ``forbidden`` (source not allowed for the account), 404
``not_found`` (unknown source), 413 ``payload_too_large``, 415
``unsupported_media_type``, 422 ``validation_error`` (bad or missing period) or the
ingest reason of an unreadable body (``undecodable``, ``invalid_json``,
``no_records``, ``no_header``, ``missing_required_column``...; ``details`` carries
the message in Chinese and English), 503 ``store_busy`` (another process, such as the
monthly cycle, is writing the analytics store; retry later).
"""

from __future__ import annotations

import codecs
import functools
import logging
import threading
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from povguard.api.deps import SessionDep, SettingsDep
from povguard.api.errors import ApiError, NotFoundError, error_body
from povguard.api.schemas import ErrorResponse
from povguard.engine import open_engine
from povguard.errors import ConfigError
from povguard.ingest import (
    BatchReport,
    IngestFileError,
    PushFormat,
    SourceMapping,
    load_mappings,
    prepare_batch,
    store_batch,
)
from povguard.settings import Settings
from povguard.store import ApiAccount, services
from povguard.store.services import PERIOD_PATTERN

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/feeds", tags=["feeds"])

#: Largest accepted body (bytes).
MAX_BODY_BYTES: Final = 20 * 1024 * 1024
#: Quarantined rows listed in a response at most (the counts are always complete).
MAX_QUARANTINE_LISTED: Final = 10_000
#: Seconds a client is asked to wait when the analytics store is busy.
RETRY_AFTER_SECONDS: Final = 30

_CSV_TYPES: Final = frozenset({"text/csv", "application/csv", "text/comma-separated-values"})
_JSON_TYPES: Final = frozenset({"application/json", "text/json"})
# DuckDB allows one writing process and, in this process, one batch at a time.
_WRITE_LOCK = threading.Lock()


class QuarantinedRowPublic(BaseModel):
    """A rejected row of the batch."""

    row: int = Field(description="CSV line number (header = 1) or JSON record index + 1")
    reason: str = Field(description="reason code, e.g. required_missing, unidentifiable")
    message_zh: str
    message_en: str


class BatchNotePublic(BaseModel):
    """Something worth knowing that did not stop the batch (e.g. unmapped columns)."""

    code: str
    message_zh: str
    message_en: str


class PushBatchPublic(BaseModel):
    """The accounting of a pushed batch: ``rows_read = rows_loaded + rows_quarantined``."""

    batch_id: str = Field(description="first 16 hex digits of the body's SHA-256")
    source: str
    period: str
    file: str = Field(description="lineage name of the batch in the tables (push:<batch_id>)")
    sha256: str
    format: str
    encoding: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantine: list[QuarantinedRowPublic]
    quarantine_truncated: bool = Field(
        description=f"true when more than {MAX_QUARANTINE_LISTED} rows were quarantined "
        "and only the first are listed"
    )
    notes: list[BatchNotePublic]
    duplicate: bool = Field(
        description="true when the same batch had already been stored for the period "
        "(a retry): nothing changed"
    )

    @classmethod
    def from_report(cls, report: BatchReport) -> PushBatchPublic:
        """From the ingest's batch report."""
        listed = report.quarantine.slice(0, MAX_QUARANTINE_LISTED)
        rows = listed.select(["row", "reason", "message_zh", "message_en"]).to_pylist()
        return cls(
            batch_id=report.batch_id,
            source=report.source,
            period=report.period,
            file=report.file,
            sha256=report.sha256,
            format=report.format,
            encoding=report.encoding,
            rows_read=report.rows_read,
            rows_loaded=report.rows_loaded,
            rows_quarantined=report.rows_quarantined,
            quarantine=[QuarantinedRowPublic.model_validate(r) for r in rows],
            quarantine_truncated=report.quarantine.num_rows > MAX_QUARANTINE_LISTED,
            notes=[
                BatchNotePublic(code=n.code, message_zh=n.zh, message_en=n.en) for n in report.notes
            ],
            duplicate=report.duplicate,
        )


@dataclass(frozen=True)
class PushTarget:
    """The authenticated account and the mapping of the source it pushes."""

    account: ApiAccount
    mapping: SourceMapping


class _Reply(Exception):  # noqa: N818 - a response, not an error condition of the code
    """An error answered directly by the endpoint (it carries details or headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers

    def response(self) -> JSONResponse:
        body = error_body(self.code, self.message, self.details)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


@functools.cache
def _packaged_mappings() -> dict[str, SourceMapping]:
    return load_mappings()


def get_mappings() -> dict[str, SourceMapping]:
    """The source mappings pushes are read with (the packaged ones; tests override)."""
    return _packaged_mappings()


def _unauthorized(message: str) -> StarletteHTTPException:
    return StarletteHTTPException(401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def get_push_account(
    session: SessionDep,
    authorization: Annotated[str | None, Header()] = None,
) -> ApiAccount:
    """The active department account of the request's bearer token (401 otherwise)."""
    if not authorization:
        raise _unauthorized("an API token is required: Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("use Authorization: Bearer <token>")
    account = services.authenticate(session, token.strip())
    if account is None:
        raise _unauthorized("invalid or deactivated API token")
    return account


def get_push_target(
    source: str,
    account: Annotated[ApiAccount, Depends(get_push_account)],
    mappings: Annotated[dict[str, SourceMapping], Depends(get_mappings)],
) -> PushTarget:
    """The source's mapping if it exists (404) and the account may push it (403)."""
    mapping = mappings.get(source)
    if mapping is None:
        raise NotFoundError(f"unknown source {source!r}")
    if not services.account_may_push(account, source):
        raise ApiError(403, "forbidden", f"account {account.name!r} may not push {source!r}")
    return PushTarget(account, mapping)


def _body_format(content_type: str | None) -> tuple[PushFormat, str]:
    """Format and encoding (``auto`` unless a charset is given) of the body."""
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    fmt: PushFormat
    if media in _CSV_TYPES:
        fmt = "csv"
    elif media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
        fmt = "json"
    else:
        raise _Reply(
            415,
            "unsupported_media_type",
            f"send the batch as text/csv or application/json, not {media or 'no content type'}",
        )
    encoding = "auto"
    for part in params.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            encoding = value.strip().strip('"').lower()
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise _Reply(422, "unknown_charset", f"unknown charset {encoding!r}") from None
    return fmt, encoding


def _too_large() -> _Reply:
    return _Reply(
        413, "payload_too_large", f"the batch is larger than {MAX_BODY_BYTES:,} bytes: split it"
    )


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return type(exc).__name__ in ("IOException", "ConnectionException") and "lock" in text


def _ingest(
    settings: Settings,
    target: PushTarget,
    period: str,
    body: bytes,
    fmt: PushFormat,
    encoding: str,
) -> BatchReport:
    """Read and validate the batch, then store it under the write lock."""
    account = target.account
    try:
        batch = prepare_batch(
            target.mapping,
            period,
            body,
            fmt,
            encoding,
            pushed_by=f"{account.name} ({account.department})",
        )
    except IngestFileError as exc:
        m = exc.message
        details = [{"code": m.code, "message_zh": m.zh, "message_en": m.en}]
        raise _Reply(422, m.code, m.en, details) from None
    except ConfigError as exc:  # the period (checked by the route already)
        raise _Reply(422, "validation_error", str(exc)) from None
    with _WRITE_LOCK:
        try:
            engine = open_engine(settings.engine, settings.home)
        except Exception as exc:
            if _is_lock_conflict(exc):
                raise _Reply(
                    503,
                    "store_busy",
                    "the analytics store is being written by another process; retry later",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                ) from None
            raise
        try:
            return store_batch(engine, target.mapping, batch)
        except ConfigError as exc:  # a stored table lacks columns the mapping produces
            raise _Reply(409, "table_conflict", str(exc)) from None
        finally:
            engine.close()


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (401, "no token, or an invalid or deactivated one"),
        (403, "the account may not push this source"),
        (404, "unknown source"),
        (409, "a stored table does not fit the source's mapping"),
        (413, f"body larger than {MAX_BODY_BYTES:,} bytes"),
        (415, "neither text/csv nor application/json"),
        (422, "bad period, or a body that cannot be read"),
        (503, "the analytics store is busy; retry after Retry-After seconds"),
    )
}


_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the batch: CSV with a header row (UTF-8 or GBK), or JSON records",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {
                            "type": "object",
                            "properties": {"data": {"type": "array", "items": {"type": "object"}}},
                            "required": ["data"],
                        },
                    ]
                }
            },
        },
    }
}


@router.post(
    "/{source}", response_model=PushBatchPublic, responses=_ERRORS, openapi_extra=_REQUEST_BODY
)
async def push_feed(
    request: Request,
    target: Annotated[PushTarget, Depends(get_push_target)],
    settings: SettingsDep,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, description="delivery period YYYY-MM")],
) -> PushBatchPublic | JSONResponse:
    """Ingest a CSV or JSON batch of ``source`` for ``period``; answer its accounting."""
    try:
        fmt, encoding = _body_format(request.headers.get("content-type"))
        body = await _read_body(request)
        report = await run_in_threadpool(_ingest, settings, target, period, body, fmt, encoding)
    except _Reply as reply:
        return reply.response()
    logger.info(
        "push %s %s by %s: %d read, %d loaded, %d quarantined",
        target.mapping.source,
        period,
        target.account.name,
        report.rows_read,
        report.rows_loaded,
        report.rows_quarantined,
    )
    return PushBatchPublic.from_report(report)
