"""Problem details in the caller's language: Vietnamese by default, English on request,
naming the field in the caller's terms (never FastAPI's ``body``/``(body)``)."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Body, FastAPI, Query
from pydantic import BaseModel, Field

from sipas_runtime.i18n import Catalogue, _
from sipas_runtime.problems import ProblemError, field_errors, install_problem_handlers


class Approval(BaseModel):
    number: Annotated[str, Field(max_length=4)]
    copies: Annotated[int, Field(ge=1)] = 1


def app() -> FastAPI:
    made = FastAPI()
    install_problem_handlers(made, Catalogue.of())

    @made.post("/approve")
    async def approve(approval: Annotated[Approval, Body()]) -> dict[str, str]:
        return {"number": approval.number}

    @made.get("/period")
    async def period(quarter: Annotated[int, Query(le=4)]) -> dict[str, int]:
        return {"quarter": quarter}

    @made.get("/gone")
    async def gone() -> None:
        raise ProblemError(404, _("Not found"))

    @made.get("/boom")
    async def boom() -> None:
        raise RuntimeError

    return made


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        yield http


async def test_a_missing_body_is_named_in_vietnamese_by_default(client):
    answer = await client.post("/approve")

    assert answer.status_code == 422
    assert answer.headers["content-language"] == "vi"
    problem = answer.json()
    assert problem["title"] == "Dữ liệu không hợp lệ"
    assert problem["errors"] == [{"field": "nội dung yêu cầu", "reason": "Bắt buộc."}]
    assert "(body)" not in answer.text


async def test_english_on_accept_language(client):
    answer = await client.post("/approve", json={}, headers={"Accept-Language": "en-GB,en;q=0.9"})

    assert answer.headers["content-language"] == "en"
    assert answer.json()["title"] == "Invalid input"
    assert answer.json()["errors"] == [{"field": "number", "reason": "Required."}]


@pytest.mark.parametrize(
    ("body", "vi", "en"),
    [
        ({"number": "12345"}, "Tối đa 4 ký tự.", "At most 4 characters."),
        ({"number": "1", "copies": 0}, "Phải lớn hơn hoặc bằng 1.", "Must be at least 1."),
        ({"number": "1", "copies": "ba"}, "Phải là số nguyên.", "Must be a whole number."),
        ({"number": ["1"]}, "Phải là văn bản.", "Must be text."),
    ],
)
async def test_each_reason_names_the_limit_in_both_languages(client, body, vi, en):
    said_vi = (await client.post("/approve", json=body)).json()["errors"][0]["reason"]
    said_en = (await client.post("/approve?lang=en", json=body)).json()["errors"][0]["reason"]

    assert (said_vi, said_en) == (vi, en)


async def test_query_parameters_are_named_without_their_location(client):
    problem = (await client.get("/period", params={"quarter": 5})).json()

    assert problem["errors"] == [{"field": "quarter", "reason": "Phải nhỏ hơn hoặc bằng 4."}]


async def test_raised_problems_unknown_paths_and_crashes_are_translated(client):
    assert (await client.get("/gone")).json()["detail"] == "Không tìm thấy"
    assert (await client.get("/nowhere")).json()["detail"] == "Không tìm thấy"
    crash = await client.get("/boom", headers={"Accept-Language": "vi"})
    assert crash.status_code == 500
    assert crash.json()["detail"] == "Đã xảy ra lỗi ngoài dự kiến; lỗi đã được ghi nhận."


def test_unknown_error_types_keep_pydantic_s_sentence():
    errors = field_errors([{"loc": ("body", "x"), "type": "new_kind", "msg": "odd value"}])

    assert errors == [{"field": "x", "reason": "odd value"}]
