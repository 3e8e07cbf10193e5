"""Who is calling an HTTP route: the claims API Gateway's JWT authorizer verified, read the one way.

    from shared.auth import customer_id, require_staff

    @app.post("/orders")
    def place_order(...):
        customer = customer_id(app.current_event.raw_event)  # the token's `sub`, never the body

    @app.put("/inventory/<sku>")
    def put_stock(...):
        require_staff(app.current_event.raw_event)           # 403 problem unless group staff

On AWS the region's JWT authorizer (infra/modules/region/http_api.tf; locally the gateway) has
checked the token's signature, issuer, audience/client_id, expiry and the route's scopes before the
function runs, and hands the claims over in `requestContext.authorizer.jwt`. It never checks groups:
that is `require_staff`. As API Gateway delivers them every claim is a string: numbers as digits,
arrays as `"[staff admins]"` (brackets, space separated); `scopes` is the token's scopes on a route
that requires scopes, else null.

Refusals are problems (shared.problems): 401 when the event carries no verified token (only a route
declared public in its manifest can get there: a wiring mistake, not a client's), 403 when the token
is not a user's (`customer_id` on a client-credentials token) or not staff's (`require_staff`).
Standard library only at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.problems import Problem

# Mirrored in infra/modules/region/cognito.tf and scripts/devtools/manifest.py (shared/tests checks).
STAFF_GROUP = "staff"
STAFF_SCOPE = "eda/staff"
TOKEN_USES = ("id", "access")  # what Cognito signs as JWTs (its refresh tokens are opaque)
FORBIDDEN = "forbidden"
UNAUTHENTICATED = "unauthenticated"


@dataclass(frozen=True)
class Caller:
    """The verified token of a request. `sub` is the user's id in the pool (stable, never reused);
    for a client-credentials token it is the app client's id and `username` is None."""

    sub: str
    token_use: str
    client_id: str
    username: str | None = None
    groups: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_user(self) -> bool:
        return self.username is not None

    @property
    def is_staff(self) -> bool:
        """Group `staff` (a person), or scope eda/staff (an operations tool's client credentials)."""
        return STAFF_GROUP in self.groups or STAFF_SCOPE in self.scopes


def claim_list(value: Any) -> list[str]:
    """An array claim as API Gateway passes it ("[a b]"), or a real list (e.g. a decoded token)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text.replace(",", " ").split()


def _raw(event: Any) -> Mapping[str, Any]:
    raw = getattr(event, "raw_event", event)  # a Powertools event data class, or the dict
    return raw if isinstance(raw, Mapping) else {}


def caller(event: Any) -> Caller:
    """The verified caller of an HTTP API (payload 2.0) event; a 401 problem without one."""
    authorizer = (_raw(event).get("requestContext") or {}).get("authorizer") or {}
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = (jwt or {}).get("claims") if isinstance(jwt, Mapping) else None
    if not isinstance(claims, Mapping) or not claims.get("sub"):
        raise Problem(401, "this route needs a signed-in caller", kind=UNAUTHENTICATED, title="Unauthenticated")
    token_use = str(claims.get("token_use", ""))
    if token_use not in TOKEN_USES:
        raise Problem(401, "the token is not an ID or access token", kind=UNAUTHENTICATED, title="Unauthenticated")
    scopes = jwt.get("scopes") if isinstance(jwt, Mapping) else None
    username = claims.get("username") if token_use == "access" else claims.get("cognito:username")
    return Caller(
        sub=str(claims["sub"]),
        token_use=token_use,
        client_id=str(claims.get("client_id") or claims.get("aud") or ""),
        username=str(username) if username else None,
        groups=frozenset(claim_list(claims.get("cognito:groups"))),
        scopes=frozenset(claim_list(scopes) if scopes is not None else str(claims.get("scope", "")).split()),
        claims=dict(claims),
    )


def customer_id(event: Any) -> str:
    """The calling user's id (the token's `sub`): the owner of what the request creates or reads.
    A token without a user (an operations client's) is a 403."""
    who = caller(event)
    if not who.is_user:
        raise Problem(403, "this route is for signed-in customers", kind=FORBIDDEN, title="Forbidden")
    return who.sub


def require_staff(event: Any) -> Caller:
    """The caller, if staff (group `staff`, or the eda/staff scope); else a 403 problem."""
    who = caller(event)
    if not who.is_staff:
        raise Problem(403, "this route is for staff", kind=FORBIDDEN, title="Forbidden")
    return who
