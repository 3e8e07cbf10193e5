"""The command line against a runtime started with `up` in another process (as `make local` does).

Acceptance path: an object copied into a declared bucket with boto3 against the printed endpoint
triggers the wired function, and `trace` shows it; Ctrl-C stops every process `up` started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from devtools import manifest as mf

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-local-cli")]

FIXTURE_SERVICES = Path(__file__).parent / "fixtures" / "services"
ENV = {**os.environ, "PYTHONPATH": f"{mf.REPO_ROOT}{os.pathsep}{mf.REPO_ROOT / 'scripts'}"}


def cli(state_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "devtools.local", "--state-dir", str(state_dir), *args],
        check=False,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        cwd=mf.REPO_ROOT,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("cli-runtime")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.local",
            "--state-dir",
            str(state_dir),
            "up",
            "--services",
            str(FIXTURE_SERVICES),
            "--aws-port",
            "0",
            "--http-port",
            "0",
            "--control-port",
            "0",
            "--retry-after",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
        cwd=mf.REPO_ROOT,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("  logs:"):
            break
    ready = next((ln for ln in lines if ln.startswith("local runtime ready")), None)
    if ready is None:
        proc.kill()
        pytest.fail("".join(lines))
    endpoints = dict(re.findall(r"(\w+)=(\S+)", ready))
    bucket = re.search(r"s3://(\S+)/", next(ln for ln in lines if "fxsink:inbox" in ln)).group(1)
    yield {
        "proc": proc,
        "state_dir": state_dir,
        "aws": endpoints["aws"],
        "http": endpoints["http"],
        "bucket": bucket,
        "lines": lines,
    }
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def test_s3_copy_triggers_the_wired_function_and_trace_shows_it(up, tmp_path):
    s3 = boto3.client(
        "s3", endpoint_url=up["aws"], region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    s3.put_object(Bucket=up["bucket"], Key="in/acceptance.csv", Body=b"a,b\n")

    key = f"s3://{up['bucket']}/in/acceptance.csv"
    for _ in range(100):
        result = cli(up["state_dir"], "trace", key, check=False)
        if "fxsink.upload" in result.stdout and " ok" in result.stdout:
            break
        time.sleep(0.2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fxsink.upload" in result.stdout and "(s3)" in result.stdout


def test_publish_status_logs_invoke_and_dlq(up):
    published = cli(up["state_dir"], "publish", "fxsource", "ThingHappened", "--data", '{"value": "bad"}').stdout
    eb_id = re.search(r"id=(\S+)", published).group(1)
    for _ in range(100):
        dlq = cli(up["state_dir"], "dlq", "list", "fxsink.record").stdout
        if eb_id in dlq:
            break
        time.sleep(0.2)
    assert eb_id in dlq and "data.value must be an integer" in dlq

    trace = cli(up["state_dir"], "trace", eb_id).stdout
    assert "published  fxsource/ThingHappened" in trace.splitlines()[0]
    assert trace.count("fxsink.record") == 2 and "fxaudit.listen" in trace

    status = json.loads(cli(up["state_dir"], "status", "--json").stdout)
    record = next(f for f in status["functions"] if f["function"] == "fxsink.record")
    assert record["cold_starts"] == 1 and record["invocations"] >= 2 and record["max_rss_mb"] > 0

    logs = cli(up["state_dir"], "logs", "fxsink.record").stdout
    assert "REPORT RequestId:" in logs and "Init Duration:" in logs

    invoked = cli(up["state_dir"], "invoke", "local-fxsink-record", "--event", '{"Records": []}')
    assert json.loads(invoked.stdout)["result"] == {"batchItemFailures": []}

    assert "1 message(s) moved back" in cli(up["state_dir"], "dlq", "redrive", "fxsink.record").stdout


def test_tick_runs_a_schedule_and_emails_lists_what_ses_sent(up):
    ticked = json.loads(cli(up["state_dir"], "tick", "fxsink.nightly").stdout)
    assert ticked["ok"] and ticked["result"] == {"ok": True}
    refused = cli(up["state_dir"], "tick", "fxsink.record", check=False)
    assert refused.returncode != 0 and "has no schedule" in refused.stderr

    subject = f"Parcel {time.time_ns()}"
    data = json.dumps({"to": "grace@example.org", "subject": subject, "name": "Grace"})
    cli(up["state_dir"], "publish", "fxsource", "MailRequested", "--data", data)
    for _ in range(100):
        listing = cli(up["state_dir"], "emails").stdout
        if subject in listing:
            break
        time.sleep(0.2)
    lines = listing.splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith("-> grace@example.org"))
    assert "Fixture Shop <shop@fixture.example>" in lines[at]
    assert lines[at + 1] == f"    subject: {subject}"
    assert lines[at + 2 : at + 4] == ["    | Hello Grace,", "    | your order is on its way."]
    emails = json.loads(cli(up["state_dir"], "emails", "--json").stdout)
    assert [m["to"] for m in emails if m["subject"] == subject] == [["grace@example.org"]]


def test_token_signs_a_local_user_up_and_the_gateway_accepts_it(up):
    """`token --user` (as the README shows it with curl): a real token of the runtime's user pool."""
    import urllib.error
    import urllib.request

    def get(path: str, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(up["http"] + path, headers=headers), timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    token = cli(up["state_dir"], "token", "--user", "alice").stdout.strip()
    assert token.count(".") == 2
    described = json.loads(cli(up["state_dir"], "token", "--user", "alice", "--json").stdout)
    assert described["user"] == "alice@users.example" and described["claims"]["token_use"] == "access"
    assert described["claims"]["iss"].startswith("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_")
    staff = json.loads(cli(up["state_dir"], "token", "--user", "olga", "--staff", "--id-token", "--json").stdout)
    assert staff["claims"]["token_use"] == "id" and staff["claims"]["cognito:groups"] == ["staff"]
    assert described["sub"] != staff["sub"]  # two users; alice signed in twice is one
    assert get("/things/none")[0] == 401
    assert get("/things/none", token)[0] != 401  # the function ran (its own answer)


def test_ctrl_c_stops_everything_up_started(up):
    cli(
        up["state_dir"],
        "invoke",
        "fxsink.api",
        "--event",
        '{"routeKey": "GET /things/{id}", "pathParameters": {"id": "x"}}',
    )
    status = json.loads(cli(up["state_dir"], "status", "--json").stdout)
    pids = [pid for f in status["functions"] for pid in f["pids"]]
    assert pids, "at least the function invoked above is warm"
    proc = up["proc"]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0
    time.sleep(0.2)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert not (up["state_dir"] / "runtime.json").exists()
    assert cli(up["state_dir"], "status", check=False).returncode != 0
