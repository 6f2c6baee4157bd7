from __future__ import annotations

import base64
import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from nacl.public import PublicKey, SealedBox

from sipas_runtime.logs import mask_personal_data
from sipas_runtime.privacy import (
    SHARED_EPHEMERAL,
    KeyPair,
    PrivacyError,
    Sealer,
    keyed_hash,
    new_token,
    seal,
    unseal,
)
from sipas_runtime.problems import field_errors
from sipas_runtime.settings import decode_key


def test_tokens_carry_128_random_bits_and_never_repeat():
    tokens = {new_token() for _ in range(10_000)}

    assert len(tokens) == 10_000
    assert all(len(base64.urlsafe_b64decode(t + "==")) == 16 for t in list(tokens)[:100])


def test_keyed_hash_depends_on_the_key():
    assert keyed_hash(b"k" * 32, "0912345678") != keyed_hash(b"j" * 32, "0912345678")
    assert len(keyed_hash(b"k" * 32, "x")) == 64


@given(st.dictionaries(st.sampled_from(["phone", "email", "zalo_id"]), st.text(max_size=40)))
def test_sealed_contacts_open_only_with_the_right_key(contact):
    pair, other = KeyPair.generate(), KeyPair.generate()

    blob = seal(pair.public_key, contact)

    assert unseal(pair.secret_key, blob) == contact
    with pytest.raises(PrivacyError):
        unseal(other.secret_key, blob)


def test_a_sealer_reuses_an_ephemeral_key_with_fresh_nonces_then_rotates():
    pair = KeyPair.generate()
    sealer = Sealer(pair.public_key, rotate_after=3)

    raw = [base64.b64decode(sealer({"phone": "0912345678"})) for _ in range(6)]

    assert all(r[:1] == SHARED_EPHEMERAL for r in raw)
    ephemeral = [r[1:33] for r in raw]
    assert ephemeral[0] == ephemeral[1] == ephemeral[2] != ephemeral[3] == ephemeral[5]
    assert len({r[33:57] for r in raw}) == 6  # nonces
    assert len(set(raw)) == 6
    assert all(unseal(pair.secret_key, base64.b64encode(r).decode()) for r in raw)


def test_threads_seal_under_their_own_ephemeral_keys():
    pair = KeyPair.generate()
    sealer = Sealer(pair.public_key)

    with ThreadPoolExecutor(max_workers=4) as pool:
        blobs = list(pool.map(lambda n: sealer({"phone": f"09{n:08d}"}), range(400)))

    assert [unseal(pair.secret_key, b)["phone"] for b in blobs] == [
        f"09{n:08d}" for n in range(400)
    ]


def test_contacts_sealed_by_earlier_versions_still_open():
    pair = KeyPair.generate()
    recipient = PublicKey(base64.b64decode(pair.public_key))
    # A classic crypto_box_seal blob, including one whose first byte looks like a version.
    while True:
        older = SealedBox(recipient).encrypt(json.dumps({"email": "a@b.vn"}).encode())
        if older[:1] == SHARED_EPHEMERAL:
            break

    assert unseal(pair.secret_key, base64.b64encode(older).decode()) == {"email": "a@b.vn"}


def test_a_tampered_blob_is_refused():
    pair = KeyPair.generate()
    raw = bytearray(base64.b64decode(seal(pair.public_key, {"phone": "0912345678"})))
    raw[-1] ^= 1

    with pytest.raises(PrivacyError, match="cannot be opened"):
        unseal(pair.secret_key, base64.b64encode(bytes(raw)).decode())


def test_sealed_blob_does_not_contain_the_contact_in_clear():
    pair = KeyPair.generate()

    blob = seal(pair.public_key, {"phone": "0912345678"})

    assert "0912345678" not in base64.b64decode(blob).decode(errors="replace")


def test_malformed_keys_are_reported_by_name():
    with pytest.raises(ValueError, match="SIPAS_TOKEN_KEY must decode to at least 32 bytes"):
        decode_key(base64.b64encode(b"short").decode(), what="SIPAS_TOKEN_KEY")
    with pytest.raises(ValueError, match="SIPAS_X must be base64"):
        decode_key("not base64!", what="SIPAS_X")


@pytest.mark.parametrize(
    "text",
    ["gọi 0912 345 678 nhé", "sđt +84912345678", "0912.345.678", "mail a.b@example.vn ngay"],
)
def test_phone_numbers_and_emails_are_masked_in_logs(text):
    out = mask_personal_data(None, "info", {"event": "x", "comment": text})

    assert "345" not in out["comment"] or "@" not in out["comment"]
    assert "[phone]" in out["comment"] or "[email]" in out["comment"]


def test_masking_keeps_ordinary_numbers():
    out = mask_personal_data(None, "info", {"event": "batch", "count": "500", "seq": "12345"})

    assert out["count"] == "500"
    assert out["seq"] == "12345"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_json_logs_never_contain_a_phone_number(capsys, restore_logging):
    from sipas_runtime.logs import configure_logging

    configure_logging("probe", fmt="json")
    structlog.get_logger().info("comment_received", comment="Liên hệ 0987654321")
    logging.getLogger("uvicorn.error").warning("client sent 0912.345.678")

    lines = capsys.readouterr().err.strip().splitlines()[-2:]
    assert all("0987654321" not in line and "345.678" not in line for line in lines)
    assert [json.loads(line)["service"] for line in lines] == ["probe", "probe"]
    assert json.loads(lines[1])["logger"] == "uvicorn.error"


def test_field_errors_drop_the_location_prefix():
    errors = field_errors(
        [{"loc": ("body", "contact", "email"), "type": "value_error", "msg": "not an email"}]
    )

    assert errors == [{"field": "contact.email", "reason": "not an email"}]


def test_a_keyed_hasher_gives_the_keyed_hash():
    from sipas_runtime.privacy import KeyedHasher, keyed_hash

    hasher = KeyedHasher(b"k" * 32)

    assert hasher("id:042090001234") == keyed_hash(b"k" * 32, "id:042090001234")
    assert hasher("x") == hasher("x") != hasher("y")
