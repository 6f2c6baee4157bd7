"""Who may call each of intake's routes (enforced by the identity gate; the docs table too).

The survey form, the kiosk and respondents' answers are public: a single-use survey token
(or a paired kiosk's cookie) is what they carry, checked by the routes themselves.
"""

from sipas_runtime.identity import PUBLIC, RouteTable, allow
from sipas_runtime.identity.roles import (
    CAMPAIGNS_READ,
    DOSSIERS_READ,
    DOSSIERS_SUBMIT,
    IMPORTS_RUN,
    INTERVIEWS_RECORD,
    KIOSKS_MANAGE,
)

PERMISSIONS = RouteTable(
    "intake",
    {
        ("POST", "/v1/dossiers"): allow(DOSSIERS_SUBMIT),
        ("POST", "/v1/dossiers/batch"): allow(DOSSIERS_SUBMIT),
        ("GET", "/v1/dossiers/{dossier_id}"): allow(DOSSIERS_READ),
        ("POST", "/v1/responses"): PUBLIC,
        ("POST", "/v1/interviews"): allow(INTERVIEWS_RECORD),
        # Counts per unit and mode only (no answer, no identity) beside the enumerators' lists.
        ("GET", "/v1/fieldwork/{campaign_id}"): allow(CAMPAIGNS_READ),
        ("GET", "/v1/forms"): PUBLIC,
        ("GET", "/v1/forms/{instrument_id}"): PUBLIC,
        ("GET", "/v1/paper/template"): allow(IMPORTS_RUN),
        ("POST", "/v1/paper/import"): allow(IMPORTS_RUN),
        ("POST", "/v1/kiosks"): allow(KIOSKS_MANAGE),
        ("GET", "/v1/kiosks"): allow(KIOSKS_MANAGE),
        ("DELETE", "/v1/kiosks/{device_id}"): allow(KIOSKS_MANAGE),
        ("GET", "/s"): PUBLIC,
        ("POST", "/s"): PUBLIC,
        ("GET", "/s/done"): PUBLIC,
        ("GET", "/s/{token}"): PUBLIC,
        ("GET", "/k"): PUBLIC,
        ("POST", "/k"): PUBLIC,
        ("GET", "/k/done"): PUBLIC,
        ("GET", "/k/{key}"): PUBLIC,
        ("GET", "/k/offline"): PUBLIC,
        ("GET", "/k/manifest.webmanifest"): PUBLIC,
        ("GET", "/k/sw.js"): PUBLIC,
    },
)
