"""Fixtures for the end-to-end tests: the local runtime over the fixture services in fixtures/services.

One runtime per test module (module scope); it is stopped, with every process it started, at
the end of the module. Tests that change fault switches or mappings restore them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.local.runtime import Runtime, RuntimeConfig

FIXTURE_SERVICES = Path(__file__).parent / "fixtures" / "services"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    config = RuntimeConfig(
        services_roots=[FIXTURE_SERVICES],
        state_dir=tmp_path_factory.mktemp("local-runtime"),
        retry_after=0,  # failed records are retried at once (the semantics stay: receive count, DLQ)
        schedule_speed=60,  # a minute of schedule time per second: rate(1 minute) runs about every second
    )
    rt = Runtime(config).start()
    children: list[int] = []
    try:
        yield rt
    finally:
        children = rt.child_pids()
        rt.stop()
    leftovers = [pid for pid in children if _alive(pid)]
    assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture
def ddb(runtime):
    return runtime.client("dynamodb")


@pytest.fixture(scope="module")
def signed_in(runtime) -> dict[str, str]:
    """The Authorization header of a local user of the runtime's pool (the fixture routes are `customer`)."""
    from devtools.local.identity import Users

    return Users(runtime.client("cognito-idp"), runtime.topology.user_pool).token("e2e-user").headers
