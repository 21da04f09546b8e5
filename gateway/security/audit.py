"""The audit log: every read of personal data, who read it, as what, what for.

One JSON record per request and person read, when the request ends::

    {"at": "2026-11-23T12:00:00+00:00", "who": "emp-17", "role": "store_employee",
     "purpose": "in-store service", "customer": "crm:1042", "operation": "Customer360",
     "fields": ["id", "name", "email", "loyalty", "orders"]}

The fields are the ones the caller was let through (``resolvers/privacy/authz.py`` notes
each one; a refused field is not a read). Records go to the logger ``mosaic.audit``
(INFO), and, with ``MOSAIC_AUDIT_LOG``, are appended to that file as JSON lines. The
customer is named by their golden id, found once the request has found them; nothing
else about them is written here, so the log is not a second copy of personal data.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strawberry.extensions import SchemaExtension

from resolvers.golden.identity import Identity
from resolvers.graphql.context import MosaicContext
from resolvers.privacy.authz import global_ids
from resolvers.privacy.principal import PersonalRead

logger = logging.getLogger("mosaic.audit")


class AuditSink:
    """Where audit records go: the ``mosaic.audit`` logger, and a JSON-lines file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        logger.info(line)
        if self.path is not None:
            with self._lock, self.path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")


async def _subject_id(subject: Identity | str) -> str:
    if isinstance(subject, str):
        return subject
    # The customer's own id (as Customer.id gives it): waits for the CRM only, not for
    # a slow ERP that the response itself did not need.
    found = await subject.first(("crm", "pos", "erp"), lambda f: next(iter(global_ids(f)), None))
    return found or "unknown"


async def records(context: MosaicContext, operation: str | None) -> list[dict[str, Any]]:
    """The request's reads, one record per person and purpose, fields in read order."""
    principal = context.principal
    grouped: dict[tuple[str, str], list[str]] = {}
    reads: list[PersonalRead] = context.personal_reads.reads
    for read in reads:
        key = (await _subject_id(read.subject), read.purpose or principal.reason)
        fields = grouped.setdefault(key, [])
        if read.field not in fields:
            fields.append(read.field)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return [
        {
            "at": at,
            "who": principal.who,
            "role": principal.role,
            "purpose": purpose,
            "customer": customer,
            "operation": operation,
            "fields": fields,
        }
        for (customer, purpose), fields in grouped.items()
    ]


class AuditLog(SchemaExtension):
    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, MosaicContext) and context.personal_reads.reads:
            for record in await records(context, self.execution_context.operation_name):
                self.sink.write(record)


def audit_extension(sink: AuditSink) -> Callable[[], SchemaExtension]:
    return lambda: AuditLog(sink)
