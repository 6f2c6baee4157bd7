"""The applicant's contact: free text from the source → what sampling may use, sealed.

The sealed JSON is the one agreed with sampling (all values strings, empty keys
omitted): ``phone`` (the first valid mobile, national 10-digit form), ``phone_alternates``
(the other valid mobiles, comma-separated), ``email``, ``zalo_id`` and ``name`` (ChuHoSo,
only alongside a usable contact). Landlines never go in ``phone``: they cannot receive
SMS or Zalo. Channels: a mobile opens sms + zalo, an e-mail opens email, a Zalo id zalo.
Unusable parts are warnings (the dossier still counts in the population), and no warning
ever repeats the value itself.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.networks import validate_email

from sipas_contracts.events import ContactChannel
from sipas_intake.domain.errors import Problem, problem
from sipas_intake.domain.phones import PhoneNumbers, parse_phones

_ZALO_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
CHANNEL_ORDER: tuple[ContactChannel, ...] = ("sms", "zalo", "email")


class Contact(BaseModel):
    """Applicant contact as the source knows it (free text); sealed before it leaves intake."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str | None = Field(default=None, max_length=200, description="Free text (SoDienThoai)")
    email: str | None = Field(default=None, max_length=320)
    zalo_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=300, description="ChuHoSo, for templates")

    @field_validator("name", mode="before")
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


def _email(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return validate_email(value)[1].lower()
    except ValueError:  # PydanticCustomError
        return None


def read_contact(contact: Contact) -> UsableContact:
    """Usable contact parts (the sealed JSON agreed with sampling), channels and warnings."""
    result = UsableContact(phones=parse_phones(contact.phone))
    _read_phone(contact, result)
    email = _email(contact.email)
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
    if contact.name and result.plain:
        result.plain["name"] = contact.name
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
