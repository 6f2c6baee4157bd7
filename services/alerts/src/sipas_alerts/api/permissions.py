"""Who may call each of alerts' routes (enforced by the identity gate; the docs table too).

Unit scope is checked per case (a case of another unit answers 403) and per query (lists
narrow to the caller's units), by the routes themselves.
"""

from sipas_runtime.identity import RouteTable, allow
from sipas_runtime.identity.roles import ALERTS_HOOK, CASES_READ, CASES_WORK, CONTACTS_REVEAL

CASE = "/v1/cases/{case_id}"
PERMISSIONS = RouteTable(
    "alerts",
    {
        ("GET", "/v1/cases"): allow(CASES_READ, unit="unit"),
        ("GET", CASE): allow(CASES_READ),
        ("POST", f"{CASE}/transitions"): allow(CASES_WORK),
        ("POST", f"{CASE}/notes"): allow(CASES_WORK),
        ("GET", f"{CASE}/alerts"): allow(CASES_READ),
        ("GET", f"{CASE}/callbacks"): allow(CONTACTS_REVEAL),
        ("GET", "/v1/alerts"): allow(CASES_READ, unit="unit"),
        ("GET", "/v1/kpis"): allow(CASES_READ, unit="unit"),
        ("POST", "/v1/hooks/alertmanager"): allow(ALERTS_HOOK),
    },
)
