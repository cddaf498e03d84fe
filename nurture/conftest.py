"""Shared fixtures: an owner (alice), a teammate (bob) and an outsider (charlie) for every permission test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Browser, Page, sync_playwright

from nurture.accounts.actions import create_api_key
from nurture.accounts.models import Team, User


@pytest.fixture
def team(db: Any) -> Team:
    return Team.objects.create(name="Hà Nội")


@pytest.fixture
def admin_user(db: Any) -> User:
    return User.objects.create_user(
        username="admin", password="pw-admin-123", role=User.Role.ADMIN, first_name="Quản", last_name="Trị"
    )


@pytest.fixture
def alice(team: Team) -> User:
    return User.objects.create_user(username="alice", password="pw-alice-123", role=User.Role.SALES_REP, team=team)


@pytest.fixture
def bob(team: Team) -> User:
    return User.objects.create_user(username="bob", password="pw-bob-123", role=User.Role.SALES_REP, team=team)


@pytest.fixture
def charlie(db: Any) -> User:
    other = Team.objects.create(name="Đà Nẵng")
    return User.objects.create_user(username="charlie", password="pw-charlie-123", role=User.Role.SALES_REP, team=other)


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def api_key(admin_user: User) -> str:
    _key, raw = create_api_key(
        name="test", scopes=["leads:write", "contacts:read", "contacts:write"], created_by=admin_user
    )
    return raw


@pytest.fixture
def api(api_key: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {api_key}"})


# Playwright's sync API keeps an event loop in this thread; the ORM calls made here are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("button[type=submit]").first.click()
