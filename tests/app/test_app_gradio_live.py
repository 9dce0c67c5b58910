"""The Gradio app on a live server, driven through `gradio_client` as a remote user would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from assistant.config import Settings
from assistant.service import AssistantService
from assistant.ui import build_ui
from tests.app.conftest import free_port


@pytest.fixture
def ui_client(service: AssistantService, settings: Settings) -> Iterator[Client]:
    demo = build_ui(service, settings)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def _texts(chat: list[dict]) -> list[str]:
    return [part["text"] for m in chat for part in m["content"] if part.get("type") == "text"]


def test_streaming_answer_with_sources(ui_client: Client) -> None:
    job = ui_client.submit({"text": "What is asthma?", "files": []}, [], "patient", api_name="/chat")
    updates = list(job)
    assert len(updates) > 3  # streamed: several updates for one answer
    chat = job.result()[0]
    assert _texts(chat)[1].startswith("This is a canned answer from the fake model [1].")
    sources = chat[-1]
    assert sources["metadata"]["title"] == "Sources (2)" and "Guideline 1" in _texts([sources])[0]


def test_upload_in_doctor_mode_and_mode_switch(ui_client: Client, xray_png: Path) -> None:
    message = {"text": "Is there pneumonia?", "files": [handle_file(str(xray_png))]}
    patient = ui_client.predict(message, [], "patient", api_name="/chat")[0]
    assert "available in doctor mode" in _texts(patient)[-1]
    doctor = ui_client.predict(message, [], "doctor", api_name="/chat")[0]
    texts = _texts(doctor)
    assert any("| PNEUMONIA | 0.87 | yes |" in t for t in texts)
    files = [part["file"] for m in doctor for part in m["content"] if part.get("type") == "file"]
    assert any(str(f).endswith(".png") and "heatmap-" in str(f) for f in files)  # Grad-CAM, inline


def test_non_image_upload_is_refused_and_app_keeps_serving(ui_client: Client, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image at all " * 20)
    chat = ui_client.predict({"text": "x", "files": [handle_file(str(bad))]}, [], "doctor", api_name="/chat")[0]
    assert "not a PNG, JPEG or DICOM" in _texts(chat)[-1]
    again = ui_client.predict({"text": "What is asthma?", "files": []}, [], "patient", api_name="/chat")[0]
    assert _texts(again)[1].startswith("This is a canned answer")
