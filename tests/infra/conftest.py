"""Infra checks run the real Terraform (through scripts/terraform) where it is installed.

Where it is not, every test that needs it is skipped with one line saying so (pytest -ra prints
it): nothing passes silently. Plans and applies go to a moto server with the project's patches,
through a scratch copy of infra/ (devtools.tf.Workspace), never to AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools import tf


@pytest.fixture(autouse=True)
def _skip_without_terraform(request: pytest.FixtureRequest) -> None:
    """Tests marked `terraform` need the binary: skipped, with the reason printed, where it is absent."""
    if request.node.get_closest_marker("terraform"):
        tf.require()


@pytest.fixture(scope="session")
def plan_workspace() -> Iterator[tf.Workspace]:
    """One emulator and one initialised workspace for every plan this worker makes."""
    tf.require()
    with tf.emulator() as url, tf.Workspace.create(url) as ws:
        ws.init()
        yield ws


@pytest.fixture(scope="session")
def plans(plan_workspace: tf.Workspace) -> dict[tuple[str, str], dict[str, Any]]:
    """`terraform show -json` of each env/region's plan, made on first use."""

    class Plans(dict):
        def __missing__(self, key: tuple[str, str]) -> dict[str, Any]:
            self[key] = plan_workspace.plan(*key)
            return self[key]

    return Plans()
