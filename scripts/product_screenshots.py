"""Screenshots of the real product: `medassist ui` with the real tools and model, driven in Chromium.

The browser tests (tests/app/test_app_browser.py) prove the UI with fakes; this script shows what a
user sees with the embedded model, the bundled index and the packaged X-ray classifier. It talks to
an app that is already running:

    .venv/bin/medassist ui --port 7861 &
    PYTHONPATH=. .venv/bin/python scripts/product_screenshots.py --url http://127.0.0.1:7861/ --out docs/screenshots
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.assets import package_dir

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PATIENT_Q = "How is the severity of community-acquired pneumonia assessed?"
DOCTOR_Q = "Is there evidence of pneumonia on this chest X-ray?"


def _answered(page) -> None:
    page.wait_for_function("() => { const t = document.querySelector('#box textarea'); return t && !t.disabled; }")


def _shot(page, path: Path) -> None:
    page.add_style_tag(content="#chat, #chat * { height: auto !important; max-height: none !important; }")
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    xray = sorted((package_dir("pneumonia_model_package") / "datasets/pneumonia-data/val").glob("person*.jpeg"))[0]
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        for mode, question in (("patient", PATIENT_Q), ("doctor", DOCTOR_Q)):
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.set_default_timeout(900_000)
            page.goto(args.url)
            page.wait_for_selector("#box textarea")
            page.wait_for_function("() => document.querySelector('#status').innerText.includes('Model ready')")
            if mode == "doctor":
                page.get_by_label("doctor").check()
                page.locator("#box input[type=file]").set_input_files(str(xray))
                page.locator("#box img").first.wait_for()
            box = page.locator("#box textarea")
            box.fill(question)
            box.press("Enter")
            page.wait_for_timeout(2000)
            _answered(page)
            page.get_by_text("Sources (").last.click()
            _shot(page, args.out / f"product-{mode}-mode.png")
            print(f"wrote {args.out / f'product-{mode}-mode.png'}")
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
