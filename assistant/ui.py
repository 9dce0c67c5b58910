"""The Gradio app (`medassist ui`): a thin adapter that renders `Assistant` events in a chat.

Patient mode: plain-language answers streamed token by token, a "not a diagnosis" notice, an
emergency banner when the input rail escalates, and each answer's sources in a collapsible block
(title, organisation, year, link). Doctor mode adds image upload (PNG, JPEG, DICOM) in the chat
box: the X-ray tool's findings appear as a table with probabilities, its Grad-CAM heatmap
inline, then the model's explanation; later questions reuse the last image without re-upload.

Notable choices:
- Blocks rather than `ChatInterface`, for the mode switch, the banner and per-turn tool output.
- All model work goes through the shared `AssistantService` (one worker, bounded waiting line):
  an overloaded server says "busy, try again"; while the model loads the chat says so.
- Model text is HTML-escaped before Markdown rendering (and the Chatbot sanitises too), so an
  answer cannot inject markup.
- Nothing outlives `ui_retention_minutes` of inactivity: the session state has a time to live,
  an idle timer clears the chat in the browser, and Gradio's cache (uploads) is swept on the
  same schedule. Nothing is stored in browser storage.
"""

from __future__ import annotations

import html
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.errors import MedAssistError
from assistant.events import CitationsEvent, FinalEvent, SafetyEvent, TokenEvent, ToolResultEvent
from assistant.service import AssistantService
from assistant.types import Citation, Message, ToolCallRecord, Turn
from assistant.uploads import validate_image_file

NOTICE = (
    "**MedAssist gives general information, not a diagnosis.** It is not a medical device and "
    "is not medically validated. Always discuss your situation with a clinician."
)
EMERGENCY = (
    "Emergency: this may need urgent care. Call your local emergency number (112 / 911 / 999) or go to "
    "the nearest emergency department now."
)
EXAMPLES = {
    "patient": [
        "What are the warning signs of pneumonia?",
        "How is high blood pressure usually treated?",
        "When should a cough be checked by a doctor?",
    ],
    "doctor": [
        "How is community-acquired pneumonia severity assessed?",
        "What are the first-line treatments for community-acquired pneumonia in adults?",
    ],
}
HEATMAP_DIR = Path(tempfile.gettempdir()) / "medassist-ui"
CSS = """
#emergency-banner { background: #b00020; color: #fff; padding: 12px 16px; border-radius: 8px; font-weight: 600; }
#notice { border-left: 4px solid #e0a800; padding-left: 10px; }
"""


@dataclass
class Session:
    """One browser session's conversation: engine history, the last image, last activity."""

    history: list[Message] = field(default_factory=list)
    image: str | None = None
    patient: dict[str, Any] | None = None
    last_active: float = field(default_factory=time.time)


# ---- rendering helpers (pure functions, tested directly) ------------------------------------
def sanitise(text: str) -> str:
    """Escape HTML in model output so it renders as text inside Markdown."""
    return html.escape(text, quote=False)


def sources_markdown(citations: list[Citation]) -> str:
    """A numbered list: [n] title, organisation, year, with a link when there is one, and the terms it names."""
    lines = []
    for c in citations:
        title = sanitise(c.title)
        title = f"[{title}]({c.url})" if c.url and c.url.startswith(("https://", "http://")) else title
        year = f", {c.year}" if c.year else ""
        terms = ", ".join(f"{sanitise(e['name'])} ({e['id']})" for e in c.entities[:6])
        lines.append(f"{c.number}. {title} — {sanitise(c.source)}{year}" + (f"  \n   *Terms:* {terms}" if terms else ""))
    return "\n".join(lines)


def findings_markdown(record: ToolCallRecord) -> str:
    """The X-ray tool's result as a Markdown table (or its one-sentence error)."""
    if record.error:
        return f"**X-ray tool:** {sanitise(record.error)}"
    out = record.output or {}
    if out.get("is_chest_xray") is False:
        return "**X-ray tool:** " + sanitise(out.get("note") or "This does not look like a chest X-ray.")
    rows = ["| Finding | Probability | Above threshold |", "|---|---|---|"]
    threshold = out.get("threshold")
    for f in out.get("findings") or []:
        above = "yes" if threshold is not None and f["probability"] >= threshold else "no"
        rows.append(f"| {sanitise(str(f['label']))} | {f['probability']:.2f} | {above} |")
    head = "**X-ray findings**"
    details = [f"model {sanitise(str(out['model']))}" if out.get("model") else "",
               f"threshold {threshold:.2f}" if threshold is not None else ""]
    details = [d for d in details if d]
    head += f" ({', '.join(details)})" if details else ""
    note = f"\n\n_{sanitise(out['note'])}_" if out.get("note") else ""
    return head + "\n\n" + "\n".join(rows) + note


def heatmap_message(record: ToolCallRecord, ttl: float = 1800.0) -> dict[str, Any] | None:
    """A chat message showing the Grad-CAM heatmap PNG, when the tool made one.

    The PNG is copied into the UI's temporary folder (Gradio serves files only from there or the
    working directory); copies older than `ttl` seconds are deleted on the way.
    """
    path = (record.output or {}).get("heatmap")
    if not path or not Path(path).is_file():
        return None
    HEATMAP_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in HEATMAP_DIR.glob("*.png"):
        if now - old.stat().st_mtime > ttl:
            old.unlink(missing_ok=True)
    fd, copy = tempfile.mkstemp(prefix="heatmap-", suffix=".png", dir=HEATMAP_DIR)
    os.close(fd)
    shutil.copyfile(path, copy)
    return {"role": "assistant", "content": {"path": copy, "alt_text": "Grad-CAM heatmap"}}


def _say(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


# ---- the chat handler -----------------------------------------------------------------------
class ChatHandler:
    """Turns one submitted message into a stream of (chat, box, banner, session) updates."""

    def __init__(self, service: AssistantService, settings: Settings) -> None:
        self.service = service
        self.max_bytes = int(settings.max_upload_mb * 1e6)
        self.ttl = max(60.0, settings.ui_retention_minutes * 60)

    def __call__(self, message: dict[str, Any] | str | None, chat: list[dict[str, Any]] | None, mode: str,
                 session: Session | None) -> Iterator[tuple[Any, Any, Any, Session]]:
        session = session or Session()
        session.last_active = time.time()
        chat = list(chat or [])
        text, files = _unpack(message)
        if not text.strip() and not files:
            yield chat, gr.MultimodalTextbox(), _banner(False), session
            return
        chat.append({"role": "user", "content": sanitise(text) or "(image)"})
        for path in files:
            chat.append({"role": "user", "content": {"path": path}})
        problem = self._check_files(files, mode, session)
        if problem:
            chat.append(_say(problem))
            yield chat, _box(None), _banner(False), session
            return
        yield from self._answer(text, chat, mode, session)

    def _check_files(self, files: list[str], mode: str, session: Session) -> str | None:
        if not files:
            return None
        if mode != "doctor":
            return "Image upload is available in doctor mode: switch the mode above to attach an X-ray."
        if len(files) > 1:
            return "Please attach one image at a time."
        try:
            validate_image_file(files[0], self.max_bytes)
        except MedAssistError as exc:
            return str(exc)
        session.image = files[0]
        return None

    def _answer(self, text: str, chat: list[dict[str, Any]], mode: str,
                session: Session) -> Iterator[tuple[Any, Any, Any, Session]]:
        chat.append(_say("…"))
        answer_at = len(chat) - 1
        banner = _banner(False)
        while not self.service.wait_ready(timeout=1.0) and not self.service.error:
            waited = self.service.status().get("loading_seconds", 0)
            chat[answer_at] = _say(f"_Loading the model and tools… {waited:.0f} s (the first start can take a few minutes)._")
            yield chat, _box(None, interactive=False), banner, session
        doctor = mode == "doctor"
        turn = Turn(text=text, role=mode, image=session.image if doctor else None,  # type: ignore[arg-type]
                    history=list(session.history),
                    context={"patient": session.patient} if doctor and session.patient else {})
        pieces: list[str] = []
        try:
            for event in self.service.run(turn):
                if isinstance(event, SafetyEvent) and event.decision.action == "escalate":
                    banner = _banner(True)
                elif isinstance(event, ToolResultEvent) and event.record.name == "xray":
                    chat[answer_at:answer_at + 1] = _tool_messages(event.record, self.ttl)
                    answer_at = len(chat) - 1
                elif isinstance(event, TokenEvent):
                    pieces.append(event.text)
                    chat[answer_at] = _say(sanitise("".join(pieces)))
                elif isinstance(event, CitationsEvent):
                    continue
                elif isinstance(event, FinalEvent):
                    chat[answer_at] = _say(sanitise(event.result.answer))
                    if event.result.citations:
                        chat.append(_sources_message(event.result.citations))
                    session.history += [{"role": "user", "content": text},
                                        {"role": "assistant", "content": event.result.answer}]
                yield chat, _box(None, interactive=False), banner, session
        except MedAssistError as exc:
            chat[answer_at] = _say(sanitise(str(exc)))
        session.last_active = time.time()
        yield chat, _box(None), banner, session


def _tool_messages(record: ToolCallRecord, ttl: float) -> list[dict[str, Any]]:
    messages = [_say(findings_markdown(record))]
    heat = heatmap_message(record, ttl)
    if heat:
        messages.append(heat)
    messages.append(_say("…"))
    return messages


def _sources_message(citations: list[Citation]) -> dict[str, Any]:
    return {"role": "assistant", "content": sources_markdown(citations),
            "metadata": {"title": f"Sources ({len(citations)})", "status": "done"}}


def _unpack(message: dict[str, Any] | str | None) -> tuple[str, list[str]]:
    if isinstance(message, dict):
        files = [f if isinstance(f, str) else f.get("path", "") for f in message.get("files") or []]
        return str(message.get("text") or ""), [f for f in files if f]
    return str(message or ""), []


def _box(value: Any, interactive: bool = True) -> Any:
    return gr.MultimodalTextbox(value=value, interactive=interactive)


def _banner(show: bool) -> Any:
    return gr.HTML(value=f"<div role='alert'>{EMERGENCY}</div>" if show else "", visible=show)


# ---- the app --------------------------------------------------------------------------------
def build_ui(service: AssistantService, settings: Settings) -> gr.Blocks:
    """The Gradio Blocks app over `service`. Call `.queue()` limits are set here too."""
    ttl = max(60.0, settings.ui_retention_minutes * 60)
    handler = ChatHandler(service, settings)
    with gr.Blocks(title="MedAssist", delete_cache=(int(ttl // 2), int(ttl))) as demo:
        gr.Markdown("# MedAssist")
        gr.Markdown(NOTICE, elem_id="notice")
        status = gr.Markdown(_status_text(service), elem_id="status")
        banner = gr.HTML(visible=False, elem_id="emergency-banner")
        mode = gr.Radio(["patient", "doctor"], value="patient", label="Mode", elem_id="mode",
                        info="Doctor mode uses clinical language and accepts chest X-rays (PNG, JPEG, DICOM).")
        chatbot = gr.Chatbot(elem_id="chat", height=520, sanitize_html=True, allow_tags=False,
                             feedback_options=None, label="Conversation", group_consecutive_messages=False)
        box = gr.MultimodalTextbox(elem_id="box", placeholder="Ask a health question…", file_types=["image", ".dcm"],
                                   sources=[], show_label=False, autofocus=True)
        examples = gr.Dataset(samples=[[q] for q in EXAMPLES["patient"]], components=[gr.Textbox(visible=False)],
                              label="Example questions", elem_id="examples")
        with gr.Accordion("Patient context (doctor mode)", open=False, elem_id="patient-context"):
            patient_box = gr.Code(language="json", label="Our patient JSON or FHIR resources (docs/clinical.md)",
                                  elem_id="patient-json")
            patient_set = gr.Button("Use this patient", size="sm")
            patient_status = gr.Markdown(elem_id="patient-status")
        clear = gr.Button("New conversation", variant="secondary", size="sm")
        session = gr.State(Session(), time_to_live=ttl)
        timer = gr.Timer(2.0, active=not service.ready)
        idle = gr.Timer(60.0)

        def chat(message: Any, history: Any, role: str, state: Session | None) -> Iterator[tuple[Any, ...]]:
            yield from handler(message, history, role, state)  # Gradio needs a generator function

        submitted = box.submit(chat, [box, chatbot, mode, session], [chatbot, box, banner, session],
                   concurrency_limit=settings.max_waiting + 1, concurrency_id="chat", show_progress="hidden",
                   api_name="chat")
        examples.click(lambda sample: {"text": sample[0], "files": []}, examples, box, queue=False)
        patient_set.click(set_patient, [patient_box, session], [patient_status, session], queue=False)
        mode.change(_switch_mode, mode, [box, examples], queue=False)
        clear.click(_clear, None, [chatbot, box, banner, session], queue=False, cancels=[submitted])
        timer.tick(lambda: (_status_text(service), gr.Timer(active=not (service.ready or service.error))),
                   None, [status, timer], queue=False, show_progress="hidden")
        idle.tick(lambda chat, s: _expire(chat, s, ttl), [chatbot, session], [chatbot, session],
                  queue=False, show_progress="hidden")
    demo.queue(max_size=max(4, settings.max_waiting * 2), default_concurrency_limit=settings.max_waiting + 1)
    return demo


def set_patient(text: str | None, session: Session | None) -> tuple[str, Session]:
    """Validate the patient box and keep it for this session's doctor-mode turns (empty clears it)."""
    import json

    from assistant.clinical.fhir import patient_dict
    from assistant.clinical.patient import PatientContext

    session = session or Session()
    if not (text or "").strip():
        session.patient = None
        return "No patient context.", session
    try:
        data = patient_dict(json.loads(text or ""))
        PatientContext.from_dict(data)
    except json.JSONDecodeError as exc:
        return f"That is not valid JSON (line {exc.lineno}): nothing was changed.", session
    except MedAssistError as exc:
        return sanitise(str(exc)), session
    session.patient = data
    return "Patient context set for doctor-mode questions in this conversation.", session


def _status_text(service: AssistantService) -> str:
    st = service.status()
    if st["status"] == "ok":
        return f"Model ready: `{st['model']}`."
    if st["status"] == "error":
        return f"**The model could not be loaded:** {sanitise(str(st.get('error')))}"
    return f"Loading the model and tools (search index, X-ray classifier)… {st.get('loading_seconds', 0):.0f} s"


def _switch_mode(mode: str) -> tuple[Any, Any]:
    doctor = mode == "doctor"
    box = gr.MultimodalTextbox(sources=["upload"] if doctor else [],
                               placeholder="Ask a clinical question, or attach a chest X-ray…" if doctor
                               else "Ask a health question…")
    return box, gr.Dataset(samples=[[q] for q in EXAMPLES[mode]])


def _clear() -> tuple[Any, Any, Any, Session]:
    return [], _box(None), _banner(False), Session()


def _expire(chat: list[Any], session: Session | None, ttl: float) -> tuple[Any, Any]:
    """Forget an idle conversation (display and state) after the retention time."""
    if session is not None and chat and time.time() - session.last_active > ttl:
        return [], Session()
    return gr.skip(), gr.skip()
