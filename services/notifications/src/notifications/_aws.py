"""Clients shared by the handlers of this package: named at import, created on first use (a cold
start's INIT creates none), reused by warm invocations."""

from __future__ import annotations

import os

from shared.lazy import dynamodb_table


def table(env_var: str):
    return dynamodb_table(os.environ[env_var])
