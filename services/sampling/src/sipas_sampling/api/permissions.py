"""Who may call each of sampling's routes (enforced by the identity gate; the docs table too)."""

from sipas_runtime.identity import PUBLIC, RouteTable, allow
from sipas_runtime.identity.roles import (
    CAMPAIGNS_MANAGE,
    CAMPAIGNS_READ,
    DRAWS_VERIFY,
    LISTS_READ,
    OPTOUTS_RECORD,
    SUBSTITUTIONS_RECORD,
)

CAMPAIGN = "/v1/campaigns/{campaign_id}"
PERMISSIONS = RouteTable(
    "sampling",
    {
        ("GET", "/v1/campaigns"): allow(CAMPAIGNS_READ),
        ("POST", "/v1/campaigns"): allow(CAMPAIGNS_MANAGE),
        ("GET", CAMPAIGN): allow(CAMPAIGNS_READ),
        ("POST", f"{CAMPAIGN}/close"): allow(CAMPAIGNS_MANAGE),
        ("GET", f"{CAMPAIGN}/decisions"): allow(DRAWS_VERIFY),
        ("POST", f"{CAMPAIGN}/draw"): allow(CAMPAIGNS_MANAGE),
        ("GET", f"{CAMPAIGN}/draw"): allow(DRAWS_VERIFY),
        # Lists: with contacts for field roles (lists.read), without for observers.
        ("GET", f"{CAMPAIGN}/lists.xlsx"): allow(LISTS_READ, DRAWS_VERIFY, unit="unit"),
        ("GET", f"{CAMPAIGN}/assignments"): allow(LISTS_READ, unit="unit"),
        ("GET", f"{CAMPAIGN}/counter-slips"): allow(LISTS_READ, unit="unit"),
        ("POST", f"{CAMPAIGN}/substitutions"): allow(SUBSTITUTIONS_RECORD),
        ("POST", "/v1/optouts"): allow(OPTOUTS_RECORD),
        ("GET", "/v1/plans"): allow(CAMPAIGNS_MANAGE),
        # Gateways prove themselves with their own token (eSMS) or signature (Zalo).
        ("GET", "/v1/callbacks/esms/{token}"): PUBLIC,
        ("POST", "/v1/callbacks/zalo"): PUBLIC,
        # Development only: answers 404 unless SIPAS_SAMPLING_DEV_OUTBOX is on.
        ("GET", "/dev/outbox"): PUBLIC,
    },
)
