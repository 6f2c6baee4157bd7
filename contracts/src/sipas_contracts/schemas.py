"""JSON Schema (and an AsyncAPI 3 document) for every event, so non-Python consumers can subscribe.

``sipas contracts export`` writes them to ``contracts/schemas/``; a test fails when the
committed files differ from what the models produce (``stale_schema_files``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sipas_contracts import subjects
from sipas_contracts.events import EVENT_TYPES, Event

_CHANNELS: dict[str, tuple[str, str]] = {
    "dossier.completed": ("sipas.dossier.completed.{unit}", subjects.DOSSIERS_COMPLETED),
    "campaign.planned": ("sipas.campaign.planned.{campaign}", subjects.CAMPAIGNS_PLANNED),
    "invitation.sent": ("sipas.invitation.sent.{unit}", subjects.INVITATIONS_SENT),
    "invitation.closed": ("sipas.invitation.closed.{unit}", subjects.INVITATIONS_CLOSED),
    "response.recorded": ("sipas.response.recorded.{unit}", subjects.RESPONSES_RECORDED),
    "index.updated": ("sipas.index.updated.{campaign}.{unit}", subjects.INDEXES_UPDATED),
    "alert.raised": ("sipas.alert.raised.{unit}", subjects.ALERTS_RAISED),
    "case.updated": ("sipas.case.updated.{unit}", subjects.CASES_UPDATED),
}


def _event_type(model: type[Event]) -> str:
    return str(model.model_fields["event_type"].default)


def _version(model: type[Event]) -> int:
    return int(model.model_fields["schema_version"].default)


def schema_file_name(model: type[Event]) -> str:
    """File name of a model's schema, e.g. ``dossier.completed.v1.json``."""
    return f"{_event_type(model)}.v{_version(model)}.json"


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for model in EVENT_TYPES:
        event_type = _event_type(model)
        address, _ = _CHANNELS[event_type]
        name = event_type.replace(".", "_")
        messages[name] = {
            "name": event_type,
            "contentType": "application/json",
            "payload": {"$ref": f"./{schema_file_name(model)}"},
        }
        channels[name] = {
            "address": address,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"on_{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{name}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "SIPAS Live events",
            "version": "1.0.0",
            "description": "Events exchanged over NATS JetStream; header Nats-Msg-Id = event_id.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render_schema_files() -> dict[str, str]:
    """File name -> content for every schema document."""
    files = {
        schema_file_name(model): _dump(model.model_json_schema(mode="serialization"))
        for model in EVENT_TYPES
    }
    files["asyncapi.json"] = _dump(_asyncapi())
    return files


def write_schema_files(directory: Path) -> list[Path]:
    """Write every schema document into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_schema_files().items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def stale_schema_files(directory: Path) -> list[str]:
    """Names of schema files that are missing from ``directory`` or differ from the models."""
    stale = []
    for name, content in render_schema_files().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
    return stale
