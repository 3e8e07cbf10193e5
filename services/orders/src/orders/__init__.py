"""orders: event-sourced Order aggregate, HTTP API, reactions, outbox relay and order view."""
