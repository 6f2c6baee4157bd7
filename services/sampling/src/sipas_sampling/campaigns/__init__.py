"""Campaign files: the shipped seed examples and loading YAML into :class:`Campaign`."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from sipas_contracts.units import UnitHierarchy, UnitHierarchyError
from sipas_sampling.domain.allocation import AllocationError
from sipas_sampling.domain.campaign import Campaign
from sipas_sampling.domain.messages import TemplateError, check_template
from sipas_sampling.domain.plan import continuous_quotas
from sipas_sampling.domain.scope import units_in_scope
from sipas_sampling.domain.template import TemplateDateError, instantiate

SHIPPED = ("ha-tinh-nghi-xuan-2020", "dong-nai-2025")


class CampaignFileError(ValueError):
    """Raised when a campaign document is invalid; the message names the field and reason."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [{"field": "(document)", "reason": message}]


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """``[{field, reason}]`` for a pydantic error."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(document)", "reason": e["msg"]}
        for e in exc.errors()
    ]


def describe(exc: ValidationError) -> str:
    """``field.path: reason; ...`` for a pydantic error."""
    return "; ".join(f"{e['field']}: {e['reason']}" for e in field_errors(exc))


def parse_campaign(
    document: object,
    *,
    origin: str = "campaign",
    hierarchy: UnitHierarchy | None = None,
    as_of: date | None = None,
) -> Campaign:
    """Validate a parsed document; with a hierarchy, also check the units in scope.

    A template (a document with ``as_of``) is instantiated for ``as_of`` when given, else
    taken as written.
    """
    if not isinstance(document, dict):
        raise CampaignFileError(f"{origin}: a campaign is a mapping of fields")
    try:
        campaign = Campaign.model_validate(instantiate(document, as_of))
        for name in ("sms", "text", "email_subject"):
            template = getattr(campaign.templates, name)
            if template is not None:
                check_template(name, template)
        if hierarchy is not None:
            units = units_in_scope(campaign, hierarchy)
            if not units:
                raise CampaignFileError(f"{origin}: scope: no unit in scope")
            if campaign.mode == "continuous":
                continuous_quotas(campaign, units)
    except ValidationError as exc:
        raise CampaignFileError(f"{origin}: {describe(exc)}", field_errors(exc)) from exc
    except AllocationError as exc:
        field, _, reason = str(exc).partition(": ")
        errors = [{"field": field, "reason": reason}]
        raise CampaignFileError(f"{origin}: {exc}", errors) from exc
    except (TemplateError, TemplateDateError, UnitHierarchyError) as exc:
        raise CampaignFileError(f"{origin}: {exc}") from exc
    return campaign


def load_campaign_file(
    path: Path, hierarchy: UnitHierarchy | None = None, *, as_of: date | None = None
) -> Campaign:
    """Load and validate one campaign YAML file (a template instantiated for ``as_of``)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CampaignFileError(f"{path}: cannot read campaign: {exc}") from exc
    return parse_campaign(document, origin=str(path), hierarchy=hierarchy, as_of=as_of)


def shipped_campaign(name: str, *, as_of: date | None = None) -> Campaign:
    """One of the seed examples shipped with the package (as written, or for ``as_of``)."""
    resource = resources.files("sipas_sampling") / "campaigns" / f"{name}.yaml"
    if not resource.is_file():
        raise CampaignFileError(f"no shipped campaign named {name!r} (have: {', '.join(SHIPPED)})")
    document = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return parse_campaign(document, origin=name, as_of=as_of)


def shipped_path(name: str) -> Path:
    """Filesystem path of a shipped campaign (for ``SIPAS_SAMPLING_CAMPAIGN_FILES``)."""
    return Path(str(resources.files("sipas_sampling") / "campaigns" / f"{name}.yaml"))


def campaign_file(entry: str) -> Path:
    """A campaign file: a path, or the name of a shipped example (``ha-tinh-nghi-xuan-2020``)."""
    path = Path(entry)
    if entry in SHIPPED and not path.exists():
        return shipped_path(entry)
    return path
