"""End to end in a real headless browser: Playwright driving Debian's Chromium (`/usr/bin/chromium`).

Set MEDASSIST_SCREENSHOTS=DIR to save screenshots of both modes (docs/screenshots/ in the README).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.service import AssistantService
from assistant.ui import build_ui
from tests.app.conftest import RED_FLAG, SlowLLM, free_port, make_assistant

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("MEDASSIST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.app.conftest import write_png

    heatmap = write_png(tmp_path_factory.mktemp("heat") / "heatmap.png", 150, (220, 60, 40))
    service = AssistantService(lambda: make_assistant(str(heatmap), SlowLLM(0.08)))
    demo = build_ui(service, Settings(llm="fake"))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install it with `apt-get install -y chromium` (scripts/setup.sh does).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(app_url)
        page.wait_for_selector("#box textarea")
        yield page
        browser.close()


def _shot(page: object, name: str) -> None:
    folder = os.environ.get("MEDASSIST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        # show the whole conversation rather than the chat's scrolled window
        page.add_style_tag(content="#chat, #chat * { height: auto !important; max-height: none !important; }")  # type: ignore[attr-defined]
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
        page.screenshot(path=str(Path(folder) / name), full_page=True)  # type: ignore[attr-defined]


def _ask(page: object, text: str) -> None:
    box = page.locator("#box textarea")  # type: ignore[attr-defined]
    box.fill(text)
    box.press("Enter")


def _wait_answered(page: object) -> None:
    """Wait until the answer has finished streaming (the chat box is enabled again)."""
    page.wait_for_function("() => { const t = document.querySelector('#box textarea');"  # type: ignore[attr-defined]
                           " return t && !t.disabled; }")


def _last_bot_texts(page: object) -> list[str]:
    return page.locator("#chat .message-row.bot-row").all_inner_texts()  # type: ignore[attr-defined]


def test_patient_question_streams_with_sources(page: object) -> None:
    page.get_by_text("How is high blood pressure usually treated?").click()  # type: ignore[attr-defined]
    page.wait_for_function("() => document.querySelector('#box textarea').value"  # type: ignore[attr-defined]
                           " === 'How is high blood pressure usually treated?'")  # example fills the box
    _ask(page, "What is asthma?")
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        texts = _last_bot_texts(page)
        if texts:
            seen.add(texts[0])
            if "clinician." in texts[0]:
                break
        time.sleep(0.05)
    partial = [t for t in seen if "canned" in t and "clinician." not in t]
    assert len(partial) >= 2, f"no streaming seen: {seen}"
    sources = page.get_by_text("Sources (2)")  # type: ignore[attr-defined]
    sources.wait_for()
    sources.click()
    link = page.locator("#chat a[href='https://example.org/guideline-0']")  # type: ignore[attr-defined]
    link.wait_for()
    assert "Guideline 0" in link.inner_text()
    assert "not a diagnosis" in page.locator("#notice").inner_text()  # type: ignore[attr-defined]
    page.wait_for_timeout(400)  # type: ignore[attr-defined]  # let the accordion finish opening
    _shot(page, "patient-mode.png")


def test_red_flag_shows_emergency_banner(page: object) -> None:
    banner = page.locator("#emergency-banner")  # type: ignore[attr-defined]
    assert not banner.is_visible()
    _ask(page, f"I have {RED_FLAG} spreading to my arm")
    banner.wait_for(state="visible")
    assert "emergency" in banner.inner_text().lower()
    _wait_answered(page)


def test_doctor_upload_shows_findings_and_heatmap(page: object, tmp_path: Path) -> None:
    from tests.app.conftest import write_png

    page.get_by_role("button", name="New conversation").click()  # type: ignore[attr-defined]
    page.locator("#mode").get_by_text("doctor", exact=True).click()  # type: ignore[attr-defined]
    xray = write_png(tmp_path / "chest.png", 200, (120, 120, 120))
    page.locator("#box input[type=file]").set_input_files(str(xray))  # type: ignore[attr-defined]
    page.locator("#box img").first.wait_for()  # type: ignore[attr-defined]  # the upload finished: thumbnail shown
    _ask(page, "Is there pneumonia?")
    table = page.locator("#chat table")  # type: ignore[attr-defined]
    table.wait_for()
    assert "PNEUMONIA" in table.inner_text() and "0.87" in table.inner_text()
    heat = page.locator("#chat img[src*='heatmap-']")  # type: ignore[attr-defined]
    heat.scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector(\"#chat img[src*='heatmap-']\");"  # type: ignore[attr-defined]
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert heat.evaluate("img => img.naturalWidth") == 150  # the heatmap PNG itself was served and decoded
    page.get_by_text("Sources (2)").last.wait_for()  # type: ignore[attr-defined]
    _wait_answered(page)
    _shot(page, "doctor-mode.png")
    _ask(page, "And the left lung?")  # follow-up about the same scan, no re-upload
    page.wait_for_function("document.querySelectorAll('#chat table').length >= 2")  # type: ignore[attr-defined]
    page.get_by_text("Sources (2)").nth(1).wait_for()  # type: ignore[attr-defined]
