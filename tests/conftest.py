"""Shared fixtures: fakes first (no weights, no downloads)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.engine import Assistant
from assistant.llm.fake import EchoLLM, FakeLLM
from assistant.tools import Tool, ToolOutput
from assistant.types import Citation, Finding, Turn

# Never build the bundled retrieval index by accident: tests point MEDASSIST_INDEX_DIR at small
# fixture indexes; without one the retrieval tool is left out (with a warning).
os.environ.setdefault("MEDASSIST_INDEX_AUTOBUILD", "0")


@pytest.fixture(autouse=True)
def _isolated_safety_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes the audit log under ~/.cache; the learned safety classifier (mpnet) stays off unless a
    test (or MEDASSIST_TEST_SAFETY_CLASSIFIER=1) turns it on, so fake-LLM tests stay fast."""
    monkeypatch.setenv("MEDASSIST_AUDIT_DB", str(tmp_path_factory.mktemp("audit") / "audit.sqlite3"))
    monkeypatch.setenv("MEDASSIST_SAFETY_CLASSIFIER", os.environ.get("MEDASSIST_TEST_SAFETY_CLASSIFIER", "0"))


class FakeRetrieval(Tool):
    """Returns fixed snippets for every question (or none, to test 'no source found')."""

    name = "retrieval"
    description = "Search the medical literature."
    inputs = {"query": {"type": "string", "description": "the question"}}
    stage = "retrieval"

    def __init__(self, n: int = 2, text: str = "Snippet text about the topic.") -> None:
        self.n, self.text = n, text

    def select(self, turn: Turn) -> dict | None:
        return {"query": turn.text} if turn.text.strip() else None

    def forward(self, query: str) -> ToolOutput:
        hits = [Citation(id=f"doc{i}", title=f"Guideline {i}", source="Test Org", score=1.0 - i / 10,
                         text=f"{self.text} ({i})") for i in range(self.n)]
        return ToolOutput(data={"hits": [h.id for h in hits]}, citations=hits, grounding=True)


class FakeVision(Tool):
    name = "xray"
    description = "Classify a chest X-ray."
    inputs = {"image": {"type": "string", "description": "path"}}
    stage = "vision"

    def select(self, turn: Turn) -> dict | None:
        return {"image": turn.image} if turn.image else None

    def forward(self, image: str) -> ToolOutput:
        finding = Finding("PNEUMONIA", 0.87, True)
        return ToolOutput(data={"findings": [{"label": "PNEUMONIA", "probability": 0.87}]},
                          context="PNEUMONIA: probability 0.87 (threshold 0.5)", findings=[finding])


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def echo_llm() -> EchoLLM:
    return EchoLLM()


@pytest.fixture
def assistant(fake_llm: FakeLLM) -> Assistant:
    return Assistant(fake_llm, tools=[FakeRetrieval(), FakeVision()])


@pytest.fixture
def chat_server() -> Iterator[Callable[[list[dict]], tuple[str, list[dict]]]]:
    """Start a minimal OpenAI-compatible server that streams the given deltas; returns (base URL, requests)."""
    servers: list[ThreadingHTTPServer] = []

    def start(deltas: list[dict]) -> tuple[str, list[dict]]:
        requests: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                requests.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for delta in deltas:
                    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_port}/v1", requests

    yield start
    for server in servers:
        server.shutdown()
