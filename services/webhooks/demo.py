"""`make demo` scenario: a signed GitHub push is accepted once, recorded once; a forged one is refused."""

from __future__ import annotations

import json
import uuid

from webhooks.signatures import sign_github  # the demo plays GitHub


def scenario(demo) -> None:
    secret = demo.service.secrets["github-webhook"]["local_value"]
    delivery = str(uuid.uuid4())
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "commits": [{"id": "a1"}, {"id": "b2"}],
            "repository": {"full_name": "acme/shop"},
            "sender": {"login": "octocat"},
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign_github(secret, body),
    }
    first = demo.http("POST", "/webhooks/github", body=body, headers=headers)
    demo.expect(first.status == 202, "signed GitHub push accepted (202)", first.body.decode())
    event_id = first.json()["event_id"]
    retry = demo.http("POST", "/webhooks/github", body=body, headers=headers)
    demo.expect(retry.json() == first.json(), "GitHub's retry of the same delivery gets the same answer")
    demo.expect_invoked("record_delivery", key=event_id, what="WebhookReceived reached record_delivery")
    demo.eventually(
        lambda: demo.get_item("deliveries", {"delivery_id": {"S": f"github:{delivery}"}}), "audit row written once"
    )
    forged = demo.http("POST", "/webhooks/github", body=body, headers={**headers, "x-hub-signature-256": "sha256=00"})
    demo.expect(forged.status == 401, "forged signature refused (401)", forged.body.decode())
