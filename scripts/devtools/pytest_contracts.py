"""pytest plugin: every event a test publishes must match its committed JSON Schema.

Loaded from the root conftest. It watches botocore's PutEvents calls in every test (moto or
not). An entry whose `Source` is one of our services must:
- be published by the service whose manifest lists that detail-type (one producer per event);
- carry a `detail` valid against shared/events/schemas/<DetailType>.v<event_version>.json.
A violation fails the test that published it, naming the event and the reason.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from devtools.manifest import REPO_ROOT

SCHEMAS_DIR = REPO_ROOT / "shared" / "events" / "schemas"
_violations: list[str] = []


@cache
def _producers() -> dict[str, str]:
    from devtools.manifest import load_services

    return {event: svc.name for svc in load_services() for event in svc.publishes}


@cache
def _services() -> frozenset[str]:
    from devtools.manifest import load_services

    return frozenset(svc.name for svc in load_services())


@cache
def _validator(path: Path):
    import jsonschema

    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def check_entry(entry: dict) -> str | None:
    """The contract violation of one PutEvents entry, or None."""
    source, detail_type = entry.get("Source"), entry.get("DetailType")
    if source not in _services():
        return None  # not one of ours (test-only events)
    producer = _producers().get(detail_type)
    if producer != source:
        return f"{source}/{detail_type}: no manifest of {source!r} publishes it (producer: {producer})"
    try:
        detail = json.loads(entry.get("Detail", ""))
        version = detail["metadata"]["event_version"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"{source}/{detail_type}: detail has no metadata.event_version ({exc})"
    path = SCHEMAS_DIR / f"{detail_type}.v{version}.json"
    if not path.exists():
        return f"{source}/{detail_type}: no committed schema {path.relative_to(REPO_ROOT)} (run make catalog)"
    errors = sorted(_validator(path).iter_errors(detail), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(detail)"
        return f"{source}/{detail_type} v{version}: {where}: {errors[0].message}"
    return None


def _install() -> None:
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    if getattr(original, "_contract_checked", False):
        return

    def _make_api_call(self, operation_name, api_params):
        if operation_name == "PutEvents":
            for entry in api_params.get("Entries", []):
                problem = check_entry(entry)
                if problem:
                    _violations.append(problem)
        return original(self, operation_name, api_params)

    _make_api_call._contract_checked = True  # type: ignore[attr-defined]
    BaseClient._make_api_call = _make_api_call


def pytest_configure(config) -> None:
    _install()


@pytest.fixture(autouse=True)
def _published_events_match_their_schemas():
    _violations.clear()
    yield
    if _violations:
        found = list(_violations)
        _violations.clear()
        pytest.fail("published events break their contract:\n  " + "\n  ".join(found), pytrace=False)
