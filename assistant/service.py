"""One `Assistant` shared by the Gradio app and the HTTP API, loaded in the background and run
one turn at a time.

Notable choices:
- The model loads on a background thread at start-up, so the servers answer at once: `/healthz`
  says "loading" and the chat shows progress until it is ready (or the one-sentence load error).
- A transformers model is not thread-safe and a 2-core CPU cannot usefully run two generations at
  once, so a single worker thread runs turns in order. A bounded waiting line (`max_waiting`)
  turns overload into `BusyError` ("busy, try again") instead of unbounded latency.
- Each turn's events travel to the caller through a queue. A caller that goes away (a dropped
  HTTP stream, a closed browser tab) cancels its job; the worker then closes the engine's
  generator, which stops the model, and moves on to the next job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from assistant.engine import Assistant
from assistant.errors import MedAssistError
from assistant.events import Event
from assistant.types import Turn

log = logging.getLogger(__name__)

_DONE = object()


class BusyError(MedAssistError):
    """Too many requests are waiting for the model."""


class NotReadyError(MedAssistError):
    """The model is still loading, or failed to load."""


@dataclass
class Job:
    """One submitted turn: its events arrive on `events`; `cancel()` stops it."""

    turn: Turn
    events: queue.Queue = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.monotonic)

    def cancel(self) -> None:
        self.cancelled.set()

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when the turn is over.

        Raises:
            MedAssistError: the turn failed with a user-facing error.
            queue.Empty: nothing arrived within `timeout` seconds.
        """
        item = self.events.get(timeout=timeout)
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def __iter__(self) -> Iterator[Event]:
        try:
            while (event := self.next_event()) is not None:
                yield event
        finally:  # the consumer stopped early (closed generator): stop the work too
            self.cancel()


class AssistantService:
    """Owns the Assistant: loads it once in the background and runs turns one at a time.

    Args:
        factory: builds the Assistant (may take minutes on CPU).
        max_waiting: turns allowed to wait behind the running one before `submit` says busy.
        load_now: start loading immediately (else on the first `start()`).
    """

    def __init__(self, factory: Callable[[], Assistant], max_waiting: int = 8, load_now: bool = True) -> None:
        self._factory = factory
        self.max_waiting = max_waiting
        self.assistant: Assistant | None = None
        self.error: str | None = None
        self.load_seconds: float | None = None
        self._loaded = threading.Event()
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._started = False
        self._start_lock = threading.Lock()
        self._load_started = time.monotonic()
        if load_now:
            self.start()

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loader and the worker thread (idempotent)."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
            self._load_started = time.monotonic()
        threading.Thread(target=self._work, name="medassist-worker", daemon=True).start()

    @property
    def ready(self) -> bool:
        return self.assistant is not None

    @property
    def model_name(self) -> str:
        return self.assistant.llm.name if self.assistant else "loading"

    def status(self) -> dict[str, object]:
        """Health summary: `status` is "ok", "loading" or "error"."""
        if self.error:
            state = "error"
        elif self.ready:
            state = "ok"
        else:
            state = "loading"
        out: dict[str, object] = {"status": state, "model": self.model_name, "waiting": self.waiting}
        if state == "loading":
            out["loading_seconds"] = round(time.monotonic() - self._load_started, 1)
        if self.error:
            out["error"] = self.error
        return out

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the model has loaded (or failed); True when it is ready."""
        self._loaded.wait(timeout)
        return self.ready

    @property
    def waiting(self) -> int:
        return self._pending

    # ---- turns -------------------------------------------------------------------------------
    def submit(self, turn: Turn) -> Job:
        """Queue a turn for the worker.

        Raises:
            NotReadyError: the model failed to load.
            BusyError: `max_waiting` turns are already waiting.
        """
        if self.error:
            raise NotReadyError(f"The model could not be loaded: {self.error}")
        with self._pending_lock:
            if self._pending > self.max_waiting:
                raise BusyError("The assistant is busy with other questions: please try again in a minute.")
            self._pending += 1
        job = Job(turn)
        self._jobs.put(job)
        self.start()
        return job

    def run(self, turn: Turn) -> Iterator[Event]:
        """Submit a turn and yield its events; closing the iterator cancels the turn."""
        return iter(self.submit(turn))

    def _work(self) -> None:
        self._load()
        while True:
            job = self._jobs.get()
            try:
                self._run_job(job)
            finally:
                with self._pending_lock:
                    self._pending -= 1

    def _load(self) -> None:
        t0 = time.monotonic()
        try:
            self.assistant = self._factory()
            self.assistant.guardrails.warm_up()  # the safety classifier's embedder, before the first turn
        except MedAssistError as exc:
            self.error = str(exc)
        except Exception as exc:  # a load failure must not kill the server: report it
            log.exception("loading the assistant failed")
            self.error = f"{type(exc).__name__}: {exc}"
        self.load_seconds = time.monotonic() - t0
        self._loaded.set()

    def _run_job(self, job: Job) -> None:
        if job.cancelled.is_set():
            job.events.put(_DONE)
            return
        if self.assistant is None:
            job.events.put(NotReadyError(f"The model could not be loaded: {self.error}"))
            return
        events = self.assistant.run(job.turn)
        try:
            for event in events:
                if job.cancelled.is_set():
                    break
                job.events.put(event)
            job.events.put(_DONE)
        except MedAssistError as exc:
            job.events.put(exc)
        except Exception as exc:  # never let one turn kill the worker
            log.exception("turn failed")
            job.events.put(MedAssistError(f"Something went wrong while answering ({type(exc).__name__}); please try again."))
        finally:
            events.close()  # stops the model's generation thread when the job was cancelled
