"""Contracts between services: who produces what, and that schemas and generated files agree.

Events published inside tests are checked too, by the plugin devtools.pytest_contracts
(every PutEvents entry must validate against its committed JSON Schema).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devtools import catalog
from devtools.manifest import REPO_ROOT, load_services
from devtools.pytest_contracts import check_entry
from shared.events import registry


@pytest.fixture(scope="module")
def services():
    return load_services()


def _registered() -> dict[str, list[int]]:
    versions: dict[str, list[int]] = {}
    for detail_type, version in registry.all_events():
        versions.setdefault(detail_type, []).append(version)
    return versions


def test_every_consumed_event_has_a_producer_manifest_and_a_schema(services):
    producers = {(svc.name, event) for svc in services for event in svc.publishes}
    registered = _registered()
    problems = []
    for svc in services:
        for fn in svc.functions:
            for source, detail_type in fn.trigger.events:
                if (source, detail_type) not in producers:
                    problems.append(f"{fn.qualified_name} consumes {source}/{detail_type}: no manifest publishes it")
                if detail_type not in registered:
                    problems.append(f"{fn.qualified_name} consumes {detail_type}: no schema in shared/events")
    assert not problems, "\n".join(problems)


def test_every_published_event_has_a_registered_model_and_a_committed_schema(services):
    registered = _registered()
    for svc in services:
        for event in svc.publishes:
            assert event in registered, f"{svc.name} publishes {event} but shared/events has no model for it"
            latest = max(registered[event])
            assert (catalog.SCHEMAS_DIR / f"{event}.v{latest}.json").exists(), f"{event}: run make catalog"


def test_every_registered_event_has_a_producer(services):
    published = {event for svc in services for event in svc.publishes}
    orphans = sorted(set(_registered()) - published)
    assert not orphans, f"events with a schema but no producing manifest: {orphans}"


def test_generated_files_are_up_to_date(services):
    assert catalog.stale_files(services) == [], "run `make catalog`"


def test_codeowners_gives_each_service_folder_to_its_team(services):
    lines = (REPO_ROOT / "CODEOWNERS").read_text().splitlines()
    for svc in services:
        assert f"/services/{svc.name}/  {svc.owner}" in lines


def test_readme_lists_every_service_with_its_owner(services):
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split(catalog.START, 1)[1].split(catalog.END, 1)[0]
    for svc in services:
        assert f"[{svc.name}](services/{svc.name}/) | `{svc.owner}`" in table


def test_the_contract_check_rejects_what_it_should():
    """The plugin that checks published events in every test is itself tested here."""
    from shared.events import new_envelope
    from shared.events.webhooks import WebhookReceived

    data = WebhookReceived(
        provider="github",
        delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
        event_type="push",
        received_at=datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
        summary="1 commit(s) pushed to refs/heads/main",
    )
    entry = new_envelope(data, source="webhooks", region="eu-west-1").to_put_events_entry("eda-dev")
    assert check_entry(entry) is None
    assert "no manifest of 'webhooks' publishes it" in check_entry({**entry, "DetailType": "SomethingElse"})
    broken = json.loads(entry["Detail"])
    del broken["data"]["delivery_id"]
    problem = check_entry({**entry, "Detail": json.dumps(broken)})
    assert problem and "delivery_id" in problem
    assert check_entry({**entry, "Source": "not-ours"}) is None
