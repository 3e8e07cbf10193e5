"""moto's Cognito user pools, completed where Terraform and the local runtime need more than moto 5.2.5 offers.

Applied by `devtools.local.motoserver.apply_patches()` (the local runtime's moto server, the
emulator Terraform applies to, and the test kit's in-process moto).
"""

from __future__ import annotations

from typing import Any

_patched = False


def patch() -> None:
    """DeleteResourceServer and UpdateResourceServer, which moto 5.2.5 lacks: Terraform's destroy
    of `aws_cognito_resource_server` (and an in-place change of its scopes) calls them, and moto
    answered "not yet implemented", so the region could not be destroyed. AWS's behaviour: both
    need the pool and the resource server (ResourceNotFoundException otherwise); an update
    replaces the name and the whole scope list. And user pools survive the local runtime's
    snapshots (`_picklable_user_pools`)."""
    global _patched  # noqa: PLW0603 - patch once per process
    if _patched:
        return
    _patched = True
    from moto.cognitoidp.exceptions import ResourceNotFoundError
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoResourceServer
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import ActionResult, EmptyResult

    def _resource_server(backend: Any, user_pool_id: str, identifier: str) -> CognitoResourceServer:
        user_pool = backend.user_pools.get(user_pool_id)
        if not user_pool:
            raise ResourceNotFoundError(f"User pool {user_pool_id} does not exist.")
        server = user_pool.resource_servers.get(identifier)
        if not server:
            raise ResourceNotFoundError(f"Resource server {identifier} does not exist.")
        return server

    def delete_resource_server(self: Any, user_pool_id: str, identifier: str) -> None:
        _resource_server(self, user_pool_id, identifier)
        del self.user_pools[user_pool_id].resource_servers[identifier]

    def update_resource_server(
        self: Any, user_pool_id: str, identifier: str, name: str, scopes: list[dict[str, str]] | None
    ) -> CognitoResourceServer:
        server = _resource_server(self, user_pool_id, identifier)
        server.name = name
        server.scopes = scopes or []
        return server

    def delete_resource_server_response(self: Any) -> Any:
        self.backend.delete_resource_server(self._get_param("UserPoolId"), self._get_param("Identifier"))
        return EmptyResult()

    def update_resource_server_response(self: Any) -> Any:
        server = self.backend.update_resource_server(
            self._get_param("UserPoolId"),
            self._get_param("Identifier"),
            self._get_param("Name"),
            self._get_param("Scopes"),
        )
        return ActionResult({"ResourceServer": server.to_json()})

    _picklable_user_pools()

    CognitoIdpBackend.delete_resource_server = delete_resource_server  # type: ignore[attr-defined]
    CognitoIdpBackend.update_resource_server = update_resource_server  # type: ignore[attr-defined]
    CognitoIdpResponse.delete_resource_server = delete_resource_server_response  # type: ignore[attr-defined]
    CognitoIdpResponse.update_resource_server = update_resource_server_response  # type: ignore[attr-defined]


def _picklable_user_pools() -> None:
    """A user pool holds its signing key as a joserfc RSAKey, which pickle cannot copy: the local
    runtime's snapshots (devtools.local.state) failed as soon as a pool existed. moto gives every
    pool the same key (its resources/jwks-private.json), so a pool is pickled without it and loads
    it again when unpickled: tokens issued before a restart still verify after it."""
    from moto.cognitoidp.models import CognitoIdpUserPool

    def __getstate__(self: Any) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "json_web_key"}

    def __setstate__(self: Any, state: dict[str, Any]) -> None:
        from joserfc import jwk
        from moto.utilities.utils import load_resource

        self.__dict__.update(state)
        self.json_web_key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))

    CognitoIdpUserPool.__getstate__ = __getstate__  # type: ignore[method-assign]
    CognitoIdpUserPool.__setstate__ = __setstate__  # type: ignore[method-assign]
