"""webhooks: the service package (Lambda imports this before any handler module)."""

import shared  # noqa: F401 - first: its import hook makes the Powertools imports of this package's modules lighter
