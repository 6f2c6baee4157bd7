"""structlog configuration: JSON lines, event_id/unit bound per message, PII masked.

Services log snake_case event names with key-values (``log.info("invitation_sent",
unit=...)``). :func:`bind_event` binds the current event's id and unit to every line
logged while handling it. :func:`mask_personal_data` is a last line of defence: phone
numbers and e-mail addresses that slip into a log value are masked before output.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)[\s.\-]?(?:\d[\s.\-]?){8,9}\d?(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _mask(text: str) -> str:
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub("[phone]", text)


def mask_text(text: str) -> str:
    """``text`` with phone numbers and e-mail addresses replaced by placeholders."""
    return _mask(text)


def mask_personal_data(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Structlog processor: mask phone numbers and e-mail addresses in string values."""
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = _mask(value)
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Configure structlog, and route stdlib logging (uvicorn, libraries) through it too."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                mask_personal_data,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access log would print survey URLs (tokens); we count requests in metrics.
    logging.getLogger("uvicorn.access").disabled = True


@contextmanager
def bind_event(event_id: object, unit: str | None = None) -> Iterator[None]:
    """Bind ``event_id`` (and ``unit``) to every log line inside the block."""
    with structlog.contextvars.bound_contextvars(event_id=str(event_id), unit=unit):
        yield
