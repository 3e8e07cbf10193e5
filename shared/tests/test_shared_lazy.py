"""shared.lazy: Powertools' re-exporting packages imported name by name, batch types without the
parser models, and `deferred` objects built on first use."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shared.lazy import _exports, aws_client, deferred

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> list:
    """Run `code` in a fresh interpreter (shared on the path); its last line is JSON."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.splitlines()[-1])


def test_a_resolver_import_imports_only_what_it_needs_and_every_name_still_resolves():
    code = (
        "import json, sys, shared\n"
        "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types\n"
        "loaded = [m for m in ('asyncio', 'aws_lambda_powertools.event_handler.appsync') if m in sys.modules]\n"
        "import aws_lambda_powertools.event_handler as eh\n"
        "late = [eh.AppSyncResolver.__name__, eh.Response is Response, eh.content_types is content_types]\n"
        "print(json.dumps([loaded, late, eh.__lazy_package__]))"
    )
    assert _fresh(code) == [[], ["AppSyncResolver", True, True], True]


def test_powertools_batch_types_are_strings_even_with_pydantic_loaded():
    code = (
        "import json, sys, pydantic, shared\n"
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response\n"
        "from aws_lambda_powertools.utilities.batch import types\n"
        "print(json.dumps([types.BatchTypeModels, 'aws_lambda_powertools.utilities.parser' in sys.modules,\n"
        "                  sys.modules['pydantic'] is pydantic, BatchProcessor.__name__]))"
    )
    assert _fresh(code) == ["BatchTypeModels", False, True, "BatchProcessor"]


def test_shared_imports_no_powertools_itself():
    assert _fresh("import json, sys, shared; print(json.dumps('aws_lambda_powertools' in sys.modules))") is False


def test_only_an_init_that_just_re_exports_is_made_lazy():
    source = (
        '"""doc"""\nfrom __future__ import annotations\nfrom .a import A, B as C\nfrom . import sub\n__all__ = ["A"]\n'
    )
    assert _exports("pkg", source) == {"A": ("pkg.a", "A"), "C": ("pkg.a", "B"), "sub": ("pkg", "sub")}
    assert _exports("pkg", "from .a import A\nsetup()\n") is None
    assert _exports("pkg", "from .a import *\n") is None
    assert _exports("pkg", "import os\n") is None


def test_deferred_builds_once_on_first_use_and_passes_everything_through():
    built = []

    class Client:
        def put(self, x):
            return ("put", x)

    def factory():
        built.append(1)
        return Client()

    proxy = deferred(factory)
    assert built == [] and "not built" in repr(proxy)
    threads = [threading.Thread(target=lambda: proxy.put(1)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == [1] and proxy.put(2) == ("put", 2)
    proxy.region = "eu-west-1"  # attributes go to the object
    assert proxy.resolve().region == "eu-west-1"


def test_monkeypatching_a_deferred_client_patches_and_restores_the_client(monkeypatch):
    class Client:
        def get(self):
            return "real"

    proxy = deferred(Client)
    with monkeypatch.context() as patch:
        patch.setattr(proxy, "get", lambda: "fake")
        patch.setattr(proxy, "get", lambda: "faker")
        assert proxy.get() == "faker"
    assert proxy.get() == "real" and "get" not in vars(proxy.resolve())


def test_aws_client_creates_nothing_until_used():
    client = aws_client("s3")
    assert "not built" in repr(client)
    with pytest.raises(AttributeError):
        client.no_such_operation  # noqa: B018 - builds it (boto3 is in the dev virtualenv)
    assert "not built" not in repr(client)
