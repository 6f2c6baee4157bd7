"""The words of notifications: what a unit or agency is told when a case opens or escalates.

Vietnamese first, English below. A notice names the unit, the rule, the window, the
deadlines (local time) and the link to the case's page in the console; never the
respondent (a call-back contact is only shown in the case API, to the unit's handler).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Literal

from sipas_alerts.domain.alerts import rule_label
from sipas_alerts.domain.cases import Case
from sipas_alerts.domain.policy import Contact, Policy
from sipas_alerts.store.notifications import Notification
from sipas_contracts.units import UnitHierarchy, UnitHierarchyError

Kind = Literal["opened", "escalated", "reopened"]
SEVERITY_VI = {"info": "thông tin", "warning": "cần chú ý", "critical": "nghiêm trọng"}
_HEADLINE = {
    "opened": ("Cảnh báo mới", "New alert"),
    "escalated": ("Quá hạn, đã chuyển cấp trên", "Overdue, escalated"),
    "reopened": ("Hồ sơ cảnh báo được mở lại", "Case reopened"),
}


class Notices:
    """Composes notifications for case changes from the policy's routing."""

    def __init__(self, policy: Policy, hierarchy: UnitHierarchy, console_url: str) -> None:
        self._policy = policy
        self._hierarchy = hierarchy
        self._url = console_url.rstrip("/")

    @property
    def tz(self) -> tzinfo:
        """The province's time zone."""
        return self._policy.calendar.tz

    def unit_name(self, unit: str) -> str:
        """The unit's Vietnamese name (its code when unknown)."""
        try:
            return self._hierarchy.get(unit).name_vi
        except UnitHierarchyError:
            return unit

    def for_change(self, case: Case, kind: Kind) -> list[Notification]:
        """Notifications of ``case`` having just ``kind`` (opened, escalated, reopened)."""
        recipients = list(self._unit_contacts(case))
        if kind == "escalated":
            for agency in case.escalated_to:
                recipients.extend(self._policy.routing.agencies[agency].contacts)
        unique = {(c.channel, c.address): c for c in recipients}
        return [self._compose(case, kind, contact) for contact in unique.values()]

    def has_contact(self, case: Case) -> bool:
        """Whether the case's unit (or a unit above it) has someone to notify."""
        return bool(self._unit_contacts(case))

    def _unit_contacts(self, case: Case) -> Sequence[Contact]:
        on = case.opened_at.astimezone(self.tz).date()
        ancestors = (
            self._hierarchy.ancestors(case.unit, on) if case.unit in self._hierarchy.units else []
        )
        return self._policy.routing.contacts_for(case.unit, ancestors)

    def _when(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%H:%M %d/%m/%Y")

    def _compose(self, case: Case, kind: Kind, contact: Contact) -> Notification:
        head_vi, head_en = _HEADLINE[kind]
        unit = self.unit_name(case.unit)
        link = f"{self._url}/cases/{case.case_id}"  # the case page in the console
        text = "\n".join(
            [
                f"{head_vi}: {rule_label(case.rule)} — {unit}",
                f"Mức độ: {SEVERITY_VI[case.severity]} · Kỳ: {case.window} · Số phản hồi: {case.alerts}",  # noqa: E501
                f"Nội dung: {case.summary_vi}",
                f"Hạn tiếp nhận: {self._when(case.acknowledge_due_at)} · Hạn xử lý: {self._when(case.resolve_due_at)}",  # noqa: E501
                f"Xem và xử lý: {link}",
                "",
                f"{head_en}: {rule_label(case.rule, 'en')} — {unit} ({case.unit})",
                f"Severity: {case.severity} · Window: {case.window} · Alerts: {case.alerts}",
                f"Summary: {case.summary_en}",
                f"Acknowledge by {self._when(case.acknowledge_due_at)}, resolve by {self._when(case.resolve_due_at)} (local time).",  # noqa: E501
                "",
                "Thông tin cá nhân của người trả lời không được gửi kèm thư này.",
            ]
        )
        digest = hashlib.sha256(f"{contact.channel}:{contact.address}".encode()).hexdigest()[:16]
        return Notification(
            key=f"{case.case_id}:v{case.version}:{kind}:{digest}",
            case_id=str(case.case_id),
            unit=case.unit,
            kind=kind,
            channel=contact.channel,
            recipient=contact.address,
            subject=f"[SIPAS] {head_vi}: {rule_label(case.rule)} — {unit}",
            text=text,
            params={
                "case_id": str(case.case_id),
                "change": kind,
                "unit": case.unit,
                "rule": case.rule,
                "severity": case.severity,
                "state": case.state,
                "window": case.window,
                "url": link,
                "acknowledge_due_at": case.acknowledge_due_at.isoformat(),
                "resolve_due_at": case.resolve_due_at.isoformat(),
            },
        )
