"""What a dead letter says about a failed handler: never the data it failed on."""

from __future__ import annotations

from pymongo.errors import BulkWriteError, DuplicateKeyError

from sipas_runtime.dlq.letters import failure_reason

DOCUMENT = "{ _id: 'c1|H42-1', contact: 'Nguyễn Văn An 0912345678', email: 'an@example.vn' }"


def test_a_duplicate_key_names_the_code_not_the_document():
    exc = DuplicateKeyError(f"E11000 duplicate key error dup key: {DOCUMENT}", 11000)

    reason = failure_reason(exc)

    assert reason == "handler failed: DuplicateKeyError (error code 11000)"


def test_a_bulk_write_error_names_its_write_errors_codes_only():
    details = {"writeErrors": [{"index": 0, "code": 11000, "errmsg": DOCUMENT, "op": {}}]}

    reason = failure_reason(BulkWriteError(details))

    assert reason == "handler failed: BulkWriteError (error code 11000, 65)"
    assert "0912345678" not in reason


def test_another_error_keeps_its_message_with_contacts_masked():
    reason = failure_reason(ValueError("bad value for 0912 345 678 / an@example.vn"))

    assert reason.startswith("handler failed: ValueError: bad value for ")
    assert "345 678" not in reason
    assert "an@example.vn" not in reason
