"""Fixtures shared by intake's tests: real keys, a fixed clock and record builders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sipas_contracts.units import UnitHierarchy, load_sample_hierarchy
from sipas_intake.domain.dossiers import Crypto, DossierRecord, PreparedDossier, prepare
from sipas_intake.domain.errors import IntakeError
from sipas_runtime.privacy import KeyPair, keyed_hash, seal, unseal

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def hierarchy() -> UnitHierarchy:
    return load_sample_hierarchy()


@pytest.fixture(scope="session")
def sampling_keys() -> KeyPair:
    return KeyPair.generate()


@pytest.fixture(scope="session")
def crypto(sampling_keys: KeyPair) -> Crypto:
    key = b"k" * 32
    return Crypto(
        seal=lambda contact: seal(sampling_keys.public_key, contact),
        pseudonymise=lambda identity: keyed_hash(key, identity),
        fingerprint=lambda content: keyed_hash(key, "fp:" + content),
    )


@pytest.fixture(scope="session")
def unseal_contact(sampling_keys: KeyPair) -> Callable[[str], dict[str, str]]:
    return lambda blob: unseal(sampling_keys.secret_key, blob)


def base_record(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "dossier_id": "000.00.00.H42-261120-0001",
        "unit": "UBND xã Xuân Hội",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "applicant_id": "042090001234",
        "submission_channel": "direct",
        "received_at": NOW - timedelta(days=2),
        "delivered_at": NOW - timedelta(hours=1),
        "contact": {"phone": "0912 345 678"},
    }
    return {**fields, **overrides}


@pytest.fixture
def make_record() -> Callable[..., DossierRecord]:
    return lambda **overrides: DossierRecord.model_validate(base_record(**overrides))


@pytest.fixture
def prepare_record(
    make_record: Callable[..., DossierRecord], hierarchy: UnitHierarchy, crypto: Crypto
) -> Callable[..., PreparedDossier]:
    def build(**overrides: Any) -> PreparedDossier:
        return prepare(make_record(**overrides), hierarchy=hierarchy, crypto=crypto, now=NOW)

    return build


def _outcome(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or the field errors of the IntakeError it raised."""
    try:
        return call()
    except IntakeError as exc:
        return exc.errors


@pytest.fixture(scope="session")
def outcome() -> Callable[[Callable[[], Any]], Any]:
    return _outcome


@pytest.fixture(scope="session")
def well_formed_errors() -> Callable[[Any], bool]:
    """Whether a value is a non-empty list of complete field errors."""

    def check(value: Any) -> bool:
        return (
            isinstance(value, list)
            and bool(value)
            and all(e.get("field") and e.get("reason") and e.get("code") for e in value)
        )

    return check
