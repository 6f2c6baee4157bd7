"""Vietnamese mobile numbers in the forms gateways want (integration-formats §4).

Intake normalises what the TTHC system typed into the national form ``0xxxxxxxxx``;
ZNS, VNPT, Viettel and SpeedSMS want the msisdn ``84xxxxxxxxx``, eSMS the national form.
"""

from __future__ import annotations

import re

_MOBILE = re.compile(r"^0[35789]\d{8}$")


class PhoneError(ValueError):
    """Raised when a number is not a Vietnamese mobile number."""


def national(number: str) -> str:
    """``0xxxxxxxxx`` from the national, ``84…`` or ``+84…`` form."""
    digits = re.sub(r"\D", "", number)
    if digits.startswith("84") and len(digits) == 11:  # noqa: PLR2004 - 84 + 9 digits
        digits = "0" + digits[2:]
    if not _MOBILE.match(digits):
        raise PhoneError(f"{number[:4]}… is not a Vietnamese mobile number")
    return digits


def msisdn(number: str) -> str:
    """``84xxxxxxxxx`` (international form without ``+``)."""
    return "84" + national(number)[1:]
