"""OpenAI-compatible HTTP API over the shared `AssistantService` (FastAPI).

Endpoints: `POST /v1/chat/completions` (plain JSON or server-sent events ending in
`data: [DONE]`), `GET /v1/models`, `GET /healthz` (no key needed). The Gradio app can be mounted
under the same server at `/ui`.

Notable choices:
- The last user message is the question; earlier user/assistant messages are the history; the
  client's system messages are ignored (MedAssist's own prompts and rails apply). The role is
  the extra body field `role` ("patient" or "doctor") or the model id `medassist-doctor`.
- Images come as OpenAI `image_url` parts holding base64 data URLs (remote URLs are never
  fetched), are decoded to a temporary file under the upload limits and deleted after the turn.
- MedAssist's extra results ride along in the OpenAI shapes: `citations`, `findings` and
  `safety` at the top of a completion and of the last stream chunk.
- A streamed turn waiting behind others gets an SSE comment every 15 s, so clients and proxies do
  not time out while it waits.
- Errors use OpenAI's `{"error": {"message", "type", "code"}}` body: 401 bad key, 413 too large,
  422 bad request, 429 over the per-key rate limit, 503 busy or still loading. No tracebacks.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.config import Settings
from assistant.errors import InputError, MedAssistError
from assistant.events import AnswerResult, FinalEvent, TokenEvent
from assistant.service import AssistantService, BusyError, NotReadyError
from assistant.types import Message, Turn
from assistant.uploads import TooLargeError, decode_data_url

log = logging.getLogger(__name__)
MODEL_IDS = ("medassist", "medassist-patient", "medassist-doctor")
KEEPALIVE_S = 15.0  # seconds between SSE comments while a streamed turn waits for the model
_WAITING = object()


# ---- request models -------------------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: dict[str, Any] | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat request MedAssist honours (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")
    model: str = "medassist"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    role: Literal["patient", "doctor"] | None = None
    patient: dict[str, Any] | list[Any] | None = None  # doctor mode: our patient JSON or FHIR resources


class APIError(Exception):
    """An error answered with an OpenAI-style body and an HTTP status."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers


def _error_body(message: str, code: str) -> dict[str, Any]:
    kind = "invalid_request_error" if code not in ("server_error", "busy") else "server_error"
    return {"error": {"message": message, "type": kind, "code": code}}


def _from_medassist(exc: MedAssistError) -> APIError:
    if isinstance(exc, TooLargeError):
        return APIError(413, str(exc), "file_too_large")
    if isinstance(exc, BusyError):
        return APIError(503, str(exc), "busy", {"Retry-After": "10"})
    if isinstance(exc, NotReadyError):
        return APIError(503, str(exc), "model_not_ready", {"Retry-After": "10"})
    if isinstance(exc, InputError):
        return APIError(422, str(exc), "invalid_input")
    return APIError(500, str(exc), "server_error")


# ---- auth and rate limiting -----------------------------------------------------------------
@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per client: `per_minute` requests a minute, bursts up to `per_minute`."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, who: str) -> float:
        """Take one request for `who`; return 0, or the seconds to wait when over the limit."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            b = self._buckets.setdefault(who, _Bucket(float(self.per_minute), now))
            b.tokens = min(float(self.per_minute), b.tokens + (now - b.updated) * rate)
            b.updated = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / rate


def _keys(settings: Settings) -> list[str]:
    raw = settings.api_keys.get_secret_value() if settings.api_keys else ""
    return [k.strip() for k in raw.split(",") if k.strip()]


def _client_id(request: Request, keys: list[str]) -> str:
    """The API key for this request (checked), or the client address when no keys are set."""
    if not keys:
        return "addr:" + (request.client.host if request.client else "unknown")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not any(hmac.compare_digest(token, k) for k in keys):
        raise APIError(401, "Invalid or missing API key: send it as 'Authorization: Bearer KEY'.", "invalid_api_key")
    return "key:" + token


# ---- the app --------------------------------------------------------------------------------
def create_app(service: AssistantService, settings: Settings, ui: Any = None) -> FastAPI:
    """The FastAPI app. Pass a Gradio `Blocks` as `ui` to serve it at `/ui` too.

    Args:
        service: the shared, background-loaded Assistant.
        settings: keys, rate limit and upload limit are read from here.
        ui: optional Gradio Blocks to mount at `/ui`.
    """
    app = FastAPI(title="MedAssist API", version="0.1.0",
                  description="OpenAI-compatible chat API. Not a medical device; not medically validated.")
    keys = _keys(settings)
    limiter = RateLimiter(settings.api_rate_limit)
    max_bytes = int(settings.max_upload_mb * 1e6)
    upload_dir = Path(tempfile.gettempdir()) / "medassist-api"
    upload_dir.mkdir(parents=True, exist_ok=True)

    def authorise(request: Request) -> str:
        who = _client_id(request, keys)
        wait = limiter.check(who)
        if wait:
            raise APIError(429, f"Rate limit of {limiter.per_minute} requests a minute exceeded: retry in {wait:.0f} s.",
                           "rate_limit_exceeded", {"Retry-After": str(max(1, round(wait)))})
        return who

    _install_error_handlers(app)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        # base64 is 4/3 of the image, plus room for the messages
        if request.url.path.startswith("/v1/") and length and length.isdigit() and int(length) > max_bytes * 4 // 3 + 1_000_000:
            return JSONResponse(_error_body(f"The request is larger than the {max_bytes / 1e6:.0f} MB upload limit.",
                                            "request_too_large"), status_code=413)
        return await call_next(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return service.status()

    @app.get("/v1/models")
    async def models(_: str = Depends(authorise)) -> dict[str, Any]:
        created = int(time.time())
        return {"object": "list", "data": [
            {"id": mid, "object": "model", "created": created, "owned_by": "medassist", "llm": service.model_name}
            for mid in MODEL_IDS
        ]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, _: str = Depends(authorise)) -> Any:
        image = await anyio.to_thread.run_sync(_image_path, body, upload_dir, max_bytes)
        try:
            turn = to_turn(body, str(image) if image else None)
            job = service.submit(turn)
        except MedAssistError as exc:
            _unlink(image)
            raise _from_medassist(exc) from exc
        head = _Head(body.model)
        if body.stream:
            return StreamingResponse(_sse(job, head, image), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            result = await _collect(job)
        except MedAssistError as exc:
            raise _from_medassist(exc) from exc
        finally:
            job.cancel()
            _unlink(image)
        return head.completion(result)

    if ui is not None:
        import gradio as gr

        gr.mount_gradio_app(app, ui, path="/ui", show_error=False)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(_error_body(exc.message, exc.code), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        message = f"Invalid request: {where}: {first.get('msg', 'bad value')}."
        return JSONResponse(_error_body(message, "invalid_request"), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(_error_body(str(exc.detail), "http_error"), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(_error_body("Internal error: please try again.", "server_error"), status_code=500)


# ---- request -> Turn ------------------------------------------------------------------------
def _text(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        return "\n".join(p.text or "" for p in message.content if p.type == "text")
    return message.content or ""


def _image_urls(message: ChatMessage) -> list[str]:
    if not isinstance(message.content, list):
        return []
    return [str((p.image_url or {}).get("url", "")) for p in message.content if p.type == "image_url"]


def _role(body: ChatRequest) -> str:
    if body.role:
        return body.role
    return "doctor" if body.model.endswith("-doctor") else "patient"


def _image_path(body: ChatRequest, directory: Path, max_bytes: int) -> Path | None:
    """Decode the last user message's image to a temporary file (None when there is none)."""
    last = body.messages[-1]
    urls = _image_urls(last)
    try:
        if len(urls) > 1:
            raise InputError("Send at most one image per message.")
        if urls and _role(body) != "doctor":
            raise InputError("Images are accepted in doctor mode only: send \"role\": \"doctor\" or model medassist-doctor.")
        return decode_data_url(urls[0], directory, max_bytes) if urls else None
    except MedAssistError as exc:
        raise _from_medassist(exc) from exc


def to_turn(body: ChatRequest, image: str | None) -> Turn:
    """The engine `Turn` for an OpenAI chat request.

    Raises:
        InputError: the last message is not the user's, or it is empty.
    """
    last = body.messages[-1]
    if last.role != "user":
        raise InputError("The last message must be the user's question.")
    if not _text(last).strip() and not image:
        raise InputError("The message is empty: please type a question.")  # before a stream starts
    history: list[Message] = [
        {"role": m.role, "content": _text(m)} for m in body.messages[:-1] if m.role in ("user", "assistant")
    ]
    context: dict[str, Any] = {}
    if body.patient is not None:
        from assistant.clinical.fhir import patient_dict

        context["patient"] = patient_dict(body.patient)
    return Turn(text=_text(last), role=_role(body), image=image, history=history, context=context)  # type: ignore[arg-type]


def _unlink(path: Path | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass


# ---- responses ------------------------------------------------------------------------------
class _Head:
    """Id, timestamp and model shared by a completion and its chunks."""

    def __init__(self, model: str) -> None:
        self.id = "chatcmpl-" + uuid.uuid4().hex
        self.created = int(time.time())
        self.model = model

    def _base(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def completion(self, result: AnswerResult) -> dict[str, Any]:
        return self._base("chat.completion") | {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer},
                         "finish_reason": "stop"}],
        } | extras(result)

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
        body = self._base("chat.completion.chunk") | {
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]} | more
        return "data: " + json.dumps(body, ensure_ascii=False) + "\n\n"


def extras(result: AnswerResult) -> dict[str, Any]:
    """MedAssist's fields added to OpenAI responses: citations, findings, safety, tools, timings."""
    out = result.to_json()
    return {k: out[k] for k in ("citations", "findings", "safety", "tools", "timings")} | {"llm": out["model"]}


async def _next(job: Any, timeout: float | None = None) -> Any:
    """The job's next event (None at the end); `_WAITING` if nothing came within `timeout` s."""
    try:
        return await anyio.to_thread.run_sync(job.next_event, timeout, abandon_on_cancel=True)
    except queue.Empty:
        return _WAITING


async def _collect(job: Any) -> AnswerResult:
    result = None
    while (event := await _next(job)) is not None:
        if isinstance(event, FinalEvent):
            result = event.result
    if result is None:
        raise MedAssistError("The answer was interrupted: please try again.")
    return result


async def _sse(job: Any, head: _Head, image: Path | None) -> AsyncIterator[str]:
    """Server-sent events: a role chunk, content chunks, a final chunk with extras, [DONE].

    A client that disconnects cancels this generator; `finally` cancels the turn.
    """
    try:
        yield head.chunk({"role": "assistant", "content": ""})
        while (event := await _next(job, KEEPALIVE_S)) is not None:
            if event is _WAITING:  # queued behind other turns: an SSE comment keeps proxies and clients patient
                yield ": waiting for the model\n\n"
            elif isinstance(event, TokenEvent) and event.text:
                yield head.chunk({"content": event.text})
            elif isinstance(event, FinalEvent):
                yield head.chunk({}, "stop", **extras(event.result))
    except MedAssistError as exc:
        err = _from_medassist(exc)
        yield "data: " + json.dumps(_error_body(err.message, err.code)) + "\n\n"
    finally:
        job.cancel()
        _unlink(image)
    yield "data: [DONE]\n\n"
