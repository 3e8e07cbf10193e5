"""The local JWT authorizer (devtools.local.authorizer) step by step, as API Gateway documents it.

No runtime: tokens are signed here with a key of our own, served as the issuer's JWKS. The same
checks with real moto Cognito tokens through the gateway, for every manifest route, are in
test_e2e_auth.py.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devtools.aws_events import jwt_authorizer
from devtools.local.authorizer import JwtAuthorizer

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Local"
APP, TOOL, OTHER = "mobileclientid", "operationsclientid", "someoneelsesclient"
NOW = 1_800_000_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _key(kid: str) -> tuple[rsa.RSAPrivateKey, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": _b64(numbers.e.to_bytes(3, "big")),
    }
    return private, jwk


KEY, JWK = _key("k1")
OTHER_KEY, _ = _key("k1")  # same kid, another key: a forged signature


def sign(claims: dict, *, key=KEY, kid: str = "k1", alg: str = "RS256") -> str:
    header = _b64(json.dumps({"kid": kid, "alg": alg}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64(signature)}"


def access(**changes) -> dict:
    claims = {"sub": "u-1", "iss": ISSUER, "client_id": APP, "token_use": "access", "iat": NOW - 10}
    claims |= {"exp": NOW + 3600, "scope": "openid", "cognito:groups": ["staff"], "username": "u-1"}
    return {k: v for k, v in (claims | changes).items() if v is not None}


@pytest.fixture
def authorizer():
    fetched = []

    def fetch(url):
        fetched.append(url)
        return {"keys": [JWK]}

    auth = JwtAuthorizer(ISSUER, [APP, TOOL], "http://moto/jwks.json", clock=lambda: NOW, fetch=fetch)
    auth.fetched = fetched
    return auth


def refused(decision, status: int = 401, description: str | None = "") -> None:
    assert decision.status == status, decision
    assert decision.body == ({"message": "Unauthorized"} if status == 401 else {"message": "Forbidden"})
    challenge = decision.headers["www-authenticate"]
    if description is None:
        assert challenge == "Bearer"
    elif status == 401:
        assert challenge == f'Bearer scope="" error="invalid_token" error_description="{description}"'


def test_a_valid_access_token_passes_with_or_without_bearer(authorizer):
    token = sign(access())
    for header in (f"Bearer {token}", token, f"bearer  {token}"):
        decision = authorizer.authorize({"Authorization": header})
        assert decision.allowed and decision.claims["sub"] == "u-1"
    assert decision.authorizer == jwt_authorizer(access(), None)  # scopes null: the route has none
    assert authorizer.fetched == ["http://moto/jwks.json"]  # keys are cached


def test_no_token_is_401_with_a_bare_bearer_challenge(authorizer):
    refused(authorizer.authorize({}), description=None)
    refused(authorizer.authorize({"authorization": "Bearer "}), description=None)


@pytest.mark.parametrize(
    ("token", "description"),
    [
        ("not-a-jwt", "the token is not a JSON web token"),
        ("a.b.c", "the token is not a JSON web token"),
        (sign(access(), kid="k2"), "the token's key id is not one of the issuer's keys"),
        (sign(access(), key=OTHER_KEY), "the token's signature is invalid"),
        (sign(access(), alg="HS256"), "the token's signing algorithm is not supported"),
        (sign(access(iss=ISSUER + "x")), "the token does not have a valid issuer"),
        (sign(access(client_id=OTHER)), "the token does not have a valid audience"),
        (sign(access(exp=NOW)), "the token has expired"),
        (sign(access(exp=None)), "the token has expired"),
        (sign(access(nbf=NOW + 5)), "the token's nbf is in the future"),
        (sign(access(iat=NOW + 5)), "the token's iat is in the future"),
    ],
    ids=[
        "garbage",
        "undecodable",
        "unknown-kid",
        "forged-signature",
        "hs256",
        "issuer",
        "audience",
        "expired",
        "no-exp",
        "nbf",
        "iat",
    ],
)
def test_each_documented_check_refuses_with_401(authorizer, token, description):
    refused(authorizer.authorize({"Authorization": f"Bearer {token}"}), description=description)


def test_a_tampered_payload_fails_the_signature(authorizer):
    header, _, signature = sign(access()).split(".")
    payload = _b64(json.dumps(access(sub="someone-else")).encode())
    token = f"{header}.{payload}.{signature}"
    refused(authorizer.authorize({"Authorization": token}), description="the token's signature is invalid")


def test_aud_is_checked_when_present_client_id_only_without_it(authorizer):
    id_token = {"sub": "u-1", "iss": ISSUER, "aud": APP, "token_use": "id", "exp": NOW + 60, "iat": NOW}
    assert authorizer.authorize({"Authorization": sign(id_token)}).allowed
    # "When both aud and client_id are present, API Gateway evaluates aud."
    both = sign({**id_token, "aud": OTHER, "client_id": APP})
    refused(authorizer.authorize({"Authorization": both}), description="the token does not have a valid audience")
    assert authorizer.authorize({"Authorization": sign({**id_token, "aud": [OTHER, TOOL]})}).allowed


def test_route_scopes_need_one_of_them_else_403(authorizer):
    tool = sign(access(client_id=TOOL, scope="eda/staff", username=None, **{"cognito:groups": None}))
    decision = authorizer.authorize({"Authorization": tool}, ["eda/staff"])
    assert decision.allowed and decision.authorizer["jwt"]["scopes"] == ["eda/staff"]
    customer = authorizer.authorize({"Authorization": sign(access())}, ["eda/staff"])
    refused(customer, 403)
    assert 'error="insufficient_scope"' in customer.headers["www-authenticate"]
    assert 'scope="eda/staff"' in customer.headers["www-authenticate"]
    assert authorizer.authorize({"Authorization": sign(access(scope=None, scp=["eda/staff"]))}, ["eda/staff"]).allowed


def test_the_clock_decides_expiry(authorizer):
    token = sign(access(exp=NOW + 60))
    assert authorizer.authorize({"Authorization": token}).allowed
    authorizer.clock = lambda: NOW + 61
    refused(authorizer.authorize({"Authorization": token}), description="the token has expired")
