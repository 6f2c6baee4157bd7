"""Who may call each of scoring's routes (the identity gate enforces it; docs are built from it).

Live figures are for staff and downstream readers; only published figures are public.
"""

from sipas_runtime.identity import PUBLIC, RouteTable, allow
from sipas_runtime.identity.roles import (
    INDICES_READ,
    PROFILES_MANAGE,
    PUBLICATIONS_APPROVE,
    PUBLICATIONS_DRAFT,
    PUBLICATIONS_READ,
)

PERMISSIONS = RouteTable(
    "scoring",
    {
        ("GET", "/v1/campaigns"): allow(INDICES_READ),
        ("GET", "/v1/campaigns/{campaign}/profile"): allow(INDICES_READ),
        ("PUT", "/v1/campaigns/{campaign}/profile"): allow(PROFILES_MANAGE),
        ("GET", "/v1/exports/indices.{fmt}"): allow(INDICES_READ),
        ("GET", "/v1/funnel"): allow(INDICES_READ),
        ("GET", "/v1/indices"): allow(INDICES_READ),
        ("GET", "/v1/indices/{campaign}/units/{unit}"): allow(INDICES_READ),
        ("GET", "/v1/publications"): allow(PUBLICATIONS_READ),
        ("POST", "/v1/publications"): allow(PUBLICATIONS_DRAFT),
        ("GET", "/v1/publications/{publication_id}"): allow(PUBLICATIONS_READ),
        ("GET", "/v1/publications/{publication_id}/report.{fmt}"): allow(PUBLICATIONS_READ),
        ("POST", "/v1/publications/{publication_id}/approve"): allow(PUBLICATIONS_APPROVE),
        ("POST", "/v1/publications/{publication_id}/publish"): allow(PUBLICATIONS_APPROVE),
        ("POST", "/v1/publications/{publication_id}/withdraw"): allow(PUBLICATIONS_DRAFT),
        ("GET", "/v1/public/indices"): PUBLIC,
        ("GET", "/v1/public/open-data/dictionary"): PUBLIC,
        ("GET", "/v1/public/open-data/{campaign}.{fmt}"): PUBLIC,
        ("GET", "/v1/public/publications"): PUBLIC,
        ("GET", "/v1/public/reports/{campaign}.{fmt}"): PUBLIC,
        ("GET", "/v1/public/workbooks/{campaign}.xlsx"): PUBLIC,
        ("GET", "/v1/publications/{publication_id}/workbook.xlsx"): allow(PUBLICATIONS_READ),
        ("GET", "/v1/reports/preview.{fmt}"): allow(PUBLICATIONS_READ),
    },
)
