import pytest

from devtools.testing import moto_deployment


@pytest.fixture
def aws(monkeypatch):
    with moto_deployment(["thumbnails"], monkeypatch) as deployment:
        yield deployment
