import pytest

from devtools.testing import moto_deployment


@pytest.fixture
def aws(monkeypatch):
    """moto with everything the notifications manifest declares (the sender identity verified)."""
    with moto_deployment(["notifications"], monkeypatch) as deployment:
        yield deployment
