"""moto in server mode, in its own process, with the few fixes the local runtime needs.

    python -m devtools.local.motoserver --host 127.0.0.1 --port 0

Prints one JSON line `{"url": "http://127.0.0.1:PORT"}` once it serves, then runs until killed.

Patches (each one makes moto closer to AWS, none changes the API surface):
- EventBridge -> SQS targets: the event moto writes lacks `account`, and moto renders it through
  a JSONPath template on every delivery (slow). Without an InputTransformer AWS delivers the
  event as is, so we serialise the event dict directly, with AWS's field order.
- S3 event notifications: moto URL-encodes the object key with quote_plus, turning "in/a b.txt"
  into "in%2Fa+b.txt"; S3 keeps the slashes ("in/a+b.txt"). moto also leaves out the object's
  `versionId` (S3 sends it for versioned buckets) and the `sequencer`.

`apply_patches()` is also used in-process by the test kit (devtools.testing); it is idempotent.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

_AWS_EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


_patched = False


def apply_patches() -> None:
    global _patched  # noqa: PLW0603 - patch once per process
    if _patched:
        return
    _patched = True
    from moto.events import utils

    original = utils.EventTemplateParser.parse

    def parse(input_template: str | None, input_paths_map: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        if input_template or input_paths_map:
            return original(input_template, input_paths_map, event)
        return {key: event[key] for key in _AWS_EVENT_FIELDS if key in event}

    utils.EventTemplateParser.parse = staticmethod(parse)  # type: ignore[method-assign]

    from urllib.parse import quote_plus

    from moto.s3 import notifications

    notifications.quote_plus = lambda text, safe="/", **kw: quote_plus(text, safe=safe, **kw)

    original_event = notifications._get_s3_event

    def s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original_event(event_name, bucket, key, notification_id)
        obj = event["Records"][0]["s3"]["object"]
        version = getattr(key, "version_id", None)
        if version and version != "null":
            obj["versionId"] = version
        obj["sequencer"] = f"{int(key.last_modified.timestamp() * 1_000_000):016X}"
        return event

    notifications._get_s3_event = s3_event


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    apply_patches()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(json.dumps({"url": f"http://{host}:{port}"}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Exit when the parent goes away (stdin closes), so a crashed runtime leaves nothing behind.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
