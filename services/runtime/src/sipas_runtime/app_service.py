"""How a service's routes find the object its app was built around.

Every service builds one service object (``IntakeService``, ``SamplingService``...) in its
``app.py`` and its routes reach it from the request: ``service_of(request)``. The object
sits in ``app.state.service``; each API package declares its typed accessor once::

    service_of: ServiceOf[SamplingService] = ServiceOf()
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

from fastapi import FastAPI, Request

S = TypeVar("S")


class ServiceOf(Generic[S]):
    """The service object behind a request, typed for one service."""

    def attach(self, app: FastAPI, service: S) -> None:
        """Make ``service`` the object behind every request ``app`` serves."""
        app.state.service = service

    def __call__(self, request: Request) -> S:
        """The service object behind ``request``."""
        return cast("S", request.app.state.service)
