"""A person's account and the store of accounts (the console's ``people`` collection).

Usernames are kept lower-case and unique; a person signed in through the province's
identity provider is found by (issuer, subject). Roles and units are what tokens carry.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from sipas_console.people.signin import Lockout
from sipas_runtime.identity import Principal
from sipas_runtime.identity.roles import PEOPLE_ROLES
from sipas_runtime.mongo import Document

PEOPLE = "people"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class AccountError(ValueError):
    """Raised when an account cannot be created or changed (the message says why)."""


class Person(BaseModel):
    """A person who may sign in to the console."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    username: str
    name: str = Field(min_length=1, max_length=120)
    email: str | None = Field(default=None, max_length=200)
    roles: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    password: str | None = Field(default=None, repr=False)
    totp_secret: str | None = Field(default=None, repr=False)
    totp_pending: str | None = Field(default=None, repr=False)
    totp_step: int | None = None
    oidc_issuer: str | None = None
    oidc_subject: str | None = None
    active: bool = True
    failures: int = 0
    locks: int = 0
    locked_until: AwareDatetime | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        value = value.strip().lower()
        if not USERNAME.match(value):
            raise ValueError("2-64 lower-case letters, digits, dots, dashes, @ or _")
        return value

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(PEOPLE_ROLES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        return tuple(sorted(set(value)))

    @property
    def lockout(self) -> Lockout:
        """Failed sign-ins and the current lock."""
        return Lockout(self.failures, self.locks, self.locked_until)

    @property
    def second_factor(self) -> bool:
        """Whether sign-in asks for a TOTP code after the password."""
        return self.totp_secret is not None

    def principal(self) -> Principal:
        """The person as tokens carry them."""
        return Principal(
            subject=self.id,
            name=self.name,
            kind="person",
            roles=frozenset(self.roles),
            units=frozenset(self.units),
        )


def _document(person: Person) -> Document:
    doc = person.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    return doc


def _person(doc: Document | None) -> Person | None:
    if doc is None:
        return None
    return Person.model_validate({**doc, "id": doc["_id"]})


class AccountStore:
    """People in the console's database."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._people = db[PEOPLE]

    async def create_indexes(self) -> None:
        """Unique usernames and identity-provider subjects."""
        await self._people.create_index([("username", ASCENDING)], unique=True)
        await self._people.create_index(
            [("oidc_issuer", ASCENDING), ("oidc_subject", ASCENDING)],
            unique=True,
            partialFilterExpression={"oidc_subject": {"$type": "string"}},
        )

    async def add(self, person: Person) -> Person:
        """Store a new person (AccountError when the username or id is taken)."""
        try:
            await self._people.insert_one(_document(person))
        except DuplicateKeyError as exc:
            raise AccountError(f"the username {person.username!r} is taken") from exc
        return person

    async def get(self, person_id: str) -> Person | None:
        """A person by id."""
        return _person(await self._people.find_one({"_id": person_id}))

    async def by_username(self, username: str) -> Person | None:
        """A person by username (any case)."""
        return _person(await self._people.find_one({"username": username.strip().lower()}))

    async def by_identity_provider(self, issuer: str, subject: str) -> Person | None:
        """A person linked to an account of the province's identity provider."""
        found = await self._people.find_one({"oidc_issuer": issuer, "oidc_subject": subject})
        return _person(found)

    async def everyone(self) -> list[Person]:
        """Every person, by name."""
        cursor = self._people.find({}).sort("name", ASCENDING)
        return [p for p in [_person(d) async for d in cursor] if p is not None]

    async def count_active(self, role: str) -> int:
        """Active people holding ``role``."""
        return await self._people.count_documents({"roles": role, "active": True})

    async def change(self, person_id: str, **fields: object) -> Person | None:
        """Set ``fields`` of a person; the person as stored afterwards."""
        updates = {**fields, "updated_at": datetime.now(UTC)}
        doc = await self._people.find_one_and_update(
            {"_id": person_id}, {"$set": updates}, return_document=ReturnDocument.AFTER
        )
        return _person(doc)

    async def record_lockout(self, person_id: str, lockout: Lockout) -> None:
        """Store the failure count and lock after a sign-in attempt."""
        await self._people.update_one(
            {"_id": person_id},
            {
                "$set": {
                    "failures": lockout.failures,
                    "locks": lockout.locks,
                    "locked_until": lockout.locked_until,
                }
            },
        )

    async def use_totp_step(self, person_id: str, step: int) -> bool:
        """Remember a used TOTP step; False when that step (or a later one) was used already."""
        result = await self._people.update_one(
            {"_id": person_id, "$or": [{"totp_step": None}, {"totp_step": {"$lt": step}}]},
            {"$set": {"totp_step": step}},
        )
        return result.modified_count == 1
