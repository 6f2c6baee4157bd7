from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sipas_alerts.cli import app
from sipas_alerts.config import ConfigError, load_policy

runner = CliRunner()


def test_the_shipped_policy_is_valid_and_knows_vietnamese_holidays():
    policy = load_policy()

    assert policy.sla.acknowledge_days == 1
    assert policy.sla.resolve_days == 5
    assert policy.calendar.holiday_name(__import__("datetime").date(2026, 9, 2)).startswith(
        "Quốc khánh"
    )
    assert set(policy.routing.agencies) == {"snv", "vp-ubnd"}


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


def test_an_unreadable_policy_says_which_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
