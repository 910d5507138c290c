"""The chat page in a real browser: Playwright driving Debian's chromium, headless."""

import shutil
from pathlib import Path

import httpx

from tests.service.conftest import Server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SEED_REQUEST = (
    "**Feature Request:**\n- **Feature:** `smoke_test`\n"
    '- **Description:** "Ensure builder functional"\n- **Requirements:** "none"'
)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_typing_the_seed_request_builds_it_live(server: Server) -> None:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(executable).exists(), (
        "install Debian's chromium: bash scripts/system-deps.sh --tests"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(server.url + "/")
            assert page.title() == "PetSage Builder"
            box = page.locator("#message")
            box.fill(SEED_REQUEST)
            box.press("Enter")
            page.wait_for_selector(".status", timeout=120_000)
            status = page.locator(".status").inner_text()
            page.screenshot(path=str(ARTIFACTS / "chat-smoke-test.png"), full_page=True)
            text = page.locator("#log").inner_text()
        finally:
            browser.close()
    assert status == "succeeded"
    assert "Building `smoke_test`" in text
    for stage in ("received", "validated", "tested", "committed", "done"):
        assert stage in text
    assert "src/features/smoke_test/smoke_test_router.py" in text
    assert "+app.include_router(smoke_test_router.router" in text
    assert (ARTIFACTS / "chat-smoke-test.png").stat().st_size > 1000


def test_a_token_given_once_leaves_the_address_bar_and_the_page_still_builds(
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    server = Server(tmp_path / "petsage_backend", env={"PETSAGE_API_TOKENS": "alpha"}).start()
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_FLAGS
            )
            try:
                page = browser.new_page()
                page.goto(server.url + "/?token=alpha")
                assert page.evaluate("location.href") == server.url + "/"
                assert page.evaluate("sessionStorage.getItem('petsage-token')") == "alpha"
                box = page.locator("#message")
                box.fill(SEED_REQUEST)
                box.press("Enter")
                page.wait_for_selector(".status", timeout=120_000)
                status = page.locator(".status").inner_text()
                text = page.locator("#log").inner_text()
            finally:
                browser.close()
    finally:
        server.stop()
    assert status == "succeeded"
    assert "done" in text
    assert "alpha" not in server.log.read_text()


def test_the_page_lists_pull_requests_with_their_state_against_the_base(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.service.conftest import wait_final

    server = Server(tmp_path / "petsage_backend").start()
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            request = {"feature": "smoke_test", "description": "d", "requirements": "none"}
            posted = client.post("/api/v1/builds", json={**request, "open_pr": True}).json()
            result = wait_final(client, posted["id"])
            pull = result["pull_request"]
            assert result["status"] == "succeeded" and pull, result["reasons"]
            executable = shutil.which("chromium") or "/usr/bin/chromium"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=executable, headless=True, args=CHROMIUM_FLAGS
                )
                try:
                    page = browser.new_page()
                    page.goto(server.url + "/")
                    page.wait_for_selector("#pulls li.up_to_date", timeout=30_000)
                    before = page.locator("#pulls").inner_text()
                    assert client.post(f"/api/v1/pulls/{pull['id']}/merge").status_code == 200
                    page.reload()
                    page.wait_for_selector("#pulls li.merged", timeout=30_000)
                    after = page.locator("#pulls").inner_text()
                finally:
                    browser.close()
    finally:
        server.stop()
    assert f"{pull['id']} feature/smoke_test → main: up to date" in before
    assert f"{pull['id']} feature/smoke_test → main: merged" in after
