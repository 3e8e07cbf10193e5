"""orders: event-sourced Order aggregate, HTTP API, reactions, outbox relay and order view."""

import shared  # noqa: F401 - first: its import hook makes the Powertools imports of this package's modules lighter
