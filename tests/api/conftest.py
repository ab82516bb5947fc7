"""Fixtures of the JSON API tests: API keys of a staff user and of a plain user."""

from __future__ import annotations

import pytest
from django.test import Client

from devices.api import keys


@pytest.fixture
def staff_key(staff_user) -> str:
    return keys.create_key(name="iot-api-ui", owner=staff_user)[1]


@pytest.fixture
def read_only_key(staff_user) -> str:
    return keys.create_key(name="dashboards", owner=staff_user, read_only=True)[1]


@pytest.fixture
def plain_key(plain_user) -> str:
    return keys.create_key(name="viewer script", owner=plain_user)[1]


@pytest.fixture
def csrf_client() -> Client:
    """A client as a browser or a script is: CSRF enforced, no session."""
    return Client(enforce_csrf_checks=True)
