"""The survey in steps: screens cover the form once, drafts keep what each screen posted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas_contracts.instrument import available_catalogues, load_catalogue
from sipas_intake.questionnaire import build
from sipas_intake.steps import MAX_ITEMS_PER_STEP, Draft, _chunks, check, merge, paginate, step_at

FORMS = [
    (instrument, profile)
    for instrument in available_catalogues()
    for profile in load_catalogue(instrument).forms
]
C1001 = load_catalogue("sipas-1001-2023")
STEPS = paginate(build(C1001, "tthc_user"))
ITEMS = [i for s in STEPS for i in s.item_ids()]


@pytest.mark.parametrize(("instrument", "profile"), FORMS)
def test_screens_start_ask_every_question_once_in_order_and_end_with_comment_and_review(
    instrument, profile
):
    questionnaire = build(load_catalogue(instrument), profile)

    steps = paginate(questionnaire)

    assert [i for s in steps for i in s.item_ids()] == questionnaire.item_ids()
    assert steps[0].kind == "intro"
    assert [s.kind for s in steps[-2:]] == ["comment", "review"]
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    assert all(0 < len(s.item_ids()) <= MAX_ITEMS_PER_STEP for s in steps[1:-2])


def test_the_1001_form_has_a_screen_per_element_and_at_most_three_questions_a_screen():
    titles = [(s.title, s.part, s.parts, len(s.item_ids())) for s in STEPS[1:-2]]

    assert STEPS[0].title.startswith("Phiếu khảo sát sự hài lòng")
    assert titles == [
        ("Cảm nhận của Ông/Bà", 1, 2, 2),
        ("Cảm nhận của Ông/Bà", 2, 2, 2),
        ("Tiếp cận dịch vụ", 1, 1, 3),
        ("Thủ tục hành chính", 1, 2, 2),
        ("Thủ tục hành chính", 2, 2, 2),
        ("Công chức trực tiếp giải quyết công việc", 1, 1, 3),
        ("Kết quả giải quyết (được cấp hoặc bị từ chối)", 1, 1, 3),
        ("Tiếp nhận, xử lý phản ánh, kiến nghị", 1, 1, 3),
        ("Nhu cầu, mong đợi", 1, 4, 3),
        ("Nhu cầu, mong đợi", 2, 4, 3),
        ("Nhu cầu, mong đợi", 3, 4, 2),
        ("Nhu cầu, mong đợi", 4, 4, 2),
    ]


def test_screens_are_numbered_alike_in_both_languages():
    english = paginate(build(C1001, "tthc_user", "en"))

    assert [s.item_ids() for s in english] == [s.item_ids() for s in STEPS]
    assert english[1].title == "Your experience"


@given(st.integers(1, 200), st.integers(1, 12))
def test_chunks_are_nearly_equal_and_within_the_limit(count, most):
    sizes = _chunks(count, most)

    assert sum(sizes) == count
    assert max(sizes) <= most
    assert max(sizes) - min(sizes) <= 1
    assert len(sizes) == -(-count // most)


codes = st.sampled_from(["1", "2", "3", "4", "5", "na", ""])


@given(
    st.dictionaries(st.sampled_from(ITEMS), codes.filter(bool)),
    st.sampled_from(STEPS[:-2]),  # the start screen too: it asks nothing
    st.dictionaries(st.sampled_from(ITEMS), codes),
)
def test_a_screen_replaces_only_its_own_answers(saved, step, posted):
    draft = Draft(answers=saved)

    merged = merge(draft, step, {f"a.{k}": v for k, v in posted.items()})

    mine = set(step.item_ids())
    assert {k: v for k, v in merged.answers.items() if k not in mine} == {
        k: v for k, v in saved.items() if k not in mine
    }
    assert {k: v for k, v in merged.answers.items() if k in mine} == {
        k: v for k, v in posted.items() if k in mine and v
    }


def test_the_comment_screen_keeps_comment_and_call_back_and_the_draft_posts_them_whole():
    draft = Draft(answers={"ND.5": "1"})

    merged = merge(
        draft,
        STEPS[-2],
        {"comment": "Tốt", "callback": "yes", "callback_phone": " 0912 345 678 "},
    )

    assert merged.fields() == {
        "a.ND.5": "1",
        "comment": "Tốt",
        "callback": "yes",
        "callback_phone": "0912 345 678",
        "callback_email": "",
    }
    assert merge(merged, STEPS[-2], {"comment": ""}).fields() == {"a.ND.5": "1", "comment": ""}


def test_the_review_screen_changes_nothing():
    draft = Draft(answers={"ND.5": "1"}, comment="x")

    assert merge(draft, STEPS[-1], {"a.ND.6": "2", "comment": "y"}) == draft


@pytest.mark.parametrize(
    ("asked", "expected"), [(None, 1), ("3", 3), ("0", 1), ("99", 15), ("x", 1), (7, 7)]
)
def test_a_step_number_out_of_range_or_malformed_falls_back_to_a_real_screen(asked, expected):
    assert step_at(STEPS, asked).number == expected


def test_a_screen_checks_only_what_it_asks():
    questions = STEPS[3]

    assert check(questions, {"a.HL.DV.E1.1": "9", "a.ND.5": "9"}, C1001) == [
        {
            "field": "answers.HL.DV.E1.1",
            "reason": "is not one of the offered answers",
            "code": "invalid",
        }
    ]
    assert check(questions, {}, C1001) == []
    assert check(STEPS[0], {"a.ND.5": "9"}, C1001) == []
    problems = check(STEPS[-2], {"comment": "x" * 2001, "callback": "yes"}, C1001)
    assert [p["field"] for p in problems] == ["comment", "callback_phone"]
    assert check(STEPS[-2], {"comment": "ok", "callback_phone": "rác"}, C1001) == []
