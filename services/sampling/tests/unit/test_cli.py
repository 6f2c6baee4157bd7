from __future__ import annotations

import json

from typer.testing import CliRunner

from sipas_sampling.campaigns import shipped_path
from sipas_sampling.cli import app
from sipas_sampling.domain.continuous import draw

runner = CliRunner()


def decision_log(tmp_path, tamper: bool = False):
    rows = []
    for i in range(50):
        dossier = f"D-{i}"
        value = draw("seed-cli", dossier)
        rows.append([dossier, "u1", value, 0.3, "invited" if value < 0.3 else "not_drawn"])
    rows.append(["D-x", "u1", None, None, "online"])
    if tamper:
        first_not_drawn = next(r for r in rows if r[4] == "not_drawn")
        first_not_drawn[4] = "invited"
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps({"campaign_id": "c", "seed": "seed-cli", "decisions": rows}))
    return path


def test_verify_decisions_recomputes_every_draw(tmp_path):
    result = runner.invoke(app, ["verify-decisions", str(decision_log(tmp_path))])

    assert result.exit_code == 0, result.output
    assert "50 draws recomputed" in result.output


def test_verify_decisions_catches_an_invitation_the_draw_did_not_allow(tmp_path):
    result = runner.invoke(app, ["verify-decisions", str(decision_log(tmp_path, tamper=True))])

    assert result.exit_code == 1
    assert "is not below rate" in result.output


def test_check_shows_the_seed_003_quotas_as_written():
    result = runner.invoke(
        app,
        [
            *("check", str(shipped_path("dong-nai-2025"))),
            *("--sample", "dong-nai-example", "--as-of", "2025-01-01"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "dn-2025" in result.output
    assert "27 units; total quota 10000" in result.output


def test_check_shows_seed_003_after_the_district_level_ended():
    result = runner.invoke(
        app,
        [
            *("check", str(shipped_path("dong-nai-2025"))),
            *("--sample", "dong-nai-example", "--as-of", "2026-12-07"),
        ],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    assert "dn-2026" in result.output
    assert "2026-12-07 → 2027-12-06" in result.output
    assert "16 units; total quota 10000" in result.output  # the 11 district units closed


def test_check_shows_the_dates_and_threshold_of_seed_002_for_a_day():
    result = runner.invoke(
        app,
        ["check", str(shipped_path("ha-tinh-nghi-xuan-2020")), "--as-of", "2026-12-07"],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    assert "ht-nx-2026" in result.output
    assert "2026-04-08 → 2026-12-06" in result.output
    assert "ranked on 25 forms per unit" in result.output


def test_check_names_the_broken_field(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        shipped_path("ha-tinh-nghi-xuan-2020").read_text().replace("mode: batch", "mode: weekly")
    )

    result = runner.invoke(app, ["check", str(broken)])

    assert result.exit_code == 1
    assert "mode" in result.output


def test_verify_refuses_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "draw.json"
    path.write_text("not json")

    assert runner.invoke(app, ["verify", str(path)]).exit_code == 2
