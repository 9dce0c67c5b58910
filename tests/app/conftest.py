"""Fixtures for the app tests: a fake Assistant behind the real service, small images, live servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.engine import Assistant
from assistant.llm.fake import FakeLLM
from assistant.safety import Guardrails
from assistant.service import AssistantService
from assistant.tools import ToolOutput
from assistant.types import SafetyDecision, Turn
from tests.conftest import FakeRetrieval, FakeVision

RED_FLAG = "crushing chest pain"


class EscalatingGuardrails(Guardrails):
    """Escalates on one known phrase (the real safety layer is built elsewhere)."""

    name = "test-escalate"

    def check_input(self, turn: Turn) -> SafetyDecision:
        if RED_FLAG in turn.text.lower():
            return SafetyDecision("escalate", ["red_flag:chest_pain"], "Call emergency services now.")
        return SafetyDecision()


class SourcedRetrieval(FakeRetrieval):
    """FakeRetrieval whose snippets carry a link and a year, like real hits."""

    def forward(self, query: str) -> ToolOutput:
        out = super().forward(query)
        for i, c in enumerate(out.citations):
            c.url, c.year = f"https://example.org/guideline-{i}", 2020 + i
        return out


class HeatmapVision(FakeVision):
    """FakeVision with the vision tool's full output shape, including a heatmap PNG, and a call log."""

    def __init__(self, heatmap: str | None) -> None:
        self.heatmap = heatmap
        self.images: list[str] = []

    def forward(self, image: str) -> ToolOutput:
        self.images.append(image)
        out = super().forward(image)
        out.data.update({"threshold": 0.5, "model": "fake-xray", "heatmap": self.heatmap,
                         "is_chest_xray": True, "note": "Test classifier."})
        return out


class SlowLLM(FakeLLM):
    """FakeLLM that sleeps between words, so streams and queues can be observed."""

    def __init__(self, delay: float = 0.02, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.delay = delay
        self.yielded = 0

    def stream(self, messages, config):  # type: ignore[no-untyped-def]
        for word in super().stream(messages, config):
            time.sleep(self.delay)
            self.yielded += 1
            yield word


def write_png(path: Path, size: int = 64, colour: tuple[int, int, int] = (90, 90, 90)) -> Path:
    from PIL import Image

    Image.new("RGB", (size, size), colour).save(path)
    return path


@pytest.fixture
def xray_png(tmp_path: Path) -> Path:
    return write_png(tmp_path / "xray.png", 128)


@pytest.fixture
def heatmap_png(tmp_path: Path) -> Path:
    return write_png(tmp_path / "heatmap.png", 64, (220, 40, 40))


def make_assistant(heatmap: str | None = None, llm: FakeLLM | None = None) -> Assistant:
    return Assistant(llm or FakeLLM(), tools=[SourcedRetrieval(), HeatmapVision(heatmap)],
                     guardrails=EscalatingGuardrails())


@pytest.fixture
def service(heatmap_png: Path) -> AssistantService:
    svc = AssistantService(lambda: make_assistant(str(heatmap_png)), max_waiting=2)
    assert svc.wait_ready(10)
    return svc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn on 127.0.0.1 in a thread, stopped at teardown."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def settings() -> Settings:
    return Settings(llm="fake", api_keys="test-key,other-key", api_rate_limit=1000, max_upload_mb=1.0)


@pytest.fixture
def api_server(service: AssistantService, settings: Settings) -> Iterator[LiveServer]:
    from assistant.api import create_app

    with LiveServer(create_app(service, settings)) as server:
        yield server
