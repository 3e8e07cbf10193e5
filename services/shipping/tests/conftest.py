import pytest

from devtools.testing import moto_deployment


@pytest.fixture
def aws(monkeypatch):
    """moto with everything the shipping manifest declares, wired as Terraform wires it."""
    with moto_deployment(["shipping"], monkeypatch) as deployment:
        yield deployment
