"""Local users and their tokens, from the user pool the provisioner created in moto.

    users = Users(runtime.client("cognito-idp"), runtime.topology.user_pool)
    anna = users.token("anna")                 # signs anna up the first time, then signs her in
    olga = users.token("olga", staff=True)     # ... and puts her in the `staff` group
    requests.get(url, headers=anna.headers)    # {"Authorization": "Bearer <access token>"}

Signing up is what an administrator does (AdminCreateUser with a verified email, then
AdminSetUserPassword): no confirmation mail. Signing in uses ADMIN_USER_PASSWORD_AUTH, which the
deployed `mobile` client does not allow (the app signs in through the hosted UI, authorization code
grant with PKCE): moto does not check a client's auth flows, and this is a local convenience only.
The tokens are moto's: signed RS256 with the key moto publishes at /<pool id>/.well-known/jwks.json,
issued by `https://cognito-idp.<region>.amazonaws.com/<local pool id>`, so only the local gateway
accepts them.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from devtools import manifest as mf
from devtools.local.provision import UserPoolWiring

PASSWORD = "Local-passw0rd"  # meets the pool's policy (12+ characters, upper, lower, digit)
EMAIL_DOMAIN = "users.example"  # .example is reserved: never a real mailbox


def email_of(user: str) -> str:
    return user if "@" in user else f"{user}@{EMAIL_DOMAIN}"


def decode(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (for display and tests)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass(frozen=True)
class Tokens:
    """What signing in returned (Cognito's AuthenticationResult)."""

    user: str
    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int

    @property
    def sub(self) -> str:
        return decode(self.access_token)["sub"]

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header the app sends (an access token, as AWS recommends for APIs)."""
        return {"Authorization": f"Bearer {self.access_token}"}


def find_user_pool(idp: Any, env: str, region: str) -> UserPoolWiring:
    """The provisioned pool of `env` in a running moto, by name (as the provisioner finds it)."""
    name = mf.user_pool_name(env)
    pools = [p for p in idp.list_user_pools(MaxResults=60).get("UserPools", []) if p["Name"] == name]
    if not pools:
        raise LookupError(f"no user pool {name!r}: is the local runtime up?")
    pool_id = pools[0]["Id"]
    clients = {
        c["ClientName"]: c["ClientId"]
        for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60).get("UserPoolClients", [])
    }
    domain = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("Domain", "")
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    return UserPoolWiring(pool_id, name, issuer, clients, domain)


class Users:
    """Sign local users up and in against the provisioned pool."""

    def __init__(self, idp: Any, pool: UserPoolWiring, client: str = mf.MOBILE_CLIENT) -> None:
        self.idp = idp
        self.pool = pool
        self.client_id = pool.clients[client]

    def exists(self, user: str) -> bool:
        try:
            self.idp.admin_get_user(UserPoolId=self.pool.id, Username=email_of(user))
        except self.idp.exceptions.UserNotFoundException:
            return False
        return True

    def sign_up(self, user: str, *, staff: bool = False, password: str = PASSWORD) -> None:
        email = email_of(user)
        self.idp.admin_create_user(
            UserPoolId=self.pool.id,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
        self.idp.admin_set_user_password(UserPoolId=self.pool.id, Username=email, Password=password, Permanent=True)
        if staff:
            self.add_to_staff(user)

    def add_to_staff(self, user: str) -> None:
        self.idp.admin_add_user_to_group(UserPoolId=self.pool.id, Username=email_of(user), GroupName=mf.STAFF_GROUP)

    def sign_in(self, user: str, *, password: str = PASSWORD) -> Tokens:
        result = self.idp.admin_initiate_auth(
            UserPoolId=self.pool.id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email_of(user), "PASSWORD": password},
        )["AuthenticationResult"]
        return Tokens(
            user=email_of(user),
            access_token=result["AccessToken"],
            id_token=result["IdToken"],
            refresh_token=result.get("RefreshToken", ""),
            expires_in=int(result.get("ExpiresIn", 3600)),
        )

    def token(self, user: str, *, staff: bool = False) -> Tokens:
        """Tokens for `user`, signing them up first if they are new (and into `staff` if asked)."""
        if not self.exists(user):
            self.sign_up(user, staff=staff)
        elif staff:
            self.add_to_staff(user)  # adding a member twice is not an error
        return self.sign_in(user)


class Bearer:
    """Authorization headers of one local user for as long as a run lasts: signs them in again a few
    minutes before the access token expires (tools that drive the runtime for longer than an hour).

        auth = Bearer.for_runtime(endpoints, "soak-ops", staff=True)   # runtime.json's endpoints
        requests.get(url, headers=auth())
    """

    def __init__(self, users: Users, user: str, *, staff: bool = False, margin: float = 300.0) -> None:
        self.users, self.user, self.staff, self.margin = users, user, staff, margin
        self._tokens: Tokens | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_runtime(cls, endpoints: dict[str, Any], user: str, *, staff: bool = False) -> Bearer:
        import boto3

        idp = boto3.client(
            "cognito-idp",
            endpoint_url=endpoints["moto"],
            region_name=endpoints["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return cls(Users(idp, find_user_pool(idp, endpoints["env"], endpoints["region"])), user, staff=staff)

    def __call__(self) -> dict[str, str]:
        with self._lock:
            if self._tokens is None or time.time() >= self._renew_at:
                self._tokens = self.users.token(self.user, staff=self.staff)
                self._renew_at = time.time() + self._tokens.expires_in - self.margin
            return self._tokens.headers
