"""SES adapter: one SendEmail call per email (plain text + HTML, UTF-8)."""

from __future__ import annotations

from typing import Any

from notifications.emails import Email


class Mailer:
    """Sends through SES from `sender` (a verified identity: address or its domain)."""

    def __init__(self, sender: str, client: Any = None) -> None:
        self.sender = sender
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("ses")
        return self._client

    def send(self, email: Email) -> str:
        """Returns SES's MessageId. A ClientError means SES refused it: nothing was sent."""
        response = self.client.send_email(
            Source=self.sender,
            Destination={"ToAddresses": list(email.to)},
            Message={
                "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": email.text, "Charset": "UTF-8"},
                    "Html": {"Data": email.html, "Charset": "UTF-8"},
                },
            },
        )
        return response["MessageId"]
