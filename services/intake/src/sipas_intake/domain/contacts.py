"""The applicant's contact: free text from the source → what sampling may use, sealed.

The sealed JSON is the one agreed with sampling (all values strings, empty keys
omitted): ``phone`` (the first valid mobile, national 10-digit form), ``phone_alternates``
(the other valid mobiles, comma-separated), ``email``, ``zalo_id``, ``address`` (DiaChi:
where an enumerator finds the person, door to door) and ``name`` (ChuHoSo, only alongside
one of the others). Landlines never go in ``phone``: they cannot receive SMS or Zalo.
Channels: a mobile opens sms + zalo, an e-mail opens email, a Zalo id zalo; an address
opens none (a visit needs no message), but it goes with the sealed contact.
Unusable parts are warnings (the dossier still counts in the population), and so is a
record with no usable contact at all; no warning ever repeats the value itself.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sipas_contracts.events import ContactChannel
from sipas_intake.domain.errors import Problem, problem
from sipas_intake.domain.phones import PhoneNumbers, parse_phones

_ZALO_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
CHANNEL_ORDER: tuple[ContactChannel, ...] = ("sms", "zalo", "email")
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\\\"<>(),:;\[\]]{1,64}@(?=.{4,253}$)"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}$"
)
_EMAIL_MAX = 320


class Contact(BaseModel):
    """Applicant contact as the source knows it (free text); sealed before it leaves intake."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str | None = Field(default=None, max_length=200, description="Free text (SoDienThoai)")
    email: str | None = Field(default=None, max_length=320)
    zalo_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=300, description="ChuHoSo, for templates")
    address: str | None = Field(
        default=None, max_length=500, description="DiaChi: the applicant's address, for visits"
    )

    @field_validator("name", "address", mode="before")
    @classmethod
    def _nfc(cls, value: object) -> object:
        return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


@dataclass
class UsableContact:
    """The usable parts of a contact, the channels they open and warnings."""

    plain: dict[str, str] = field(default_factory=dict)
    channels: list[ContactChannel] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    phones: PhoneNumbers = field(default_factory=PhoneNumbers)


def usable_email(value: str | None) -> str | None:
    """A lower-cased address a mail server can route (a syntax check, no DNS), or None.

    Deliberately lighter than full RFC 5322 validation (which costs ~250 µs per record):
    local part without spaces or ``@``, a domain of dot-separated labels, a top-level
    label of letters; internationalised domains pass in their Unicode form.
    """
    if not value or len(value) > _EMAIL_MAX:
        return None
    address = unicodedata.normalize("NFC", value.strip())
    return address.lower() if _EMAIL.match(address) else None


def read_contact(contact: Contact) -> UsableContact:
    """Usable contact parts (the sealed JSON agreed with sampling), channels and warnings."""
    result = UsableContact(phones=parse_phones(contact.phone))
    _read_phone(contact, result)
    email = usable_email(contact.email)
    if email:
        result.plain["email"] = email
        result.channels.append("email")
    elif contact.email:
        result.warnings.append(problem("contact.email", "not a valid e-mail address"))
    if contact.zalo_id and set(contact.zalo_id) <= _ZALO_ID_CHARS:
        result.plain["zalo_id"] = contact.zalo_id
        if "zalo" not in result.channels:
            result.channels.append("zalo")
    elif contact.zalo_id:
        result.warnings.append(problem("contact.zalo_id", "not a Zalo id"))
    if contact.address:
        result.plain["address"] = " ".join(contact.address.split())
    if contact.name and result.plain:
        result.plain["name"] = contact.name
    if not result.plain and not result.warnings:
        reason = "no mobile number, e-mail, Zalo id or address: the applicant cannot be invited"
        result.warnings.append(problem("contact", reason, "missing"))
    return result


def _read_phone(contact: Contact, result: UsableContact) -> None:
    phones = result.phones
    if phones.primary:
        result.plain["phone"] = phones.primary
        result.channels += ["sms", "zalo"]
        if phones.alternates:
            result.plain["phone_alternates"] = ",".join(phones.alternates)
    elif phones.landlines:
        reason = "only a landline: it cannot receive SMS or Zalo"
        result.warnings.append(problem("contact.phone", reason))
    elif contact.phone:
        result.warnings.append(problem("contact.phone", "no valid Vietnamese mobile number"))
