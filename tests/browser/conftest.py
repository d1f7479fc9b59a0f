"""Real-browser tests: the app served on a local port, driven by Debian's Chromium through Playwright.

They run once, on SQLite: what they check is the pages in a browser (forms,
links, no JavaScript needed), which does not depend on the database engine;
the per-backend behaviour is covered by the test-client tests.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from scheduler import create_app
from scheduler.extensions import db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Overrides the per-backend fixture of tests/conftest.py: one migrated SQLite file for the browser tests."""
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'browser.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def live_server(app):
    """The app on 127.0.0.1 and a free port, in a thread, on the test database; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (`make browser` installs Debian's package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _page(browser, *, java_script_enabled: bool):
    context = browser.new_context(java_script_enabled=java_script_enabled, viewport={"width": 1024, "height": 800})
    context.set_default_timeout(10_000)
    return context, context.new_page()


@pytest.fixture
def page(browser, live_server):
    context, page = _page(browser, java_script_enabled=True)
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser, live_server):
    context, page = _page(browser, java_script_enabled=False)
    yield page
    context.close()


@pytest.fixture
def screenshot(request):
    """Save a full-page screenshot under test-artifacts/, named after the test (and a step)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, step: str = "") -> Path:
        name = request.node.name + (f"-{step}" if step else "")
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
