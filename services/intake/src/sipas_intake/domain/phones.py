"""Vietnamese phone numbers as typed at a one-stop counter → usable mobile numbers.

Follows integration-formats.md §4.4: split a free-text field into candidates, then parse
and classify each with ``phonenumbers`` (Google's libphonenumber metadata, which follows the
national numbering plan as operators and MVNOs get new ranges): the international prefixes
(``+84``, ``84``, ``0084``) and the leading zero Excel drops are understood there. The
library does not know the 11-digit mobile numbers retired in 2018 (``0166…`` → ``036…``):
that table is kept here and applied only to a number the library cannot validate as is.
A number typed in its national form (``0`` + 9 or 10 digits, nearly every record) is typed
from the library's metadata without parsing (:class:`NumberingPlan`, ~1.5 µs instead of
~25 µs); any other spelling is parsed by the library.
Landlines (``02…``) cannot receive SMS or Zalo and are never returned as a mobile. The
national form ``0xxxxxxxxx`` is the canonical one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import (
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberDesc,
    PhoneNumberFormat,
    PhoneNumberType,
)

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

_KINDS: dict[int, PhoneKind] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.TOLL_FREE: "service",
    PhoneNumberType.PREMIUM_RATE: "service",
    PhoneNumberType.SHARED_COST: "service",
    PhoneNumberType.UAN: "service",
}
_ZERO_PREFIXED = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE})
_VIETNAM = 84
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


def _parse(text: str) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return None


def _renumbered_2018(number: PhoneNumber) -> PhoneNumber | None:
    """The current number of a retired 11-digit mobile (national significant 1xxxxxxxxx)."""
    significant = phonenumbers.national_significant_number(number)
    new = CONVERSION_2018.get("0" + significant[:3])
    return _parse("0" + new[1:] + significant[3:]) if new else None


class NumberingPlan:
    """A region's numbering plan as ``phonenumbers`` holds it, asked without parsing.

    The library types a national significant number by trying, in a fixed order, each
    type's possible lengths and pattern (``_number_type_helper``); this asks the same
    questions of the same metadata, read once, in the same order. The library stays the
    source of truth: a hypothesis test checks that both answer alike.
    """

    _ORDER = (
        ("premium_rate", PhoneNumberType.PREMIUM_RATE),
        ("toll_free", PhoneNumberType.TOLL_FREE),
        ("shared_cost", PhoneNumberType.SHARED_COST),
        ("voip", PhoneNumberType.VOIP),
        ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
        ("pager", PhoneNumberType.PAGER),
        ("uan", PhoneNumberType.UAN),
        ("voicemail", PhoneNumberType.VOICEMAIL),
    )

    def __init__(self, metadata: PhoneMetadata) -> None:
        self._general = _matcher(metadata.general_desc)
        self._special = [
            (m, kind) for name, kind in self._ORDER if (m := _matcher(getattr(metadata, name)))
        ]
        self._fixed = _matcher(metadata.fixed_line)
        self._mobile = _matcher(metadata.mobile)
        self._same = bool(metadata.same_mobile_and_fixed_line_pattern)

    @classmethod
    def of(cls, region: str) -> NumberingPlan:
        """The plan of ``region`` (an ISO code the library knows)."""
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            msg = f"phonenumbers holds no metadata for {region}"
            raise LookupError(msg)
        return cls(metadata)

    def number_type(self, significant: str) -> int:
        """What ``phonenumbers.number_type`` answers for this national significant number."""
        if self._general is None or not self._general(significant):
            return PhoneNumberType.UNKNOWN
        for matches, kind in self._special:
            if matches(significant):
                return kind
        if self._fixed is not None and self._fixed(significant):
            mobile_too = self._same or (self._mobile is not None and self._mobile(significant))
            return (
                PhoneNumberType.FIXED_LINE_OR_MOBILE if mobile_too else PhoneNumberType.FIXED_LINE
            )
        if not self._same and self._mobile is not None and self._mobile(significant):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN


def _matcher(desc: PhoneNumberDesc | None) -> Callable[[str], bool] | None:
    """Whether a significant number has one of ``desc``'s lengths and matches its pattern."""
    if desc is None or not desc.national_number_pattern:
        return None
    pattern = re.compile(desc.national_number_pattern)
    lengths = frozenset(desc.possible_length or ())
    if not lengths:
        return lambda number: pattern.fullmatch(number) is not None
    return lambda number: len(number) in lengths and pattern.fullmatch(number) is not None


_PLAN = NumberingPlan.of("VN")
# 0 + 9 or 10 ASCII digits, the second not 0 (00 is the international prefix): the library
# parses this as national prefix + significant number, nothing else (see read_national).
_NATIONAL_FORM = re.compile(r"0[1-9][0-9]{8,9}")


def read_national(candidate: str) -> tuple[str, PhoneKind] | None:
    """A mobile or landline written as the plan writes it nationally, answered from the plan.

    None for anything else (another form, another type): :func:`_read` asks the library.
    """
    if not _NATIONAL_FORM.fullmatch(candidate):
        return None
    kind = _PLAN.number_type(candidate[1:])
    return (candidate, _KINDS[kind]) if kind in _ZERO_PREFIXED else None


def _read(candidate: str) -> tuple[str, PhoneKind] | None:
    """National form and kind of one candidate, or None when it holds no digit at all.

    A Vietnamese number is parsed once and its type looked up once (the numbering plan's
    patterns are the costly part). The plan writes mobiles and landlines nationally as
    ``0`` + the significant number; anything else is formatted by the library and
    classified again from that text.
    """
    known = read_national(candidate)
    if known is not None:
        return known
    return read_with_library(candidate)


def read_with_library(candidate: str) -> tuple[str, PhoneKind] | None:
    """:func:`_read` answered by ``phonenumbers`` alone (the reference for the fast path)."""
    digits = "".join(ch for ch in candidate if ch.isascii() and ch.isdigit())
    if not digits:
        return None
    number = _parse(candidate) or _parse(digits)
    if number is None or number.country_code != _VIETNAM:
        return digits, classify(digits)
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        renumbered = _renumbered_2018(number)
        if renumbered is not None:
            number, kind = renumbered, phonenumbers.number_type(renumbered)
    if kind in _ZERO_PREFIXED and not number.extension:
        return "0" + phonenumbers.national_significant_number(number), _KINDS[kind]
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    national = "".join(ch for ch in national if ch.isdigit())
    return national, classify(national)


def normalise(candidate: str) -> str | None:
    """National form ``0…`` of one candidate, or None when it holds no digit at all."""
    read = _read(candidate)
    return read[0] if read else None


def classify(national: str) -> PhoneKind:
    """Mobile, landline, service number (1800/1900) or invalid."""
    number = _parse(national) if national.isdigit() else None
    if number is None or not phonenumbers.is_valid_number_for_region(number, "VN"):
        return "invalid"
    # "84810000000" parses as +84 810 000 000, a valid mobile, but is not its national form:
    # kept as it is, msisdn() would make it another number.
    written = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    if "".join(ch for ch in written if ch.isdigit()) != national:
        return "invalid"
    return _KINDS.get(phonenumbers.number_type(number), "invalid")


def parse_phones(text: str | None) -> PhoneNumbers:
    """Every number in a free-text field: mobiles first-come, landlines, unusable count."""
    mobiles: list[str] = []
    landlines: list[str] = []
    unusable = 0
    for candidate in split_candidates(text or ""):
        national, kind = _read(candidate) or ("", "invalid")
        if kind == "mobile" and national not in mobiles:
            mobiles.append(national)
        elif kind == "landline" and national not in landlines:
            landlines.append(national)
        elif kind in {"invalid", "service"}:
            unusable += 1
    return PhoneNumbers(tuple(mobiles), tuple(landlines), unusable)


def msisdn(national: str) -> str:
    """International form without ``+`` (``84…``), used by ZNS and carrier gateways."""
    return "84" + national[1:]
