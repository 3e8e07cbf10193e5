"""The HTTP API's JWT authorizer, locally: what API Gateway checks before a route's function runs.

    authorizer = JwtAuthorizer(issuer, audience=[client ids], jwks_url=moto's JWKS of the pool)
    decision = authorizer.authorize(request_headers, route)   # route: devtools.manifest.RouteAccess
    decision.allowed -> decision.authorizer (requestContext.authorizer), else decision.status/headers/body

AWS's documented workflow (API Gateway developer guide, "Control access to HTTP APIs with JWT
authorizers"), in its order:
1. the identity source, `$request.header.Authorization`: the token alone or prefixed with `Bearer`;
2. decode the token;
3. its algorithm (RSA only) and signature, with the key named by `kid` from the issuer's JWKS
   (found through `<issuer>/.well-known/openid-configuration`; API Gateway caches keys up to 2 h);
4. the claims: `iss` equals the authorizer's issuer; `aud`, or `client_id` when there is no `aud`
   (Cognito ID tokens carry aud, access tokens client_id), is one of the audience entries; `exp`
   after now, `nbf` and `iat` before now (AWS documents no clock leeway: none here either); and,
   when the route declares authorization scopes, `scope`/`scp` holds at least one of them.
Any failure: 401 `{"message":"Unauthorized"}`; a missing scope: 403 `{"message":"Forbidden"}`.
API Gateway does not look at `token_use` (an ID token passes too): shared.auth checks it in the
function. On success the claims reach the function as `requestContext.authorizer.jwt`
(devtools.aws_events.jwt_authorizer: every value a string; `scopes` null unless the route has scopes).

`www-authenticate` on a refusal: AWS publishes one example, `Bearer scope="" error="invalid_token"
error_description="the token does not have a valid audience"`; the other descriptions here follow
its shape in our words. A request without a token gets `Bearer` alone and a missing scope
`error="insufficient_scope"` with the route's scopes (RFC 6750, section 3).

Locally the issuer is moto's (https://cognito-idp.<region>.amazonaws.com/<pool id>, the same form
as AWS's) and its JWKS is fetched from the moto server, which serves every pool's keys at
`/<pool id>/.well-known/jwks.json`. moto signs every pool's tokens with one key pair published in
moto's source: a local token is worthless anywhere else, and a deployed stack (another issuer and
Cognito's own keys) refuses it.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devtools.aws_events import jwt_authorizer

UNAUTHORIZED = (401, {"message": "Unauthorized"})
FORBIDDEN = (403, {"message": "Forbidden"})
JWKS_CACHE_SECONDS = 2 * 3600  # "API Gateway can cache the public keys for two hours"
_HASHES = {"RS256": "SHA256", "RS384": "SHA384", "RS512": "SHA512"}  # RSA only, as API Gateway


@dataclass(frozen=True)
class Decision:
    """What the authorizer decided for one request."""

    status: int  # 200 when allowed
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    scopes: list[str] | None = None
    reason: str = ""  # for the journal and tests, never sent

    @property
    def allowed(self) -> bool:
        return self.status == 200

    @property
    def authorizer(self) -> dict[str, Any]:
        """`requestContext.authorizer` as the function receives it."""
        return jwt_authorizer(self.claims, self.scopes)


def unauthorized(description: str | None = None) -> Decision:
    """API Gateway's 401: `Bearer` alone without a token, else the invalid_token challenge."""
    challenge = (
        "Bearer"
        if description is None
        else (f'Bearer scope="" error="invalid_token" error_description="{description}"')
    )
    status, body = UNAUTHORIZED
    return Decision(status, {"www-authenticate": challenge}, dict(body), reason=description or "no token")


def forbidden(scopes: Iterable[str]) -> Decision:
    """API Gateway's 403 for a token without any of the route's scopes."""
    wanted = " ".join(scopes)
    challenge = (
        f'Bearer scope="{wanted}" error="insufficient_scope" '
        f'error_description="the token does not have any of the route\'s scopes"'
    )
    status, body = FORBIDDEN
    return Decision(status, {"www-authenticate": challenge}, dict(body), reason=f"insufficient scope ({wanted})")


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: `scope` (space separated, as Cognito writes it) or `scp` (a list or a string)."""
    value = claims.get("scope", claims.get("scp"))
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value).split()


def check_scopes(route_scopes: Iterable[str], claims: Mapping[str, Any]) -> Decision | None:
    """None when the route declares no scopes or the token has one of them, else the 403."""
    wanted = list(route_scopes)
    if wanted and not set(wanted) & set(token_scopes(claims)):
        return forbidden(wanted)
    return None


def allowed(claims: Mapping[str, Any], route_scopes: Iterable[str]) -> Decision:
    """The authorizer's yes: the claims, and the token's scopes when the route requires scopes."""
    wanted = list(route_scopes)
    return Decision(200, claims=dict(claims), scopes=token_scopes(claims) if wanted else None)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


class JwtAuthorizer:
    """One HTTP API JWT authorizer: an issuer, its audience, its keys (see the module docstring)."""

    def __init__(
        self,
        issuer: str,
        audience: Iterable[str],
        jwks_url: str,
        *,
        clock: Callable[[], float] = time.time,
        fetch: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = frozenset(audience)
        self.jwks_url = jwks_url
        self.clock = clock  # tests move it to expire real tokens
        self._fetch = fetch or _fetch_json
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ keys
    def _key(self, kid: str) -> dict[str, Any] | None:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > JWKS_CACHE_SECONDS
            if stale or kid not in self._keys:
                try:
                    jwks = self._fetch(self.jwks_url)
                except (OSError, ValueError):
                    return self._keys.get(kid)
                self._keys = {k["kid"]: k for k in jwks.get("keys", []) if isinstance(k, dict) and "kid" in k}
                self._fetched_at = time.monotonic()
            return self._keys.get(kid)

    @staticmethod
    def _verify(key: dict[str, Any], algorithm: str, signed: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if key.get("kty") != "RSA":
            return False
        numbers = rsa.RSAPublicNumbers(
            int.from_bytes(_b64url(key["e"]), "big"), int.from_bytes(_b64url(key["n"]), "big")
        )
        try:
            numbers.public_key().verify(signature, signed, padding.PKCS1v15(), getattr(hashes, _HASHES[algorithm])())
        except (InvalidSignature, ValueError):
            return False
        return True

    # ------------------------------------------------------------------ the decision
    def authorize(self, headers: Mapping[str, str], route_scopes: Iterable[str] = ()) -> Decision:
        """The decision for a request with these headers (any case) on a route with these scopes."""
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = value.strip()
        scheme, _, rest = token.partition(" ")
        if scheme.lower() == "bearer":
            token = rest.strip()
        if not token:
            return unauthorized()
        parts = token.split(".")
        if len(parts) != 3:
            return unauthorized("the token is not a JSON web token")
        try:
            header = json.loads(_b64url(parts[0]))
            claims = json.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return unauthorized("the token is not a JSON web token")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return unauthorized("the token is not a JSON web token")
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in _HASHES:
            return unauthorized("the token's signing algorithm is not supported")
        key = self._key(str(kid)) if kid is not None else None
        if key is None:
            return unauthorized("the token's key id is not one of the issuer's keys")
        if not self._verify(key, algorithm, f"{parts[0]}.{parts[1]}".encode(), signature):
            return unauthorized("the token's signature is invalid")
        return self.check_claims(claims, route_scopes)

    def check_claims(self, claims: Mapping[str, Any], route_scopes: Iterable[str] = ()) -> Decision:
        """Step 4 on an already verified token: iss, aud/client_id, exp, nbf, iat, scopes."""
        if claims.get("iss") != self.issuer:
            return unauthorized("the token does not have a valid issuer")
        # API Gateway validates client_id only if aud is not present.
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in self.audience for a in audiences):
            return unauthorized("the token does not have a valid audience")
        now = self.clock()
        expires = _int(claims.get("exp"))
        if expires is None or expires <= now:
            return unauthorized("the token has expired")
        for name in ("nbf", "iat"):
            if name in claims and ((moment := _int(claims[name])) is None or moment > now):
                return unauthorized(f"the token's {name} is in the future")
        return check_scopes(route_scopes, claims) or allowed(claims, route_scopes)


def _fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())
