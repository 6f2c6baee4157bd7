"""Roles and what they permit: the one vocabulary of authorisation in SIPAS Live.

A *permission* names one kind of action (``cases.work``); a *role* is a named set of
permissions given to a person or a machine, together with the units it applies to (see
``principal``). Every service's route table (``gate``) asks for permissions, never for
roles, so a role can change without touching a service. ``docs/identity.md`` shows this
table, generated from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sipas_runtime.i18n import _

# -- permissions, by the service that checks them -----------------------------------------------
DOSSIERS_SUBMIT = "dossiers.submit"
DOSSIERS_READ = "dossiers.read"
IMPORTS_RUN = "imports.run"
KIOSKS_MANAGE = "kiosks.manage"
INTERVIEWS_RECORD = "interviews.record"
CAMPAIGNS_READ = "campaigns.read"
CAMPAIGNS_MANAGE = "campaigns.manage"
DRAWS_VERIFY = "draws.verify"
LISTS_READ = "lists.read"
SUBSTITUTIONS_RECORD = "substitutions.record"
OPTOUTS_RECORD = "optouts.record"
INDICES_READ = "indices.read"
PROFILES_MANAGE = "profiles.manage"
PUBLICATIONS_READ = "publications.read"
PUBLICATIONS_DRAFT = "publications.draft"
PUBLICATIONS_APPROVE = "publications.approve"
CASES_READ = "cases.read"
CASES_WORK = "cases.work"
CASES_SUPERVISE = "cases.supervise"
CONTACTS_REVEAL = "contacts.reveal"
ALERTS_HOOK = "alerts.hook"
PEOPLE_MANAGE = "people.manage"
KEYS_MANAGE = "keys.manage"
AUDIT_READ = "audit.read"

PERMISSIONS: Mapping[str, str] = {
    DOSSIERS_SUBMIT: _("Send completed dossiers (TTHC feed, imports)"),
    DOSSIERS_READ: _("See what intake knows of a dossier"),
    IMPORTS_RUN: _("Import paper forms"),
    KIOSKS_MANAGE: _("Register and revoke counter tablets"),
    INTERVIEWS_RECORD: _("Record interviews as an enumerator"),
    CAMPAIGNS_READ: _("See campaigns, allocation and progress"),
    CAMPAIGNS_MANAGE: _("Create, draw and close campaigns"),
    DRAWS_VERIFY: _("Verify draws and read the decision log"),
    LISTS_READ: _("Read call lists with contacts"),
    SUBSTITUTIONS_RECORD: _("Record refusals and substitute from the reserve"),
    OPTOUTS_RECORD: _("Register opt-outs"),
    INDICES_READ: _("Read live indices, the funnel and exports"),
    PROFILES_MANAGE: _("Set a campaign's scoring profile"),
    PUBLICATIONS_READ: _("See publications and draft reports"),
    PUBLICATIONS_DRAFT: _("Draft and withdraw publications"),
    PUBLICATIONS_APPROVE: _("Approve and publish publications"),
    CASES_READ: _("See cases and alerts"),
    CASES_WORK: _("Work cases: acknowledge, start, resolve, dismiss, note"),
    CASES_SUPERVISE: _("Close and reopen cases"),
    CONTACTS_REVEAL: _("Reveal call-back contacts of respondents"),
    ALERTS_HOOK: _("Send Alertmanager notifications"),
    PEOPLE_MANAGE: _("Manage people, roles and unit scopes"),
    KEYS_MANAGE: _("Create and revoke machine keys"),
    AUDIT_READ: _("Read and export the audit log"),
}


@dataclass(frozen=True)
class Role:
    """A named set of permissions, for people or for machines."""

    name: str
    label: str
    permissions: frozenset[str]
    machine: bool = False


def _role(name: str, label: str, *permissions: str, machine: bool = False) -> Role:
    unknown = set(permissions) - set(PERMISSIONS)
    if unknown:
        msg = f"role {name!r} names unknown permissions {sorted(unknown)}"
        raise ValueError(msg)
    return Role(name, label, frozenset(permissions), machine)


_READ_ONLY = (CAMPAIGNS_READ, INDICES_READ, PUBLICATIONS_READ)
# Call-back contacts are opened only by the handler of the respondent's unit; enumerators
# record their own interviews; the hook is Alertmanager's. Everything else: the supervisor.
_NOT_SUPERVISION = {CONTACTS_REVEAL, INTERVIEWS_RECORD, ALERTS_HOOK}
ROLES: Mapping[str, Role] = {
    role.name: role
    for role in (
        _role("supervisor", _("Supervisor (Sở Nội vụ)"), *(set(PERMISSIONS) - _NOT_SUPERVISION)),
        _role(
            "operator",
            _("Campaign operator"),
            *_READ_ONLY,
            DOSSIERS_SUBMIT,
            DOSSIERS_READ,
            IMPORTS_RUN,
            KIOSKS_MANAGE,
            CAMPAIGNS_MANAGE,
            DRAWS_VERIFY,
            LISTS_READ,
            SUBSTITUTIONS_RECORD,
            OPTOUTS_RECORD,
            PROFILES_MANAGE,
            PUBLICATIONS_DRAFT,
            CASES_READ,
        ),
        _role("approver", _("Publication approver"), *_READ_ONLY, PUBLICATIONS_APPROVE),
        _role("handler", _("Unit handler"), *_READ_ONLY, CASES_READ, CASES_WORK, CONTACTS_REVEAL),
        _role("observer", _("Observer (MTTQ, auditors)"), *_READ_ONLY, DRAWS_VERIFY, CASES_READ),
        _role(
            "enumerator",
            _("Enumerator"),
            CAMPAIGNS_READ,
            LISTS_READ,
            SUBSTITUTIONS_RECORD,
            INTERVIEWS_RECORD,
        ),
        _role("viewer", _("Viewer"), *_READ_ONLY),
        _role("tthc-feed", _("TTHC system feed"), DOSSIERS_SUBMIT, DOSSIERS_READ, machine=True),
        _role("reader", _("Downstream reader"), INDICES_READ, PUBLICATIONS_READ, machine=True),
        _role("alertmanager", _("Alertmanager hook"), ALERTS_HOOK, machine=True),
    )
}
PEOPLE_ROLES = tuple(name for name, role in ROLES.items() if not role.machine)
MACHINE_ROLES = tuple(name for name, role in ROLES.items() if role.machine)


def permissions_of(roles: Iterable[str]) -> frozenset[str]:
    """Everything the given roles permit together (unknown role names permit nothing)."""
    found: set[str] = set()
    for name in roles:
        role = ROLES.get(name)
        if role is not None:
            found |= role.permissions
    return frozenset(found)


def holders_of(permission: str) -> tuple[str, ...]:
    """The roles that carry ``permission``."""
    return tuple(name for name, role in ROLES.items() if permission in role.permissions)
