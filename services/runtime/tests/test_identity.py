"""The identity model's pure parts: roles, scopes, tokens, machine keys, the directory."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi import APIRouter, FastAPI

from sipas_contracts.units import load_sample_hierarchy
from sipas_runtime.identity.directory import Directory
from sipas_runtime.identity.gate import PUBLIC, RouteTable, allow
from sipas_runtime.identity.keys import check, key_id_of, new_key
from sipas_runtime.identity.principal import OutOfScopeError, Principal
from sipas_runtime.identity.roles import (
    CONTACTS_REVEAL,
    MACHINE_ROLES,
    PEOPLE_ROLES,
    PERMISSIONS,
    ROLES,
    holders_of,
    permissions_of,
)
from sipas_runtime.identity.tokens import InvalidCredentialError, SigningKey, issue, key_set, verify

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
HIERARCHY = load_sample_hierarchy()


def person(*roles: str, units: tuple[str, ...] = ("ht",)) -> Principal:
    return Principal("p-1", "Trần Thị Bình", "person", frozenset(roles), frozenset(units))


def test_every_permission_is_held_by_some_role_and_every_role_grants_something():
    assert {p for role in ROLES.values() for p in role.permissions} == set(PERMISSIONS)
    assert all(role.permissions for role in ROLES.values())
    assert set(PEOPLE_ROLES) | set(MACHINE_ROLES) == set(ROLES)


def test_only_a_units_handler_may_reveal_call_back_contacts():
    assert holders_of(CONTACTS_REVEAL) == ("handler",)
    assert "contacts.reveal" not in permissions_of(["supervisor", "observer", "operator"])


def test_roles_add_up_and_unknown_roles_grant_nothing():
    assert permissions_of(["viewer", "approver"]) == (
        ROLES["viewer"].permissions | ROLES["approver"].permissions
    )
    assert permissions_of(["root", "admin"]) == frozenset()


def test_a_commune_handler_covers_the_commune_only_and_the_province_covers_all():
    handler = person("handler", units=("ht-nx-co-dam",)).scope(HIERARCHY, date(2026, 1, 1))
    province = person("supervisor").scope(HIERARCHY, date(2026, 1, 1))

    assert handler.covers("ht-nx-co-dam")
    assert not handler.covers("ht-nx-xuan-hoi")
    assert not handler.covers("ht")
    assert province.covers("ht-nx-xuan-hoi")
    assert not province.covers("hn-somewhere")  # a unit the hierarchy does not know
    with pytest.raises(OutOfScopeError):
        handler.check("ht-nx-xuan-hoi")


def test_a_district_scope_follows_the_hierarchy_of_the_day():
    before = person("handler", units=("ht-nx",)).scope(HIERARCHY, date(2024, 1, 1))
    after = person("handler", units=("ht-nx",)).scope(HIERARCHY, date(2026, 1, 1))

    assert before.covers("ht-nx-co-dam")  # the district existed then
    assert not after.covers("ht-nx-co-dam")  # districts ended in 2025


def test_narrowing_a_query_keeps_it_inside_the_scope():
    scope = person("handler", units=("ht-nx-co-dam",)).scope(HIERARCHY, date(2026, 1, 1))

    assert scope.narrow(None) == frozenset({"ht-nx-co-dam"})
    assert scope.narrow("ht-nx-co-dam") == frozenset({"ht-nx-co-dam"})
    with pytest.raises(OutOfScopeError):
        scope.narrow("ht")


def test_a_token_carries_the_person_and_verifies_with_the_published_key():
    key = SigningKey.generate()
    handler = person("handler", units=("ht-nx-co-dam",))

    token = issue(handler, key, now=NOW)
    back = verify(token, key_set([key.public_jwk()]), now=NOW + timedelta(minutes=9))

    assert back == handler
    assert back.permissions == ROLES["handler"].permissions
    assert "d" not in key.public_jwk()  # the private half is never published


@pytest.mark.parametrize(
    ("when", "published"),
    [
        (NOW + timedelta(minutes=11), "signer"),  # expired (10 min + 30 s leeway)
        (NOW - timedelta(minutes=2), "signer"),  # not yet valid
        (NOW, "other"),  # signed by a key nobody published
        (NOW, "none"),
    ],
)
def test_a_token_is_refused_outside_its_life_or_without_its_key(when, published):
    signer, other = SigningKey.generate(), SigningKey.generate()
    keys = {"signer": [signer.public_jwk()], "other": [other.public_jwk()], "none": []}
    token = issue(person("viewer"), signer, now=NOW)

    with pytest.raises(InvalidCredentialError):
        verify(token, key_set(keys[published]), now=when)


def test_a_tampered_token_is_refused():
    key = SigningKey.generate()
    header, payload, signature = issue(person("viewer"), key, now=NOW).split(".")
    forged = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")

    with pytest.raises(InvalidCredentialError):
        verify(f"{header}.{forged}.{signature}", key_set([key.public_jwk()]), now=NOW)


def test_a_machine_key_is_shown_once_and_only_its_hash_is_kept():
    key, record = new_key(name="Một cửa", roles=["tthc-feed"], created_by="snv", now=NOW)

    assert key.startswith("sipas_")
    assert key_id_of(key) == record.id
    assert key.rsplit("_", 1)[-1] not in record.model_dump_json()
    assert check(record, key, now=NOW).roles == frozenset({"tthc-feed"})
    assert check(record, key, now=NOW).kind == "machine"


def test_a_machine_key_stops_when_revoked_expired_or_altered():
    key, record = new_key(
        name="feed", roles=["tthc-feed"], created_by="snv", now=NOW, lifetime=timedelta(days=1)
    )
    altered = key[:-1] + ("A" if key[-1] != "A" else "B")

    for presented, rec, when in [
        (key, record.revoked(by="snv", now=NOW), NOW),
        (key, record, NOW + timedelta(days=1)),
        (altered, record, NOW),
        (key, None, NOW),
        ("sipas_short", record, NOW),
    ]:
        with pytest.raises(InvalidCredentialError):
            check(rec, presented, now=when)


def test_a_key_record_refuses_unknown_roles():
    with pytest.raises(ValueError, match="unknown roles"):
        new_key(name="x", roles=["root"], created_by="snv", now=NOW)


def test_the_directory_follows_puts_and_deletes_of_the_bucket():
    directory, signing = Directory(), SigningKey.generate()
    key, record = new_key(name="reader", roles=["reader"], created_by="snv", now=NOW)
    token = issue(person("viewer"), signing, now=datetime.now(UTC))

    directory.apply(f"signing.{signing.kid}", json.dumps(signing.public_jwk()).encode(), 1)
    directory.apply(f"key.{record.id}", record.model_dump_json().encode(), 2)

    assert directory.authenticate(token, now=datetime.now(UTC)).roles == {"viewer"}
    assert directory.authenticate(key, now=NOW).name == "reader"
    directory.apply(
        f"key.{record.id}", record.revoked(by="snv", now=NOW).model_dump_json().encode(), 3
    )
    directory.apply(f"signing.{signing.kid}", None, 4)
    with pytest.raises(InvalidCredentialError, match="revoked"):
        directory.authenticate(key, now=NOW)
    with pytest.raises(InvalidCredentialError):
        directory.authenticate(token, now=datetime.now(UTC))
    assert directory.revision == 4


def test_a_record_stored_under_another_id_or_unreadable_authenticates_nobody():
    directory = Directory()
    key, record = new_key(name="reader", roles=["reader"], created_by="snv", now=NOW)

    directory.apply("key.000000000000", record.model_dump_json().encode(), 1)
    directory.apply(f"key.{record.id}", b"{not json", 2)

    with pytest.raises(InvalidCredentialError):
        directory.authenticate(key, now=NOW)


def test_the_route_table_must_match_the_apps_routes_exactly():
    inner, outer = APIRouter(prefix="/things"), APIRouter(prefix="/v1")
    inner.add_api_route("", lambda: None, methods=["GET"])
    inner.add_api_route("/{thing}", lambda: None, methods=["POST"])
    outer.include_router(inner)  # nested: the route itself knows only "/things/{thing}"
    app = FastAPI()
    app.include_router(outer)
    complete = RouteTable(
        "t", {("GET", "/v1/things"): PUBLIC, ("post", "/v1/things/{thing}"): allow("x")}
    )

    complete.check_app(app)
    with pytest.raises(ValueError, match="without a rule"):
        RouteTable("t", {("GET", "/v1/things"): PUBLIC}).check_app(app)
    with pytest.raises(ValueError, match="without a route"):
        complete.merged({("DELETE", "/v1/things/{thing}"): PUBLIC}).check_app(app)
    with pytest.raises(ValueError, match="declared twice"):
        complete.merged({("GET", "/v1/things"): PUBLIC})
    assert complete.rule("HEAD", "/v1/things") == PUBLIC
