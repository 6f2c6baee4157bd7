from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import ValidationError

from sipas_runtime.privacy import KeyPair
from sipas_sampling.settings import Settings

REQUIRED = {
    "token_key": base64.b64encode(secrets.token_bytes(32)).decode(),
    "secret_key": KeyPair.generate().secret_key,
}


def test_production_refuses_the_development_outbox():
    with pytest.raises(ValidationError, match="dev_outbox: the development outbox serves"):
        Settings(**REQUIRED, env="production", dev_outbox=True)


def test_production_refuses_zalo_without_the_secret_that_signs_its_webhooks():
    with pytest.raises(ValidationError, match="zalo_oa_secret"):
        Settings(**REQUIRED, env="production", zalo_app_id="app-1")


def test_development_may_use_the_outbox():
    assert Settings(**REQUIRED, env="development", dev_outbox=True).dev_outbox


def test_dossiers_are_decided_from_memory_unless_the_store_path_is_chosen(monkeypatch):
    monkeypatch.delenv("SIPAS_SAMPLING_DECISIONS", raising=False)

    assert Settings(**REQUIRED).decisions == "memory"
    assert Settings(**REQUIRED, decisions="store").decisions == "store"
