"""Every service answers as its OpenAPI says: Schemathesis, every check, with credentials.

Schemathesis's CLI, as an integrator would run it, reads each service's ``/openapi.json``
from the running system and sends generated requests, valid and invalid, with a key that
holds every role: no 5xx; every status code and content type an answer has is documented;
answers fit their schemas; input the schema refuses is refused; input it accepts is accepted
(``schemathesis.toml`` names the few operations whose fields are also checked against data a
schema cannot carry, and why); a 405 names the path's methods; routes that declare a
credential refuse a request without one. A fixed seed makes a failure reproducible.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import httpx
import pytest

from sipas_runtime.identity.roles import ROLES
from sipas_runtime.stack import API_SERVICES, Stack
from sipas_runtime.testing import Identities, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.mongo]
HERE = Path(__file__).parent
SERVICES = (*API_SERVICES, "console")
EXAMPLES = 8
SEED = 20261207


@pytest.fixture(scope="module")
def every_role(stack: Stack) -> str:
    """A machine key with every role, known to every service."""

    async def make() -> str:
        ids = await Identities.open(stack.nats_url)
        try:
            key = await ids.key(*ROLES, units=["ht"], name="schemathesis")
        finally:
            await ids.close()
        async with httpx.AsyncClient(timeout=10) as http:
            for service in SERVICES:
                await eventually(lambda s=service: audit_opens(http, stack.url(s), key), 30)
        return key

    return asyncio.run(make())


async def audit_opens(http: httpx.AsyncClient, base: str, key: str) -> bool:
    answer = await http.get(f"{base}/v1/audit?limit=1", headers={"Authorization": f"Bearer {key}"})
    return answer.status_code == 200


@pytest.mark.parametrize("service", SERVICES)
def test_every_answer_is_what_the_openapi_documents(stack: Stack, every_role: str, service: str):
    schemathesis = shutil.which("schemathesis", path=sysconfig.get_path("scripts"))
    assert schemathesis is not None
    run = subprocess.run(
        [
            *(schemathesis, "--config-file", str(HERE / "schemathesis.toml"), "run"),
            f"{stack.url(service)}/openapi.json",
            *("--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED)),
            *("--header", f"Authorization: Bearer {every_role}", "--no-color"),
        ],
        env={**os.environ, "PYTHONPATH": str(HERE), "SCHEMATHESIS_HOOKS": "schemathesis_hooks"},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
