import pytest

from devtools.testing import moto_deployment


@pytest.fixture
def aws(monkeypatch):
    """moto with everything the inventory manifest declares; DynamoDB atomic across threads."""
    with moto_deployment(["inventory"], monkeypatch) as deployment:
        yield deployment
