"""Reading the alert policy from YAML, with errors that name the field.

The policy is validated whole at start-up: a service with a broken policy refuses to
start (and ``sipas alerts check`` says why) rather than alerting wrongly.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sipas_alerts.domain.policy import Policy


class ConfigError(ValueError):
    """Raised when a policy or users file cannot be read or is invalid."""


def _read(path: Path | None, default: str) -> tuple[Any, str]:
    if path is None:
        text = (resources.files("sipas_alerts") / "defaults" / default).read_text(encoding="utf-8")
        return yaml.safe_load(text), f"<shipped {default}>"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc


def describe(exc: ValidationError) -> str:
    """``field: reason; ...`` of a validation error."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in exc.errors()
    )


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path`` (the shipped default when None)."""
    document, origin = _read(path, "policy.yaml")
    try:
        return Policy.model_validate(document or {})
    except ValidationError as exc:
        raise ConfigError(f"{origin}: invalid alert policy: {describe(exc)}") from exc
