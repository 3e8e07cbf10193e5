"""Clients shared by the handlers of this package (created at import: warm invocations reuse them)."""

from __future__ import annotations

import os

import boto3


def table(env_var: str):
    return boto3.resource("dynamodb").Table(os.environ[env_var])
