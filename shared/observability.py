"""Powertools Logger/Metrics/Tracer defaults for every function, with masking on the logger.

    from shared.observability import logger, metrics, tracer, set_correlation

    logger.info("order placed", extra={"order_id": order_id})
    set_correlation(envelope)            # correlation_id and event_id on every later log line

Configured by the POWERTOOLS_* environment the platform sets (POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL, ...). `metrics` and `tracer` are
created on first access: `Tracer()` imports the X-Ray SDK and botocore (~300 ms here),
which a function that does not trace should not pay for at cold start.

Every log record goes through `MaskingFormatter`: card numbers and secrets are masked in
the whole record (message, extra keys, appended keys, exception text) before it is written.
Use this `logger` rather than a new `Logger()`: Powertools shares one handler per service,
and the first instance decides the formatter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from shared.masking import mask, mask_text

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics import Metrics
    from aws_lambda_powertools.tracing import Tracer

    from shared.events.base import Envelope

    metrics: Metrics
    tracer: Tracer


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter that masks PANs and secrets in the whole record."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        # Structured pass: secret keys at any depth, PANs in values. Then a text pass over the
        # JSON line, for objects the serializer turned into strings via json_default.
        return mask_text(super().serialize(mask(log)))


logger = Logger(logger_formatter=MaskingFormatter())

CORRELATION_KEYS = ("correlation_id", "event_id")


def set_correlation(envelope_or_id: Envelope | str | None) -> None:
    """Add correlation_id (and event_id for an envelope) to every following log line."""
    if envelope_or_id is None:
        logger.remove_keys(CORRELATION_KEYS)
    elif isinstance(envelope_or_id, str):
        logger.remove_keys(["event_id"])
        logger.append_keys(correlation_id=envelope_or_id)
    else:
        m = envelope_or_id.metadata
        logger.append_keys(correlation_id=m.correlation_id, event_id=m.event_id)


def __getattr__(name: str) -> Any:
    # PEP 562: `metrics` and `tracer` are built on first access (see module doc).
    if name == "metrics":
        from aws_lambda_powertools.metrics import Metrics

        value: Any = Metrics()
    elif name == "tracer":
        from aws_lambda_powertools.tracing import Tracer

        value = Tracer()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
