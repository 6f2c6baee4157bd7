"""Vietnamese phone numbers as typed at a one-stop counter → usable mobile numbers.

Follows integration-formats.md §4.4: split a free-text field into candidates, keep the
digits, strip the international prefix (``+84``, ``84``, ``0084``), restore a leading zero
lost by Excel, convert the 11-digit mobile numbers retired in 2018 (``0166…`` → ``036…``),
then classify. Mobiles are validated leniently (``0[35789]`` + 8 digits) because MVNO
ranges keep changing; landlines (``02…``, 11 digits) cannot receive SMS or Zalo and are
never returned as a mobile. The national form ``0xxxxxxxxx`` is the canonical one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PhoneKind = Literal["mobile", "landline", "service", "invalid"]

CONVERSION_2018: dict[str, str] = {
    # Viettel
    "0162": "032", "0163": "033", "0164": "034", "0165": "035",
    "0166": "036", "0167": "037", "0168": "038", "0169": "039",
    # MobiFone
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    # VinaPhone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    # Vietnamobile, Gmobile
    "0186": "056", "0188": "058", "0199": "059",
}  # fmt: skip
"""Old 11-digit mobile prefix → new 3-digit prefix (MIC plan, Sep–Nov 2018)."""

_MOBILE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE = re.compile(r"^02\d{9}$")
_SERVICE = re.compile(r"^1[89]00\d{4,6}$")
_STRONG_SEPARATORS = re.compile(r"[/,;|\n]|\s+(?:hoặc|hoac|or|và|va)\s+", re.IGNORECASE)
_DASH_BEFORE_NUMBER = re.compile(r"-(?=\s*[0+])")
_NATIONAL_DIGITS = 9
_MAX_INPUT = 200
_MAX_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class PhoneNumbers:
    """What a free-text phone field holds, in national form."""

    mobiles: tuple[str, ...] = ()
    landlines: tuple[str, ...] = ()
    unusable: int = 0

    @property
    def primary(self) -> str | None:
        """The first valid mobile number, the one invitations go to."""
        return self.mobiles[0] if self.mobiles else None

    @property
    def alternates(self) -> tuple[str, ...]:
        """The other valid mobile numbers."""
        return self.mobiles[1:]


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def split_candidates(text: str) -> list[str]:
    """Split a free-text field on separators (``/ , ; |``, ``hoặc``, ``-`` between numbers)."""
    pieces: list[str] = []
    for piece in _STRONG_SEPARATORS.split(text[:_MAX_INPUT]):
        parts = _DASH_BEFORE_NUMBER.split(piece)
        # "0912-045-678" is one number; "0912345678 - 0987654321" is two.
        if len(parts) > 1 and all(_digit_count(p) >= _NATIONAL_DIGITS for p in parts):
            pieces.extend(parts)
        else:
            pieces.append(piece)
    return [p.strip() for p in pieces if p.strip()][:_MAX_CANDIDATES]


def normalise(candidate: str) -> str | None:
    """National form ``0…`` of one candidate, or None when it holds no plausible number."""
    digits = "".join(ch for ch in candidate if ch.isascii() and ch.isdigit())
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) in {11, 12}:
        digits = "0" + digits[2:]
    if len(digits) == _NATIONAL_DIGITS and digits[0] in "35789":
        digits = "0" + digits  # the leading zero Excel dropped
    if len(digits) == 10 and digits.startswith("1") and not _SERVICE.match(digits):  # noqa: PLR2004
        digits = "0" + digits
    if len(digits) == 11 and digits[:4] in CONVERSION_2018:  # noqa: PLR2004
        digits = CONVERSION_2018[digits[:4]] + digits[4:]
    return digits or None


def classify(national: str) -> PhoneKind:
    """Mobile, landline, service number (1800/1900) or invalid."""
    if _MOBILE.match(national):
        return "mobile"
    if _LANDLINE.match(national):
        return "landline"
    if _SERVICE.match(national):
        return "service"
    return "invalid"


def parse_phones(text: str | None) -> PhoneNumbers:
    """Every number in a free-text field: mobiles first-come, landlines, unusable count."""
    mobiles: list[str] = []
    landlines: list[str] = []
    unusable = 0
    for candidate in split_candidates(text or ""):
        national = normalise(candidate)
        kind = classify(national) if national else "invalid"
        if kind == "mobile" and national not in mobiles:
            mobiles.append(str(national))
        elif kind == "landline" and national not in landlines:
            landlines.append(str(national))
        elif kind in {"invalid", "service"}:
            unusable += 1
    return PhoneNumbers(tuple(mobiles), tuple(landlines), unusable)


def msisdn(national: str) -> str:
    """International form without ``+`` (``84…``), used by ZNS and carrier gateways."""
    return "84" + national[1:]
