"""Alerts' HTTP API: cases, KPIs and the Alertmanager hook (permissions: ``api.permissions``)."""

from sipas_alerts.api import cases, hooks, kpis

ROUTERS = (cases.router, kpis.router, hooks.router)

__all__ = ["ROUTERS"]
