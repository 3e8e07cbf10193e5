import pytest

from devtools.testing import moto_deployment


@pytest.fixture
def aws(monkeypatch):
    """moto with everything the webhooks manifest declares, wired as Terraform wires it."""
    with moto_deployment(["webhooks"], monkeypatch) as deployment:
        yield deployment
