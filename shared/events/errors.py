"""Errors raised while reading or producing events.

Every error a consumer can get from a bad event is an `EventValidationError` (a
`ValueError`), so a batch handler needs one `except` to send the record to the DLQ.
Messages name field paths and never the offending values: the reason is logged, and
values may be personal data.
"""

from __future__ import annotations

from typing import Any


class EventValidationError(ValueError):
    """An event failed validation; `reason` is readable, `errors` lists `{path, message, type}`.

    >>> str(err)
    "WebhookReceived v1: data.provider: Input should be 'github' or 'slack'"
    """

    def __init__(
        self,
        reason: str,
        *,
        detail_type: str | None = None,
        version: int | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        self.reason = reason
        self.detail_type = detail_type
        self.version = version
        self.errors = errors or []
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.detail_type is None:
            return self.reason
        where = self.detail_type if self.version is None else f"{self.detail_type} v{self.version}"
        return f"{where}: {self.reason}"

    @classmethod
    def from_pydantic(
        cls, exc: Any, *, detail_type: str | None = None, version: int | None = None
    ) -> EventValidationError:
        """Build from a `pydantic.ValidationError`, keeping paths and messages (not input values)."""
        errors = [
            {"path": ".".join(str(p) for p in e["loc"]) or "(root)", "message": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        reason = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        return cls(reason, detail_type=detail_type, version=version, errors=errors)


class UnknownEventError(EventValidationError):
    """No model is registered for this detail-type (or this version of it)."""


class ClaimCheckError(EventValidationError):
    """A claim-check reference could not be resolved (object missing or not matching its hash)."""
