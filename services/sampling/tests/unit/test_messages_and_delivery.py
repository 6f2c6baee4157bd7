from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_sampling.domain.delivery import backoff, in_quiet_hours, next_allowed, next_step
from sipas_sampling.domain.messages import TemplateError, check_template, render, zalo_data
from sipas_sampling.domain.outreach import QuietHours, Templates, ZaloTemplate
from sipas_sampling.wording import wording

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHT = QuietHours(start=time(21), end=time(7))
NOW = datetime(2026, 11, 20, 3, tzinfo=UTC)  # 10:00 in Vietnam


def test_the_invitation_names_the_unit_the_officer_and_the_link():
    message = render(
        Templates(),
        wording("vi"),
        unit="Xã Cổ Đạm",
        link="https://ks.example/s/abc",
        dossier="H42-0001",
        officer="Trần Thị C",
    )

    assert "Xã Cổ Đạm" in message.text
    assert "Trần Thị C" in message.text
    assert message.text.startswith("Xã Cổ Đạm trân trọng mời Ông/Bà")
    assert message.subject == "Mời đánh giá sự hài lòng — Xã Cổ Đạm"
    assert message.text.endswith("https://ks.example/s/abc")
    assert '<a href="https://ks.example/s/abc">' in message.html


def test_the_officer_can_be_left_out_and_english_is_available():
    message = render(
        Templates(language="en", include_officer=False),
        wording("en"),
        unit="Commune",
        link="L",
        dossier="D",
        officer="X",
    )

    assert "handled by" not in message.text
    assert message.text.startswith("Commune invites you")


def test_reminders_say_so():
    assert render(
        Templates(), wording("vi"), unit="U", link="L", dossier="D", officer=None, reminder=True
    ).sms.startswith("Nhắc lại")


def test_zalo_template_data_uses_the_template_parameter_names():
    templates = Templates(zalo=ZaloTemplate(template_id="1", officer_param="can_bo"))
    params = render(templates, wording("vi"), unit="U", link="L", dossier="D", officer="C").params

    assert zalo_data(templates, params) == {
        "ten_co_quan": "U",
        "link": "L",
        "ma_ho_so": "D",
        "can_bo": "C",
    }


def test_a_template_without_the_link_is_refused():
    with pytest.raises(TemplateError, match="must contain"):
        check_template("sms", "{unit} moi danh gia")


def test_quiet_hours_wrap_midnight_in_local_time():
    assert not in_quiet_hours(NOW, NIGHT, VN)
    assert in_quiet_hours(datetime(2026, 11, 20, 15, tzinfo=UTC), NIGHT, VN)  # 22:00
    assert in_quiet_hours(datetime(2026, 11, 19, 23, tzinfo=UTC), NIGHT, VN)  # 06:00


@given(minutes=st.integers(0, 24 * 60 * 3))
def test_next_allowed_is_never_inside_quiet_hours_nor_in_the_past(minutes):
    moment = NOW + timedelta(minutes=minutes)

    allowed = next_allowed(moment, NIGHT, VN)

    assert allowed >= moment
    assert not in_quiet_hours(allowed, NIGHT, VN)
    assert allowed - moment <= timedelta(hours=10)


def test_retryable_failures_back_off_then_fall_back():
    step = next_step("retryable", channels=["zalo", "sms"], index=0, rounds=0, now=NOW)
    assert (step.action, step.at, step.rounds) == ("retry", NOW + timedelta(minutes=1), 1)

    step = next_step("retryable", channels=["zalo", "sms"], index=0, rounds=4, now=NOW)
    assert (step.action, step.channel_index) == ("fallback", 1)


def test_permanent_failures_fall_back_and_the_last_channel_gives_up():
    assert (
        next_step("permanent", channels=["zalo", "sms"], index=0, rounds=0, now=NOW).channel_index
        == 1
    )
    assert (
        next_step("permanent", channels=["zalo", "sms"], index=1, rounds=0, now=NOW).action
        == "undeliverable"
    )


def test_an_unknown_outcome_is_never_resent_blindly():
    step = next_step("unknown", channels=["zalo", "sms"], index=0, rounds=0, now=NOW)

    assert step.action == "await_report"
    assert step.at == NOW + timedelta(hours=1)


def test_a_provider_retry_after_wins_over_backoff():
    step = next_step("retryable", channels=["zalo"], index=0, rounds=0, now=NOW, retry_after=3600)

    assert step.at == NOW + timedelta(hours=1)


@given(rounds=st.integers(1, 50))
def test_backoff_grows_and_is_capped(rounds):
    assert timedelta(minutes=1) <= backoff(rounds) <= timedelta(hours=2)
    assert backoff(rounds + 1) >= backoff(rounds)
