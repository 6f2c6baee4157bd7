from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from sipas_alerts.cli import app
from sipas_alerts.config import ConfigError, load_policy, load_users
from sipas_alerts.domain.access import authenticate

runner = CliRunner()


def test_the_shipped_policy_is_valid_and_knows_vietnamese_holidays():
    policy = load_policy()

    assert policy.sla.acknowledge_days == 1
    assert policy.sla.resolve_days == 5
    assert policy.calendar.holiday_name(__import__("datetime").date(2026, 9, 2)).startswith(
        "Quốc khánh"
    )
    assert set(policy.routing.agencies) == {"snv", "vp-ubnd"}


def test_add_user_stores_only_the_hash_and_prints_the_key_once(tmp_path):
    users = tmp_path / "users.yaml"

    result = runner.invoke(
        app,
        [
            "add-user",
            "cb-codam",
            "--role",
            "handler",
            "--unit",
            "ht-nx-co-dam",
            "--file",
            str(users),
        ],
    )

    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("sak_")
    assert key not in users.read_text()
    [user] = load_users(users)
    assert authenticate(key, [user]) == user
    assert users.stat().st_mode & 0o777 == 0o600


def test_add_user_refuses_a_duplicate_id(tmp_path):
    users = tmp_path / "users.yaml"
    runner.invoke(app, ["add-user", "snv-1", "--role", "supervisor", "--file", str(users)])

    again = runner.invoke(app, ["add-user", "snv-1", "--role", "observer", "--file", str(users)])

    assert again.exit_code == 1
    assert "already exists" in again.output


def test_check_names_the_bad_field_of_a_policy(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("sla: {acknowledge_days: 3, resolve_days: 2}\n")

    result = runner.invoke(app, ["check", "--policy", str(bad)])

    assert result.exit_code == 1
    assert "resolve_days must not be shorter" in result.output


def test_check_prints_the_rules(tmp_path):
    result = runner.invoke(app, ["check"])

    assert result.exit_code == 0
    assert "policy OK" in result.output


def test_due_counts_working_days_across_a_weekend():
    result = runner.invoke(app, ["due", "2026-11-20T16:00+07:00", "--days", "1"])

    assert result.output.strip() == "2026-11-23T16:00:00+07:00"


def test_a_users_file_with_duplicates_or_bad_entries_is_refused(tmp_path):
    path = tmp_path / "users.yaml"
    entry = {"id": "a", "role": "observer", "key_sha256": "0" * 64}
    path.write_text(yaml.safe_dump({"users": [entry, entry]}))
    with pytest.raises(ConfigError, match="duplicate user ids"):
        load_users(path)

    path.write_text(
        yaml.safe_dump({"users": [{"id": "b", "role": "king", "key_sha256": "0" * 64}]})
    )
    with pytest.raises(ConfigError, match=r"users\[0\]: role"):
        load_users(path)


def test_an_unreadable_policy_says_which_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
