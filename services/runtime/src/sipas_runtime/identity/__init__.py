"""Identity: who may call what, in every service, the same way.

- ``roles``: permissions and the roles that carry them (people and machines);
- ``principal``: the authenticated caller and its unit scope;
- ``tokens``: short-lived Ed25519-signed tokens the console issues;
- ``keys``: machine keys (prefixed, shown once, stored hashed, with expiry);
- ``directory`` / ``bucket``: the signing keys and key records every instance watches;
- ``gate``: the one FastAPI dependency and the per-service route tables.

docs/identity.md describes the design and holds the generated permission tables.
"""

from sipas_runtime.identity.gate import PUBLIC, Caller, RouteTable, Rule, allow, authorize
from sipas_runtime.identity.principal import OutOfScopeError, Principal, UnitScope

__all__ = [
    "PUBLIC",
    "Caller",
    "OutOfScopeError",
    "Principal",
    "RouteTable",
    "Rule",
    "UnitScope",
    "allow",
    "authorize",
]
