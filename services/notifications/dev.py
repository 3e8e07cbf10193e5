"""Developer helpers for notifications on a local moto server (not in the Lambda zip).

moto keeps every email SES accepted and serves them, with every other tracked model, at
`GET <endpoint>/moto-api/data.json` (`ses` -> `Message`: id, source, subject, body,
destinations). When an email has an HTML part moto keeps that part as `body`; `text` below
is that body with the tags stripped.

    >>> from dev import sent_emails, verify_sender          # services/notifications on sys.path
    >>> verify_sender("http://127.0.0.1:4566", "orders@shop.example")
    >>> for mail in sent_emails("http://127.0.0.1:4566"):
    ...     print(mail["to"], mail["subject"])

`python services/notifications/dev.py [ENDPOINT]` prints them (default http://127.0.0.1:4566).
Only stdlib (+ boto3 for verify_sender), so the local runtime's CLI can import it as it is.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from html.parser import HTMLParser
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


class _Text(HTMLParser):
    _BLOCKS = frozenset({"p", "br", "li", "h1", "h2", "h3", "tr", "ul", "div"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("title", "style", "script", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("  - ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "style", "script", "head"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(body: str) -> str:
    if "<" not in body:
        return body
    parser = _Text()
    parser.feed(body)
    lines = [line.rstrip() for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line.strip())


def sent_emails(endpoint_url: str = DEFAULT_ENDPOINT, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Emails the moto server at `endpoint_url` accepted, oldest first:
    `{"id", "from", "to", "subject", "body", "text"}` (`to` lists To, Cc and Bcc)."""
    with urllib.request.urlopen(endpoint_url.rstrip("/") + "/moto-api/data.json", timeout=timeout) as response:
        models = json.load(response)
    out = []
    for message in models.get("ses", {}).get("Message", []):
        destinations = message.get("destinations") or {}
        to = [a for kind in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destinations.get(kind) or []]
        body = message.get("body") or ""
        out.append(
            {
                "id": message.get("id"),
                "from": message.get("source"),
                "to": to,
                "subject": message.get("subject"),
                "body": body,
                "text": html_to_text(body),
            }
        )
    return out


def verify_sender(endpoint_url: str, address: str, region: str = "eu-west-1") -> None:
    """Verify the sender identity in moto (SES rejects unverified senders, moto too).
    On AWS this is done once per account and region, out of band (DNS for a domain)."""
    import boto3

    ses = boto3.client(
        "ses",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    ses.verify_email_identity(EmailAddress=address)


if __name__ == "__main__":
    for mail in sent_emails(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_ENDPOINT):
        print(f"--- {mail['id']}\nFrom: {mail['from']}\nTo: {', '.join(mail['to'])}\nSubject: {mail['subject']}\n")
        print(mail["text"], end="\n\n")
