import functools

import pytest

from devtools.testing import moto_deployment, staff


@pytest.fixture
def aws(monkeypatch):
    """moto with everything the inventory manifest declares; DynamoDB atomic across threads.

    Requests go through the HTTP API as a staff member (the operations API's usual caller) unless a
    test passes another `user=` (devtools.testing.customer(), or None for no token)."""
    with moto_deployment(["inventory"], monkeypatch) as deployment:
        deployment.http_response = functools.partial(deployment.http_response, user=staff())
        yield deployment
