from __future__ import annotations

import json
from pathlib import Path

from sipas_contracts.events import EVENT_TYPES
from sipas_contracts.schemas import render_schema_files, schema_file_name, stale_schema_files

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_are_current():
    stale = stale_schema_files(SCHEMA_DIR)

    assert stale == [], f"run `sipas contracts export`; stale: {stale}"


def test_every_event_has_a_schema_and_an_asyncapi_channel():
    files = render_schema_files()
    asyncapi = json.loads(files["asyncapi.json"])

    for model in EVENT_TYPES:
        assert schema_file_name(model) in files
    assert len(asyncapi["channels"]) == len(EVENT_TYPES)


def test_stale_schema_is_detected(tmp_path):
    (tmp_path / "dossier.completed.v1.json").write_text("{}")

    stale = stale_schema_files(tmp_path)

    assert "dossier.completed.v1.json" in stale
