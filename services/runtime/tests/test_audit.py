"""The audit log on a real Mongo-wire server: chained, verified, and tampering detected."""

from __future__ import annotations

import asyncio
import json
from itertools import pairwise

import pytest
from typer.testing import CliRunner

from sipas_runtime.audit import AUDIT, AuditEntry, AuditLog, verify
from sipas_runtime.identity.commands import audit_app

pytestmark = [pytest.mark.mongo]
runner = CliRunner()


@pytest.fixture
async def log(mongo, db_name):
    audit = AuditLog(lambda: mongo, db_name, "console")
    for who in ("snv.quantri", "cb.codam", "cb.xuanhoi"):
        await audit.record("signed_in", actor=who, method="password")
    await audit.record("roles_changed", actor="snv.quantri", target="cb.codam", roles="handler")
    await audit.record("key_revoked", actor="snv.quantri", target="0123456789ab")
    return audit


def cli(mongo_url: str, db_name: str, *args: str):
    return runner.invoke(
        audit_app, ["verify", "console", "--mongo-url", mongo_url, "--database", db_name, *args]
    )


async def test_entries_chain_each_to_the_one_before(log):
    entries = await log.entries()

    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev == a.hash for a, b in pairwise(entries))
    assert verify(entries, await log.head()) == []


async def test_instances_appending_at_once_keep_one_chain(mongo, db_name):
    audits = [AuditLog(lambda: mongo, db_name, "alerts") for _ in range(3)]

    appends = [
        audit.record("contacts_revealed", actor=f"cb-{i}", target="c1")
        for i, audit in enumerate(audits)
        for _ in range(4)
    ]
    await asyncio.gather(*appends)

    entries = await audits[0].entries()
    assert len(entries) == 12
    assert verify(entries, await audits[0].head()) == []


async def test_verify_passes_then_fails_after_one_byte_of_one_entry_is_changed(
    log, mongo, mongo_url, db_name
):
    intact = await asyncio.to_thread(cli, mongo_url, db_name)
    await mongo[db_name][AUDIT].update_one({"_id": 4}, {"$set": {"details.roles": "handlEr"}})
    changed = await asyncio.to_thread(cli, mongo_url, db_name)

    assert intact.exit_code == 0, intact.output
    assert "5 entries, chain intact" in intact.output
    assert changed.exit_code == 1
    assert "entry 4: was changed after it was written" in changed.output


async def test_verify_notices_a_removed_entry_in_the_middle_and_at_the_end(
    log, mongo, mongo_url, db_name
):
    await mongo[db_name][AUDIT].delete_one({"_id": 2})
    middle = await asyncio.to_thread(cli, mongo_url, db_name)
    await mongo[db_name][AUDIT].delete_one({"_id": 5})
    end = await asyncio.to_thread(cli, mongo_url, db_name)

    assert middle.exit_code == 1
    assert "entry 2 is missing" in middle.output
    assert end.exit_code == 1
    assert "the log should end at entry 5" in end.output


async def test_an_export_verifies_offline_and_an_edit_of_it_is_caught(
    log, mongo_url, db_name, tmp_path
):
    exported = await asyncio.to_thread(
        runner.invoke,
        audit_app,
        ["export", "console", "--mongo-url", mongo_url, "--database", db_name],
    )
    path = tmp_path / "audit.jsonl"
    path.write_text(exported.output)
    lines = exported.output.splitlines()
    entry = json.loads(lines[2])
    entry["actor"] = "someone.else"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([*lines[:2], json.dumps(entry), *lines[3:]]) + "\n")

    assert len(lines) == 5
    assert AuditEntry.model_validate_json(lines[0]).action == "signed_in"
    assert runner.invoke(audit_app, ["verify", "console", "--file", str(path)]).exit_code == 0
    caught = runner.invoke(audit_app, ["verify", "console", "--file", str(edited)])
    assert caught.exit_code == 1
    assert "entry 3: was changed" in caught.output
