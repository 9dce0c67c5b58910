"""Handler-level tests: the chat handler, the service and the upload checks, with fakes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.events import FinalEvent, TokenEvent
from assistant.service import AssistantService, BusyError
from assistant.types import Citation, ToolCallRecord, Turn
from assistant.ui import ChatHandler, Session, findings_markdown, sanitise, sources_markdown
from assistant.uploads import TooLargeError, decode_data_url, validate_image_file
from vision.io import sniff_format as sniff
from tests.app.conftest import RED_FLAG, SlowLLM, make_assistant


def run(handler: ChatHandler, text: str, mode: str = "patient", files: list[str] | None = None,
        session: Session | None = None, chat: list | None = None) -> tuple[list, Session, list]:
    updates = [(list(u[0]), *u[1:]) for u in handler({"text": text, "files": files or []}, chat or [], mode,
                                                      session or Session())]  # snapshot: the list is reused
    chat, _box, banner, session = updates[-1]
    return chat, session, updates


def texts(chat: list) -> list[str]:
    return [m["content"] for m in chat if isinstance(m.get("content"), str)]


@pytest.fixture
def handler(service: AssistantService, settings) -> ChatHandler:  # type: ignore[no-untyped-def]
    return ChatHandler(service, settings)


def test_answer_streams_and_ends_with_sources(handler: ChatHandler) -> None:
    chat, session, updates = run(handler, "What is asthma?")
    assert len(updates) > 5  # one update per token, not one at the end
    partial = [u[0][1]["content"] for u in updates[1:-1] if len(u[0]) > 1]
    assert any(p and p != partial[-1] for p in partial)
    answer = chat[1]["content"]
    assert answer.startswith("This is a canned answer from the fake model [1].")
    sources = chat[-1]
    assert sources["metadata"]["title"] == "Sources (2)"
    assert "[Guideline 0](https://example.org/guideline-0) — Test Org, 2020" in sources["content"]
    assert session.history[-1] == {"role": "assistant", "content": answer}


def test_emergency_banner_on_escalation(handler: ChatHandler) -> None:
    *_, updates = run(handler, f"I have {RED_FLAG} and sweating")
    banner = updates[-1][2]
    assert banner.visible is True and "emergency" in banner.value.lower()
    *_, calm = run(handler, "What is asthma?")
    assert calm[-1][2].visible is False


def test_doctor_upload_shows_findings_heatmap_and_follow_up_reuses_image(handler: ChatHandler, service, xray_png: Path,
                                                                         heatmap_png: Path) -> None:  # type: ignore[no-untyped-def]
    chat, session, _ = run(handler, "Is there pneumonia?", "doctor", [str(xray_png)])
    table = next(t for t in texts(chat) if t.startswith("**X-ray findings**"))
    assert "| PNEUMONIA | 0.87 | yes |" in table and "threshold 0.50" in table and "fake-xray" in table
    images = [m["content"] for m in chat if m["role"] == "assistant" and isinstance(m["content"], dict)]
    assert len(images) == 1 and images[0]["alt_text"] == "Grad-CAM heatmap"
    assert Path(images[0]["path"]).read_bytes() == heatmap_png.read_bytes()
    assert "…" not in texts(chat)  # the placeholder was replaced by the answer
    vision = service.assistant.tools[1]
    chat2, _, _ = run(handler, "And the left lung?", "doctor", session=session, chat=chat)
    assert vision.images == [str(xray_png), str(xray_png)]  # follow-up: same scan, no re-upload
    assert len(session.history) == 4


def test_patient_mode_refuses_upload(handler: ChatHandler, service, xray_png: Path) -> None:  # type: ignore[no-untyped-def]
    chat, session, _ = run(handler, "look", "patient", [str(xray_png)])
    assert "doctor mode" in chat[-1]["content"] and session.image is None
    assert service.assistant.tools[1].images == []


@pytest.mark.parametrize("content,expected", [
    (b"%PDF-1.4 not an image" * 10, "not a PNG, JPEG or DICOM"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "corrupt or truncated"),
    (b"\xff\xd8\xff" + b"x" * 2_000_000, "limit is 1 MB"),
])
def test_bad_uploads_get_one_sentence(handler: ChatHandler, tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "upload.png"
    path.write_bytes(content)
    chat, session, _ = run(handler, "check", "doctor", [str(path)])
    assert expected in chat[-1]["content"] and session.image is None


def test_model_html_is_escaped(heatmap_png: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from assistant.llm.fake import FakeLLM

    svc = AssistantService(lambda: make_assistant(str(heatmap_png), FakeLLM(reply="<img src=x onerror=alert(1)> hi")))
    chat, _, _ = run(ChatHandler(svc, settings), "What is asthma?")
    assert "<img" not in chat[1]["content"] and "&lt;img src=x onerror=alert(1)&gt;" in chat[1]["content"]


def test_loading_progress_then_answer(heatmap_png: Path, settings) -> None:  # type: ignore[no-untyped-def]
    def slow_factory():  # type: ignore[no-untyped-def]
        time.sleep(1.5)
        return make_assistant(str(heatmap_png))

    svc = AssistantService(slow_factory)
    chat, _, updates = run(ChatHandler(svc, settings), "What is asthma?")
    assert any("Loading the model and tools" in str(u[0][-1]["content"]) for u in updates)
    assert chat[1]["content"].startswith("This is a canned answer")


def test_load_failure_is_one_sentence(settings) -> None:  # type: ignore[no-untyped-def]
    from assistant.errors import ModelError

    def broken():  # type: ignore[no-untyped-def]
        raise ModelError("The model files are missing: run `medassist models fetch NAME`.")

    svc = AssistantService(broken)
    svc.wait_ready(5)
    assert svc.status()["status"] == "error"
    chat, _, _ = run(ChatHandler(svc, settings), "hi")
    assert chat[-1]["content"].startswith("The model could not be loaded: The model files are missing")


def test_service_says_busy_and_keeps_serving(heatmap_png: Path) -> None:
    svc = AssistantService(lambda: make_assistant(str(heatmap_png), SlowLLM(0.05)), max_waiting=1)
    svc.wait_ready(5)
    first, second = svc.submit(Turn("What is asthma?")), svc.submit(Turn("What is a cough?"))
    with pytest.raises(BusyError, match="busy"):
        svc.submit(Turn("third"))
    assert isinstance(list(first)[-1], FinalEvent) and isinstance(list(second)[-1], FinalEvent)
    assert isinstance(list(svc.run(Turn("now it fits")))[-1], FinalEvent)


def test_cancelled_turn_stops_and_worker_moves_on(heatmap_png: Path) -> None:
    llm = SlowLLM(0.02, reply=" ".join(["word"] * 100))
    svc = AssistantService(lambda: make_assistant(str(heatmap_png), llm), max_waiting=4)
    svc.wait_ready(5)
    stream = svc.run(Turn("long answer please"))
    assert any(isinstance(e, TokenEvent) for e in (next(stream) for _ in range(6)))
    stream.close()  # the client went away
    result = list(svc.run(Turn("next user")))[-1]
    assert isinstance(result, FinalEvent) and len(result.result.answer.split()) == 100
    assert llm.yielded < 150  # the first answer stopped early instead of running its 100 words


@pytest.mark.parametrize("head,kind", [
    (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff\xe0", "jpeg"), (b"\x00" * 128 + b"DICM", "dicom"),
    (b"GIF89a", None), (b"", None), (b"<html>", None),
])
def test_sniff(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


def test_validate_real_dicom() -> None:
    from pydicom.data import get_testdata_file

    assert validate_image_file(get_testdata_file("CT_small.dcm")) == "dicom"


def test_decode_data_url(xray_png: Path, tmp_path: Path) -> None:
    import base64

    url = "data:image/png;base64," + base64.b64encode(xray_png.read_bytes()).decode()
    out = decode_data_url(url, tmp_path)
    assert out.read_bytes() == xray_png.read_bytes() and out.suffix == ".png"
    with pytest.raises(InputError, match="data URLs"):
        decode_data_url("https://example.org/x.png", tmp_path)
    with pytest.raises(InputError, match="not valid base64"):
        decode_data_url("data:image/png;base64,@@@", tmp_path)
    with pytest.raises(TooLargeError):
        decode_data_url(url, tmp_path, max_bytes=100)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("medassist-upload")] == [out.name]


def test_render_helpers() -> None:
    c = Citation("d", "<b>Title</b>", "WHO", 0.9, url="javascript:alert(1)", year=2021, number=1)
    assert sources_markdown([c]) == "1. &lt;b&gt;Title&lt;/b&gt; — WHO, 2021"  # no javascript: link
    c.entities = [{"id": "HP:0001945", "name": "Fever", "kind": "phenotype"}]
    assert sources_markdown([c]).endswith("*Terms:* Fever (HP:0001945)")
    assert sanitise("a < b & c") == "a &lt; b &amp; c"
    err = ToolCallRecord("xray", {}, None, error="Not a chest X-ray.")
    assert findings_markdown(err) == "**X-ray tool:** Not a chest X-ray."


def test_serving_bench_smoke(tmp_path: Path) -> None:
    import json

    from bench import serving

    out = tmp_path / "serving.json"
    assert serving.main(["--smoke", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["sessions"] for r in rows] == [1, 2] and all(r["errors"] == 0 for r in rows)
    assert all(r["ttft_p50_ms"] is not None and r["healthz_p99_ms"] is not None for r in rows)


def test_ui_says_busy_when_the_line_is_full(heatmap_png: Path, settings) -> None:  # type: ignore[no-untyped-def]
    svc = AssistantService(lambda: make_assistant(str(heatmap_png), SlowLLM(0.05)), max_waiting=0)
    svc.wait_ready(5)
    running = svc.run(Turn("What is asthma?"))
    next(running)  # the worker is busy with this turn
    chat, _, _ = run(ChatHandler(svc, settings), "What is a cough?")
    assert "busy" in chat[-1]["content"] and "try again" in chat[-1]["content"]
    running.close()


def test_idle_conversation_is_forgotten_after_retention() -> None:
    from assistant.ui import _expire

    chat = [{"role": "user", "content": "hi"}]
    fresh = Session(history=[{"role": "user", "content": "hi"}], image="/tmp/x.png")
    assert _expire(chat, fresh, ttl=60) == ({"__type__": "update"}, {"__type__": "update"})  # gr.skip(): kept
    stale = Session(history=list(fresh.history), image="/tmp/x.png", last_active=time.time() - 61)
    cleared_chat, cleared = _expire(chat, stale, ttl=60)
    assert cleared_chat == [] and cleared.history == [] and cleared.image is None


def test_service_warms_the_guardrails_up_before_it_is_ready() -> None:
    from assistant.engine import Assistant
    from assistant.llm.fake import FakeLLM
    from assistant.safety import Guardrails

    class Counting(Guardrails):
        warmed = 0

        def warm_up(self) -> None:
            Counting.warmed += 1

    svc = AssistantService(lambda: Assistant(FakeLLM(reply="ok"), guardrails=Counting()))
    assert svc.wait_ready(timeout=10) and Counting.warmed == 1
