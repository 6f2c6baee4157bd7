"""Intake's three inputs fuzzed end to end: the webhook, the raw NATS subject, an XLSX import.

A real intake (served over HTTP, its raw-dossier consumer running on a real nats-server and
Mongo-wire server) takes hostile input from hypothesis. Each input must answer without a
server error, and afterwards nothing it accepted may break a consumer: every
dossier-completed event decodes with the contract (what sampling does first), no record
intake queued itself is dead-lettered, the raw consumer has nothing left pending, and a
good record sent last still comes through.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from typer.testing import CliRunner

from sipas_contracts import subjects
from sipas_contracts.events import DossierCompleted
from sipas_contracts.streams import DEAD_LETTERS, DOSSIERS, INTAKE_RAW_DOSSIERS
from sipas_intake.cli import import_app
from sipas_runtime.testing import bearer, eventually

pytestmark = [
    pytest.mark.nats,
    pytest.mark.mongo,
    pytest.mark.slow,
    # The intake under test runs in a thread of this process, and its NATS client draws on
    # the global `random` while hypothesis generates data: hypothesis would take that for a
    # strategy using `random` and report the examples as flaky.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]
FEED = {**bearer("tthc-feed"), "content-type": "application/json"}
OPERATOR_KEY = bearer("operator")["Authorization"].removeprefix("Bearer ")
NOW = datetime.now(UTC)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HOSTILE = [
    "", " ", "$gt", "\u0000", "H42\r\n-1", "\u202e1-24H", "H4\u200b2", "Ho\u0302\u0300 so\u031b",
    "2026-02-30", "31/02/2026", "ＭａＨｏＳｏ", "x" * 600, "{'$gt': ''}", "\ud800", "0912345678",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**66), max_value=2**66),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def hoso(i: int) -> dict[str, Any]:
    return {
        "MaHoSo": f"000.22.31.H42-261120-{i:04d}",
        "MaTTHC": "1.001229",
        "KenhThucHien": "1",
        "LoaiDoiTuong": "1",
        "SoDienThoai": "0912 345 678",
        "NgayTiepNhan": (NOW - timedelta(days=2)).strftime("%Y%m%d%H%M%S"),
        "NgayTra": (NOW - timedelta(hours=1)).astimezone().strftime("%Y%m%d%H%M%S"),
        "TrangThaiHoSo": "10",
        "DonViXuLy": "UBND xã Cổ Đạm",
    }


def generic(i: int) -> dict[str, Any]:
    return {
        "dossier_id": f"X-{i}",
        "unit": "Xã Xuân Hội",
        "procedure_code": "1.001193",
        "applicant_kind": "individual",
        "submission_channel": "direct",
        "received_at": (NOW - timedelta(days=1)).isoformat(),
        "delivered_at": (NOW - timedelta(minutes=5)).isoformat(),
        "contact": {"phone": "0912345678"},
    }


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    changes = st.dictionaries(st.sampled_from([*base, "extra", "$where"]), json_values, max_size=3)
    drops = st.sets(st.sampled_from(list(base)), max_size=2)
    return st.builds(
        lambda c, d: {k: v for k, v in {**base, **c}.items() if k not in d}, changes, drops
    )


INVISIBLE = ["\u0000", "\r\n", "\u001b", "\u202e", "\u200b", "\ufeff", "\ud800", "\u0300"]
HOSO_TEXTS = ("MaHoSo", "MaTTHC", "TenTTHC", "ChuHoSo")
GENERIC_TEXTS = ("dossier_id", "procedure_code", "procedure_name", "handling_officer")


def edited(base: dict[str, Any], texts: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """A good record with a hidden character slipped into one of its texts (or a new one)."""

    def slip(field: str, char: str, at: int) -> dict[str, Any]:
        text = str(base.get(field) or "Nguyễn Văn An")
        return {**base, field: text[:at] + char + text[at:]}

    return st.builds(slip, st.sampled_from(texts), st.sampled_from(INVISIBLE), st.integers(1, 8))


numbers = st.integers(0, 9999)
records = st.one_of(
    numbers.flatmap(lambda i: edited(hoso(i), HOSO_TEXTS)),
    numbers.flatmap(lambda i: edited(generic(i), GENERIC_TEXTS)),
    numbers.flatmap(lambda i: mutated(hoso(i))),
    numbers.flatmap(lambda i: mutated(generic(i))),
    json_values,
)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


async def _fetch(nats_url: str, stream: str) -> list[Any]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        if not state.messages:
            return []
        return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]
    finally:
        await nc.close()


async def _pending(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(
            INTAKE_RAW_DOSSIERS.stream, INTAKE_RAW_DOSSIERS.durable
        )
        return info.num_pending + info.num_ack_pending
    finally:
        await nc.close()


async def _publish_raw(nats_url: str, data: bytes, source: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(subjects.raw_dossier(source), data)
    finally:
        await nc.close()


def read_as_a_consumer(data: bytes) -> None:
    """Decode with the contract (what sampling does first), then use the text as consumers do:
    stored as UTF-8 (Mongo), routed by subject, written into an enumerator's XLSX list."""
    event = DossierCompleted.model_validate_json(data)
    texts = [event.dossier_id, event.procedure_code, event.procedure_name, event.handling_officer]
    for text in filter(None, texts):
        text.encode("utf-8")
        Workbook().active.append([text])
    assert subjects.for_event(event).endswith(event.unit)


def settle(served_intake: Any, nats_url: str, marker: int) -> None:
    """Send a good record last; when it is through, check what the inputs left behind."""
    with httpx.Client(base_url=served_intake.url, timeout=30) as http:
        answer = http.post("/v1/dossiers", content=dumps(hoso(marker)), headers=FEED)
    assert answer.status_code == 202, answer.text
    marker_id = hoso(marker)["MaHoSo"]

    async def marker_through() -> bool:
        events = await _fetch(nats_url, DOSSIERS.name)
        return any(json.loads(m.data)["dossier_id"] == marker_id for m in events)

    async def check() -> None:
        async def drained() -> bool:
            return await _pending(nats_url) == 0

        await eventually(marker_through, 90)
        await eventually(drained, 30)
        events = await _fetch(nats_url, DOSSIERS.name)
        assert len(events) > 1  # the inputs were accepted too, not only refused
        for message in events:
            read_as_a_consumer(message.data)
        letters = await _fetch(nats_url, DEAD_LETTERS.name)
        assert all(m.headers["Sipas-Dlq-Kind"] and m.headers["Sipas-Dlq-Reason"] for m in letters)
        ours = [m for m in letters if m.headers["Sipas-Dlq-Subject"].endswith((".http", ".import"))]
        assert ours == [], [m.headers for m in ours]

    asyncio.run(check())


@pytest.fixture
def client(served_intake: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served_intake.url, timeout=30) as http:
        yield http


def test_whatever_the_webhook_accepts_every_consumer_can_read(client, served_intake, nats_url):
    @FUZZ
    @given(body=records, fmt=st.sampled_from(["auto", "generic", "hoso"]))
    def post(body: Any, fmt: str) -> None:
        answer = client.post(
            "/v1/dossiers", params={"format": fmt}, content=dumps(body), headers=FEED
        )

        assert answer.status_code in {202, 422}, answer.text
        assert answer.headers["content-type"].startswith(
            "application/json" if answer.status_code == 202 else "application/problem+json"
        )

    post()
    settle(served_intake, nats_url, marker=10_001)


def test_whatever_arrives_on_the_raw_subject_is_an_event_or_a_dead_letter(served_intake, nats_url):
    @FUZZ
    @given(
        data=st.one_of(records.map(dumps), st.binary(max_size=200)),
        source=st.sampled_from(["motcua", "dvc", "x"]),
    )
    def publish(data: bytes, source: str) -> None:
        asyncio.run(_publish_raw(nats_url, data, source))

    publish()
    settle(served_intake, nats_url, marker=10_002)


HEADERS = [
    "Mã hồ sơ", "Đơn vị xử lý", "Mã thủ tục", "Loại đối tượng", "Hình thức nộp",
    "Ngày tiếp nhận", "Ngày trả kết quả", "Trạng thái", "Số điện thoại",
]  # fmt: skip
writable = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20)
cells = st.one_of(
    st.none(),
    st.integers(-5, 10**10),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),  # noqa: DTZ001
    writable,
    writable.map(lambda t: unicodedata.normalize("NFD", t)),
    st.sampled_from(
        [h for h in HOSTILE if not any(unicodedata.category(c) in {"Cc", "Cs"} for c in h)]
    ),
)


def good_row(i: int) -> list[Any]:
    received = (NOW - timedelta(days=3)).strftime("%d/%m/%Y %H:%M")
    delivered = (NOW - timedelta(days=1)).strftime("%d/%m/%Y")
    return [
        f"XLS-{i:05d}", "Xã Xuân Hội", "1.001193", "Công dân", "Trực tiếp", received, delivered,
        "Đã trả kết quả", "0912345678",
    ]  # fmt: skip


rows = st.lists(
    st.tuples(numbers, st.dictionaries(st.integers(0, 8), cells, max_size=4)).map(
        lambda pair: [pair[1].get(c, v) for c, v in enumerate(good_row(pair[0]))]
    ),
    min_size=1,
    max_size=6,
)


def test_whatever_an_xlsx_import_accepts_every_consumer_can_read(
    served_intake, nats_url, tmp_path: Path
):
    runner = CliRunner()
    path = tmp_path / "danh-sach.xlsx"

    @FUZZ
    @given(data=rows)
    def run(data: list[list[Any]]) -> None:
        book = Workbook()
        sheet = book.worksheets[0]
        sheet.append(HEADERS)
        for row in data:
            sheet.append(row)
        book.save(path)
        result = runner.invoke(
            import_app,
            ["dossiers", str(path), "--format", "motcua-excel", "--url", served_intake.url,
             "--api-key", OPERATOR_KEY],
        )  # fmt: skip

        assert result.exit_code in {0, 1}, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output

    run()
    settle(served_intake, nats_url, marker=10_003)
