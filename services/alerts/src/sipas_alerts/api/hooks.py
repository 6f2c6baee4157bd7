"""Alertmanager's webhook: infrastructure alerts become operator notifications.

Alertmanager (``deploy/alertmanager/alertmanager.yml``) posts every alert group here; each
group is sent to the policy's ``routing.operators`` contacts through the same channels as
case notifications. A group is notified once per (group, status, alerts) — Alertmanager's
periodic repeats of an unchanged group are not sent again. Alertmanager presents a machine
key with the ``alertmanager`` role (``sipas keys create --role alertmanager``) as a bearer
token (``http_config.authorization.credentials_file`` in its receiver).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import BulkWriteError

from sipas_alerts.api.scope import service_of
from sipas_alerts.store import Notification
from sipas_runtime.params import IsoDateTime

router = APIRouter(prefix="/v1/hooks", tags=["hooks"])
_DUPLICATE_KEY = 11000


class AlertmanagerAlert(BaseModel):
    """One alert of an Alertmanager notification (webhook payload version 4)."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(max_length=16)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: IsoDateTime  # noqa: N815 - Alertmanager's field name
    fingerprint: str = Field(default="", max_length=64)


class AlertmanagerPayload(BaseModel):
    """An Alertmanager webhook notification (one alert group)."""

    model_config = ConfigDict(extra="ignore")

    version: str = Field(max_length=8)
    groupKey: str = Field(max_length=2000)  # noqa: N815 - Alertmanager's field name
    status: str = Field(max_length=16)
    receiver: str = Field(default="", max_length=200)
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    alerts: list[AlertmanagerAlert] = Field(max_length=1000)


def _text(payload: AlertmanagerPayload) -> tuple[str, str]:
    name = payload.commonLabels.get("alertname", "alert")
    service_name = payload.commonLabels.get("service", "")
    subject = f"[SIPAS vận hành] {payload.status.upper()}: {name} {service_name}".strip()
    lines = [f"{payload.status.upper()} — {name} ({len(payload.alerts)} cảnh báo / alerts)"]
    for alert in payload.alerts:
        summary = alert.annotations.get("summary") or alert.labels.get("alertname", "")
        lines.append(f"- [{alert.status}] {summary} (từ/since {alert.startsAt.isoformat()})")
        if alert.annotations.get("description"):
            lines.append(f"  {alert.annotations['description']}")
    return subject, "\n".join(lines)


@router.post("/alertmanager", summary="Alertmanager webhook (operator notifications)")
async def alertmanager(request: Request, payload: AlertmanagerPayload) -> dict[str, Any]:
    """Queue a notification of the alert group for each operator contact."""
    alerts = service_of(request)
    subject, text = _text(payload)
    identity = "|".join(
        [
            payload.groupKey,
            payload.status,
            *sorted(f"{a.fingerprint}@{a.startsAt.isoformat()}" for a in payload.alerts),
        ]
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    notes = [
        Notification(
            key=f"am:{digest}:{hashlib.sha256(c.address.encode()).hexdigest()[:12]}",
            case_id=None,
            unit=None,
            kind="operator",
            channel=c.channel,
            recipient=c.address,
            subject=subject,
            text=text,
            params={"status": payload.status, "group_key": payload.groupKey[:200]},
        )
        for c in alerts.policy.routing.operators
    ]
    try:
        await alerts.stores.notifications.enqueue(notes, None, now=alerts.desk.clock())
    except BulkWriteError as exc:  # the same group again: already queued
        if any(e.get("code") != _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
    return {"accepted": len(payload.alerts), "notifications": len(notes)}
