"""pytest plugin: a "Terraform" section at the end of the run, one line per real Terraform check.

`make test` runs fmt, validate, `terraform test`, the plans and the apply among hundreds of other
tests; this section shows each one's outcome by module and env/region, with the figure a test
recorded (`record_property("figure", "332 resources in 17 s")`), or the reason it was skipped.
"""

from __future__ import annotations

from typing import Any

import pytest

_results: dict[str, tuple[str, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "terraform" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        figure = dict(report.user_properties).get("figure", "")
        if report.skipped:
            longrepr: Any = report.longrepr
            figure = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            figure = figure.removeprefix("Skipped: ")
        _results[report.nodeid] = (report.outcome, str(figure))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _results:
        return
    terminalreporter.section("Terraform (the real CLI; tests/infra)")
    width = max(len(_name(n)) for n in _results)
    for nodeid, (outcome, figure) in sorted(_results.items()):
        terminalreporter.write_line(f"{_name(nodeid):<{width}}  {outcome:<7}  {figure}".rstrip())


def _name(nodeid: str) -> str:
    path, _, test = nodeid.partition("::")
    return f"{path.rsplit('/', 1)[-1].removesuffix('.py')}::{test}"
