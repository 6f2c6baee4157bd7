"""Field maps: the ones shipped here (``motcua-excel``) plus a configured folder of YAML files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from sipas_intake.domain.fieldmap import FieldMap


class FieldMapError(ValueError):
    """Raised at start-up when a field map file cannot be read or is invalid."""


def _parse(text: str, origin: str) -> FieldMap:
    try:
        return FieldMap.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        msg = f"{origin}: not valid YAML: {exc}"
        raise FieldMapError(msg) from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(map)'}: {e['msg']}" for e in exc.errors()
        )
        msg = f"{origin}: invalid field map: {problems}"
        raise FieldMapError(msg) from exc


def load_field_maps(directory: Path | None = None) -> dict[str, FieldMap]:
    """Shipped maps, then every ``*.yaml`` in ``directory`` (a name may not repeat)."""
    maps: dict[str, FieldMap] = {}
    shipped = [
        (p.read_text(encoding="utf-8"), f"sipas_intake/fieldmaps/{p.name}")
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".yaml")
    ]
    configured = []
    if directory is not None:
        if not directory.is_dir():
            msg = f"{directory}: field map folder does not exist"
            raise FieldMapError(msg)
        configured = [
            (p.read_text(encoding="utf-8"), str(p)) for p in sorted(directory.glob("*.yaml"))
        ]
    for text, origin in [*sorted(shipped, key=lambda s: s[1]), *configured]:
        field_map = _parse(text, origin)
        if field_map.name in maps:
            msg = f"{origin}: a field map named {field_map.name!r} already exists"
            raise FieldMapError(msg)
        maps[field_map.name] = field_map
    return maps
