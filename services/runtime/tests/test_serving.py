"""Which event loop a service runs on is its own choice, never uvicorn's guess."""

from __future__ import annotations

import asyncio

import uvloop
from fastapi import FastAPI

from sipas_runtime.serving import server_config
from sipas_runtime.settings import ServiceSettings


def test_a_service_runs_on_asyncio_even_when_uvloop_is_installed():
    config = server_config(FastAPI(), ServiceSettings())

    loop = config.get_loop_factory()()
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_a_service_that_asks_for_uvloop_runs_on_it():
    config = server_config(FastAPI(), ServiceSettings(), loop="uvloop")

    loop = config.get_loop_factory()()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert not isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()
