"""The HTTP API through the official `openai` client (and raw httpx for bad input) on live uvicorn."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import openai
import pytest

from assistant.api import create_app
from assistant.config import Settings
from tests.app.conftest import RED_FLAG, LiveServer


def client(server: LiveServer, key: str = "test-key") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=30)


def data_url(path: Path, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def test_completion_with_extras(api_server: LiveServer) -> None:
    out = client(api_server).chat.completions.create(
        model="medassist", messages=[{"role": "user", "content": "What is asthma?"}])
    assert out.choices[0].message.content.startswith("This is a canned answer from the fake model [1].")
    extra = out.model_extra
    assert [c["number"] for c in extra["citations"]] == [1, 2]
    assert extra["citations"][0]["url"] == "https://example.org/guideline-0"
    assert extra["safety"] == {"action": "answer", "reasons": []} and extra["findings"] is None


def test_streaming_ends_with_done_and_extras(api_server: LiveServer) -> None:
    stream = client(api_server).chat.completions.create(
        model="medassist", stream=True, messages=[{"role": "user", "content": f"I have {RED_FLAG}"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("Call emergency services now.") and len(chunks) > 5
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["safety"] == {"action": "escalate", "reasons": ["red_flag:chest_pain"]}
    with httpx.stream("POST", api_server.url + "/v1/chat/completions", headers={"Authorization": "Bearer test-key"},
                      json={"stream": True, "messages": [{"role": "user", "content": "hi"}]}) as raw:
        lines = [line for line in raw.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and raw.headers["content-type"].startswith("text/event-stream")


def test_image_data_url_in_doctor_mode(api_server: LiveServer, xray_png: Path) -> None:
    content = [{"type": "text", "text": "Is there pneumonia?"},
               {"type": "image_url", "image_url": {"url": data_url(xray_png)}}]
    out = client(api_server).chat.completions.create(
        model="medassist-doctor", messages=[{"role": "user", "content": content}])
    assert out.model_extra["findings"] == [{"label": "PNEUMONIA", "probability": 0.87, "positive": True}]
    xray = [t for t in out.model_extra["tools"] if t["name"] == "xray"][0]
    assert not Path(xray["input"]["image"]).exists()  # the temporary upload is deleted after the turn


def test_history_is_passed(api_server: LiveServer) -> None:
    out = client(api_server).chat.completions.create(model="medassist", messages=[
        {"role": "system", "content": "ignored"}, {"role": "user", "content": "What is asthma?"},
        {"role": "assistant", "content": "A lung condition."}, {"role": "user", "content": "How is it treated?"}])
    assert out.choices[0].message.content


def test_models_and_healthz(api_server: LiveServer) -> None:
    ids = [m.id for m in client(api_server).models.list()]
    assert ids == ["medassist", "medassist-patient", "medassist-doctor"]
    health = httpx.get(api_server.url + "/healthz").json()
    assert health["status"] == "ok" and health["model"] == "fake"


def test_bad_key_is_401_and_server_keeps_serving(api_server: LiveServer) -> None:
    with pytest.raises(openai.AuthenticationError) as err:
        client(api_server, "wrong").chat.completions.create(model="medassist", messages=[{"role": "user", "content": "hi"}])
    assert "Invalid or missing API key" in str(err.value)
    assert httpx.post(api_server.url + "/v1/chat/completions", json={"messages": []}).status_code == 401
    assert client(api_server, "other-key").chat.completions.create(
        model="medassist", messages=[{"role": "user", "content": "hi"}]).choices


@pytest.mark.parametrize("body,status,phrase", [
    ({"messages": []}, 422, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 422, "Invalid request"),
    ({"messages": [{"role": "user", "content": "   "}]}, 422, "empty"),
    ({"stream": True, "messages": [{"role": "user", "content": ""}]}, 422, "empty"),
    ({"messages": [{"role": "assistant", "content": "x"}]}, 422, "last message"),
    ({"role": "doctor", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(b"%PDF" * 50).decode()}}]}]},
     422, "not a PNG, JPEG or DICOM"),
    ({"role": "patient", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, 422, "doctor mode"),
    ({"role": "doctor", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.org/x.png"}}]}]}, 422, "data URLs"),
    ({"role": "doctor", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 1_400_000}}]}]}, 413, "limit"),
])
def test_bad_requests_get_clean_errors(api_server: LiveServer, body: dict, status: int, phrase: str) -> None:
    r = httpx.post(api_server.url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer test-key"})
    assert r.status_code == status
    error = r.json()["error"]
    assert phrase in error["message"] and "Traceback" not in r.text


def test_oversized_body_is_413(api_server: LiveServer) -> None:
    r = httpx.post(api_server.url + "/v1/chat/completions", content=b"x" * 3_000_000,
                   headers={"Authorization": "Bearer test-key", "Content-Type": "application/json"})
    assert r.status_code == 413 and "upload limit" in r.json()["error"]["message"]


def test_rate_limit_burst_gets_429_per_key(service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(llm="fake", api_keys="a,b", api_rate_limit=3)
    with LiveServer(create_app(service, settings)) as server:
        codes = [httpx.get(server.url + "/v1/models", headers={"Authorization": "Bearer a"}).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        with pytest.raises(openai.RateLimitError):
            client(server, "a").models.list()
        assert client(server, "b").models.list().data  # another key has its own budget
        r = httpx.get(server.url + "/v1/models", headers={"Authorization": "Bearer a"})
        assert int(r.headers["Retry-After"]) >= 1


def test_dropped_stream_does_not_stop_the_server(heatmap_png: Path, settings: Settings) -> None:
    from assistant.service import AssistantService
    from tests.app.conftest import SlowLLM, make_assistant

    llm = SlowLLM(0.02, reply=" ".join(["word"] * 150))
    svc = AssistantService(lambda: make_assistant(str(heatmap_png), llm))
    svc.wait_ready(5)
    with LiveServer(create_app(svc, settings)) as server:
        with httpx.stream("POST", server.url + "/v1/chat/completions", headers={"Authorization": "Bearer test-key"},
                          json={"stream": True, "messages": [{"role": "user", "content": "long"}]}) as raw:
            for i, _ in enumerate(raw.iter_lines()):
                if i > 4:
                    break  # hang up mid-stream
        out = client(server).chat.completions.create(model="medassist", messages=[{"role": "user", "content": "next"}])
        assert len(out.choices[0].message.content.split()) == 150
        assert llm.yielded < 250  # the abandoned answer was stopped, not generated to the end


def test_gradio_mounted_under_same_server(service, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from assistant.ui import build_ui

    with LiveServer(create_app(service, settings, ui=build_ui(service, settings))) as server:
        page = httpx.get(server.url + "/ui/", follow_redirects=True)
        assert page.status_code == 200 and "gradio" in page.text.lower()
        assert httpx.get(server.url + "/healthz").json()["status"] == "ok"


def test_queued_stream_gets_keepalive_comments(heatmap_png: Path, settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    from assistant import api
    from assistant.service import AssistantService
    from tests.app.conftest import SlowLLM, make_assistant

    monkeypatch.setattr(api, "KEEPALIVE_S", 0.1)
    svc = AssistantService(lambda: make_assistant(str(heatmap_png), SlowLLM(0.05, reply=" ".join(["w"] * 30))))
    svc.wait_ready(5)
    with LiveServer(create_app(svc, settings)) as server:
        first = threading.Thread(target=lambda: client(server).chat.completions.create(
            model="medassist", messages=[{"role": "user", "content": "first"}]))
        first.start()
        while svc.waiting == 0:  # the first turn has reached the worker's line
            time.sleep(0.01)
        with httpx.stream("POST", server.url + "/v1/chat/completions", headers={"Authorization": "Bearer test-key"},
                          json={"stream": True, "messages": [{"role": "user", "content": "second"}]}) as raw:
            lines = [line for line in raw.iter_lines() if line]
        first.join()
    assert ": waiting for the model" in lines and lines[-1] == "data: [DONE]"
    assert any('"content": "w ' in line or '"content": "w"' in line for line in lines)
