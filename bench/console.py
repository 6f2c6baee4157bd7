"""Benchmark: 50 signed-in people browsing the console's case inbox and campaign pages.

Starts a whole stack on free ports (embedded nats-server and SecantusDB, the four services
and the console, as ``sipas up`` would), gives it something to show (a campaign from the
first shipped plan, responses to it in every commune, ratings of 1 that open cases), adds
``--users`` people (handlers of the communes, operators, supervisors) and signs each in
through the sign-in form. Then every person, in a closed loop without think time, opens
``/cases``, ``/campaigns`` and ``/campaigns/<id>`` for ``--seconds``.

Prints, per page: the server time from the console's own request histogram
(``sipas_http_request_duration_seconds``, p95 interpolated within its buckets), the time
the clients saw (p50 / p95, on the same 2 cores), pages/s, and the bytes transferred: the
largest HTML any person got (no compression) and a first visit with the stylesheets and
script it loads (each must be under 100 KB), and the CPU each process spent per page.
Records the load average before and after: the machine is shared.

    uv run python bench/console.py --users 50 --seconds 30

Writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from anchor import SERVERS, CpuMeter, Report, load, summarize
from pymongo import AsyncMongoClient

from sipas_console.people.accounts import AccountStore, Person
from sipas_console.people.signin import hash_password
from sipas_contracts import subjects
from sipas_contracts.instrument import load_catalogue
from sipas_contracts.testing import response
from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.publishing import encode, event_headers
from sipas_runtime.stack import API_SERVICES, Stack

RESULTS = Path(__file__).parent / "results"
COMMUNES = load_sample_hierarchy().leaves("ht", datetime.now(UTC).date())
C2640 = load_catalogue("sipas-2640-2017")  # the Nghi Xuân plan's questionnaire
ITEMS = C2640.satisfaction_items()
PAGES = ("/cases", "/campaigns", "/campaigns/{campaign_id}")
LIMIT_BYTES = 100 * 1024
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ASSETS = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def people(count: int) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Mostly communes' handlers (each sees its own cases), some operators and supervisors."""
    found = []
    for i in range(count):
        if i % 5 == 3:
            found.append((f"bench-operator-{i}", ("operator",), ("ht",)))
        elif i % 5 == 4:
            found.append((f"bench-supervisor-{i}", ("supervisor",), ("ht",)))
        else:
            found.append((f"bench-handler-{i}", ("handler",), (COMMUNES[i % len(COMMUNES)],)))
    return found


async def add_people(stack: Stack, count: int, password: str) -> list[str]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    hashed, now = hash_password(password), datetime.now(UTC)
    try:
        store = AccountStore(client[stack.env["SIPAS_CONSOLE_DATABASE"]])
        for username, roles, units in people(count):
            await store.add(Person(
                id=username, username=username, name=username, roles=roles, units=units,
                password=hashed, created_at=now, updated_at=now,
            ))  # fmt: skip
    finally:
        await client.close()
    return [username for username, _roles, _units in people(count)]


def seed_campaign(stack: Stack) -> str:
    """The Nghi Xuân plan's campaign (its 17 communes), made today through sampling's API."""
    operator = {"Authorization": f"Bearer {stack.dev_keys['operator']}"}
    with httpx.Client(base_url=stack.url("sampling"), headers=operator, timeout=60) as http:
        plan = next(p for p in http.get("/v1/plans").json() if "nghi-xuan" in p["name"])
        plan = plan["template"]
        made = http.post(
            "/v1/campaigns", params={"as_of": datetime.now(UTC).date().isoformat()}, json=plan
        )
        made.raise_for_status()
        return str(made.json()["id"])


async def seed_responses(stack: Stack, campaign_id: str, per_unit: int) -> int:
    """``per_unit`` responses in every commune, one in ten rated 1 (cases in every commune)."""
    nc = await nats.connect(stack.nats_url)
    sent = 0
    try:
        js = nc.jetstream()
        for unit in COMMUNES:
            for i in range(per_unit):
                rating = 1 if i % 10 == 0 else 4 + i % 2
                event = response(
                    campaign_id=campaign_id, unit=unit, occurred_at=datetime.now(UTC),
                    instrument_id=C2640.id, answers=dict.fromkeys(ITEMS, rating),
                )  # fmt: skip
                await js.publish(
                    subjects.for_event(event), encode(event), headers=event_headers(event)
                )
                sent += 1
    finally:
        await nc.close()
    return sent


async def signed_in(base: str, username: str, password: str) -> httpx.AsyncClient:
    """A client holding ``username``'s session (sent by hand: the cookie is ``Secure``)."""
    client = httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False)
    form = await client.get("/sign-in")
    token = CSRF.search(form.text)
    if token is None:
        raise RuntimeError(form.text[:300])
    answer = await client.post(
        "/sign-in", data={"username": username, "password": password, "csrf": token[1]}
    )
    session = answer.cookies.get("sipas_session")
    if answer.status_code != 303 or not session:
        raise RuntimeError(f"{username} not signed in: {answer.status_code} {answer.text[:300]}")
    client.cookies.clear()
    client.headers["Cookie"] = f"sipas_session={session}"
    return client


async def browse(
    client: httpx.AsyncClient,
    pages: list[str],
    until: float,
    seen: dict[str, list[float]],
    largest: dict[str, int],
) -> None:
    """Open the pages in turn until ``until``; each page's time as the client saw it."""
    turn = 0
    while time.monotonic() < until:
        page = pages[turn % len(pages)]
        started = time.perf_counter()
        answer = await client.get(page)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200, (page, answer.status_code, answer.text[:300])
        seen.setdefault(page, []).append(elapsed)
        largest[page] = max(largest.get(page, 0), answer.num_bytes_downloaded)
        turn += 1


def histogram(base: str) -> dict[str, list[tuple[float, float]]]:
    """The console's GET request histogram: per route, (upper bound, cumulative count)."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    text = httpx.get(base + "/metrics", timeout=30).text
    found: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "sipas_http_request_duration_seconds":
            continue
        for sample in family.samples:
            labels = sample.labels
            if labels.get("method") != "GET":
                continue
            if sample.name.endswith("_bucket"):
                found.setdefault(labels["route"], []).append((float(labels["le"]), sample.value))
            elif sample.name.endswith(("_sum", "_count")):  # kept as bounds -1 and -2
                bound = -1.0 if sample.name.endswith("_sum") else -2.0
                found.setdefault(labels["route"], []).append((bound, sample.value))
    return {route: sorted(buckets) for route, buckets in found.items()}


def p95_between(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> float:
    """The 95th percentile of the requests between two scrapes (linear within a bucket)."""
    counts = [(le, a - dict(before).get(le, 0.0)) for le, a in after if le >= 0]
    total = counts[-1][1]
    target, lower, below = 0.95 * total, 0.0, 0.0
    for le, cumulative in counts:
        if cumulative >= target:
            if le == float("inf"):
                return lower
            share = (target - below) / (cumulative - below) if cumulative > below else 1.0
            return lower + share * (le - lower)
        lower, below = le, cumulative
    return lower


def mean_between(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> float:
    """The exact mean server time between two scrapes (the histogram's sum and count)."""
    earlier, later = dict(before), dict(after)
    count = later[-2.0] - earlier.get(-2.0, 0.0)
    return (later[-1.0] - earlier.get(-1.0, 0.0)) / count if count else 0.0


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def assets_of(client: httpx.AsyncClient, page: str) -> int:
    """Bytes of the stylesheets and scripts ``page`` loads (a first visit, cold cache)."""
    answer = await client.get(page)
    assets = sorted(set(ASSETS.findall(answer.text)))
    return sum([(await client.get(a)).num_bytes_downloaded for a in assets])


def seeded(stack: Stack, campaign_id: str, cases: int, responses: int) -> dict[str, int]:
    """Wait until alerts has opened the cases and scoring counted the responses."""
    supervisor = {"Authorization": f"Bearer {stack.dev_keys['supervisor']}"}
    deadline = time.monotonic() + 120
    while True:
        opened = httpx.get(stack.url("alerts") + "/v1/cases", headers=supervisor,
                           params={"limit": 100}, timeout=30).json()["items"]  # fmt: skip
        table = httpx.get(stack.url("scoring") + "/v1/indices", headers=supervisor,
                          params={"campaign": campaign_id}, timeout=30)  # fmt: skip
        rows = table.json().get("rows", []) if table.status_code == 200 else []
        counted = sum(r["responses"] for r in rows if r["tier"] == "commune")
        if (len(opened) >= cases and counted >= responses) or time.monotonic() > deadline:
            return {"cases": len(opened), "responses_counted": int(counted)}
        time.sleep(0.5)


async def run(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    campaign_id = seed_campaign(stack)
    sent = await seed_responses(stack, campaign_id, args.responses_per_unit)
    state = seeded(stack, campaign_id, len(COMMUNES), sent)
    password = secrets.token_urlsafe(18)
    usernames = await add_people(stack, args.users, password)
    base = stack.url("console")
    clients = [await signed_in(base, u, password) for u in usernames]
    pages = [p.format(campaign_id=campaign_id) for p in PAGES]
    try:
        for client in clients:  # every page once, so no first-time cost is measured
            for page in pages:
                (await client.get(page)).raise_for_status()
        assets = await assets_of(clients[0], pages[0])
        seen: dict[str, list[float]] = {}
        largest: dict[str, int] = {}
        before, load_before = histogram(base), load()
        roles = {name: f"sipas_{name}" for name in (*API_SERVICES, "console")}
        meter = CpuMeter({**roles, **SERVERS})
        started = time.monotonic()
        until = started + args.seconds
        await asyncio.gather(*(browse(c, pages[i % 3 :] + pages[: i % 3], until, seen, largest)
                               for i, c in enumerate(clients)))  # fmt: skip
        elapsed = time.monotonic() - started
        cpu = meter.per_event(sum(len(v) for v in seen.values()))
        after, load_after = histogram(base), load()
    finally:
        for client in clients:
            await client.aclose()
    routes = dict(zip(pages, PAGES, strict=True))
    result: dict[str, Any] = {
        "users": args.users, "seconds": round(elapsed, 2), "responses_seeded": sent, **state,
        "pages": sum(len(v) for v in seen.values()),
        "pages_per_second": sum(len(v) for v in seen.values()) / elapsed,
        "load_before": load_before, "load_after": load_after,
        **{k.replace("per_event", "per_page"): v for k, v in cpu.items()},
    }  # fmt: skip
    for page, route in routes.items():
        key = route.strip("/").replace("/", "_").replace("{campaign_id}", "id")
        result[f"{key}_server_p95_ms"] = 1000 * p95_between(before.get(route, []), after[route])
        result[f"{key}_server_mean_ms"] = 1000 * mean_between(before.get(route, []), after[route])
        result[f"{key}_client_p50_ms"] = 1000 * quantile(seen[page], 0.5)
        result[f"{key}_client_p95_ms"] = 1000 * quantile(seen[page], 0.95)
        result[f"{key}_html_bytes"] = largest[page]
        result[f"{key}_first_visit_bytes"] = largest[page] + assets
    return result


def report(result: dict[str, Any]) -> None:
    table = Report(
        f"console: {result['users']} signed-in users, {result['seconds']} s, "
        f"load {result['load_before']} → {result['load_after']}"
    )
    table.add("pages/s (all users)", result["pages_per_second"], unit="pages/s")
    for route in PAGES:
        key = route.strip("/").replace("/", "_").replace("{campaign_id}", "id")
        table.add(f"{route} server mean", result[f"{key}_server_mean_ms"], unit="ms")
        table.add(f"{route} server p95 (within its bucket)", result[f"{key}_server_p95_ms"],
                  unit="ms")  # fmt: skip
        table.add(f"{route} client p50", result[f"{key}_client_p50_ms"], unit="ms")
        table.add(f"{route} client p95", result[f"{key}_client_p95_ms"], unit="ms")
        size = result[f"{key}_first_visit_bytes"]
        table.add(f"{route} HTML", result[f"{key}_html_bytes"] / 1024, unit="KB")
        table.add(f"{route} first visit (+ CSS, JS)", size / 1024, unit="KB",
                  target="< 100 KB", met=size < LIMIT_BYTES)  # fmt: skip
    table.show()
    spent = {k.removeprefix("cpu_us_per_page_"): v for k, v in result.items()
             if k.startswith("cpu_us_per_page_")}  # fmt: skip
    print("CPU per page, µs by process:", ", ".join(f"{k} {v:,.0f}" for k, v in spent.items()))
    print("CPU busy (share of one core over the run):", result.get("cpu_busy_share_of_wall"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--responses-per-unit", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sipas-bench-console-") as tmp:
        stack = Stack(
            Path(tmp), services=(*API_SERVICES, "console"), ports={},
            extra_env={"SIPAS_LOG_LEVEL": "WARNING", "SIPAS_CONSOLE_SIGNIN_RATE": "1000/minute",
                       "SIPAS_CONSOLE_DATABASE": "bench_console"},
        )  # fmt: skip
        try:
            stack.start(timeout=240)
            result = asyncio.run(run(args, stack))
        finally:
            stack.stop()
    result["at"] = datetime.now(UTC).isoformat()
    report(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"console-{int(time.time())}.json"
    out.write_text(json.dumps({"runs": [result], "summary": summarize([result])}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
