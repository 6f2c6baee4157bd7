"""Errors of the alerts domain; each carries a Vietnamese and an English message.

AlertsError
├── CaseActionError              a case action that cannot be applied
│   ├── IllegalTransitionError   the action is not possible from the case's state (409)
│   ├── StaleCaseError           the case changed since the caller read it (409)
│   ├── ActionNotAllowedError    the caller's role may not take the action (403)
│   └── NoteRequiredError        the action needs a note or reason (422)
├── OutOfScopeError              the case's unit is outside the caller's units (403)
└── CaseNotFoundError            no case has this id (404)
"""

from __future__ import annotations

from collections.abc import Iterable


class AlertsError(Exception):
    """Base of the alerts domain errors."""

    code = "urn:sipas:problem:alerts"

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en

    def message(self, lang: str = "vi") -> str:
        """The message in ``lang`` (Vietnamese unless English is asked for)."""
        return self.en if lang == "en" else self.vi


class CaseActionError(AlertsError):
    """Raised when a case action cannot be applied."""


class IllegalTransitionError(CaseActionError):
    """Raised when the action is not possible from the case's current state."""

    code = "urn:sipas:problem:illegal-transition"

    def __init__(self, action: str, state: str, allowed_from: Iterable[str]) -> None:
        sources = ", ".join(sorted(allowed_from))
        super().__init__(
            f"Không thể '{action}' hồ sơ cảnh báo đang ở trạng thái '{state}'"
            f" (chỉ được từ: {sources}).",
            f"Cannot {action} a case in state '{state}' (allowed from: {sources}).",
        )
        self.action = action
        self.state = state


class StaleCaseError(CaseActionError):
    """Raised when the caller's version of the case is not the current one."""

    code = "urn:sipas:problem:stale-case"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"Hồ sơ đã thay đổi (phiên bản {actual}, bạn gửi {expected}); hãy tải lại.",
            f"The case changed (version {actual}, you sent {expected}); reload it.",
        )


class ActionNotAllowedError(CaseActionError):
    """Raised when the caller's role may not take the action."""

    code = "urn:sipas:problem:forbidden-action"

    def __init__(self, role: str, action: str) -> None:
        super().__init__(
            f"Vai trò '{role}' không được thực hiện '{action}'.",
            f"Role '{role}' may not {action} a case.",
        )


class NoteRequiredError(CaseActionError):
    """Raised when an action that needs a note or reason is sent without one."""

    code = "urn:sipas:problem:note-required"

    def __init__(self, action: str) -> None:
        super().__init__(
            f"Cần ghi rõ nội dung/lý do khi '{action}'.",
            f"A note (the reason or what was done) is required to {action} a case.",
        )


class OutOfScopeError(AlertsError):
    """Raised when a case or unit lies outside the caller's units."""

    code = "urn:sipas:problem:out-of-scope"

    def __init__(self, unit: str) -> None:
        super().__init__(
            f"Đơn vị '{unit}' nằm ngoài phạm vi được giao của bạn.",
            f"Unit '{unit}' is outside the units assigned to you.",
        )


class CaseNotFoundError(AlertsError):
    """Raised when no case has the requested id."""

    code = "urn:sipas:problem:case-not-found"

    def __init__(self, case_id: str) -> None:
        super().__init__(f"Không có hồ sơ cảnh báo '{case_id}'.", f"There is no case '{case_id}'.")
