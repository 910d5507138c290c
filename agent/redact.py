"""One redaction for every text that leaves the process: credentials in URLs never shown.

`https://x-access-token:SECRET@host/repo.git` is the usual way to hand git a token; this module
turns it into `https://***@host/repo.git` (and `?access_token=SECRET` into `?access_token=***`)
wherever text is logged, stored, printed or answered. The patterns are bounded, so they run in
linear time on any text.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,30}://)[^/@\s\"'<>`]{1,1000}@")
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:access_token|token|api_key|apikey|key|password|secret)=)[^&#\s\"'<>`]{1,2000}",
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `***`."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    return _QUERY_SECRET.sub(rf"\g<key>{MASK}", text)


def redact_url(url: str | None) -> str:
    """A URL fit to show (None shows as `none`)."""
    return redact(url) if url else "none"


def install_log_redaction() -> None:
    """Redact every log record of this process, its traceback included (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
