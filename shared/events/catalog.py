"""Every event module, imported so the registry is complete once `shared.events` is imported.

Add one line per module (orders, payments, ...). Keep the modules light: models only.
"""

from shared.events import inventory, orders, payments, shipping, thumbnails, webhooks  # noqa: F401
