"""The conversation engine: one `Assistant` that turns a `Turn` into a stream of events.

One turn, in order:
1. validate the turn; run the input rails (answer / escalate / refuse);
2. call every tool whose router selects this turn (retrieval for text, vision for an image), or,
   with native tool calling, the clinical tools the model itself asks for;
3. number the retrieved snippets and build the prompt from templates in `prompts/`, trimming the
   history (oldest first) and then the snippets to the model's context, counted in tokens;
4. stream the model's answer through the output rails;
5. hand the finished `AnswerResult` to the observers (the audit log) and yield it.
UI, HTTP API and CLI are thin adapters over `run` / `ask`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import prompts
from assistant.errors import ConfigError, InputError, MedAssistError, ModelError
from assistant.events import (
    AnswerResult,
    CitationsEvent,
    Event,
    FinalEvent,
    SafetyEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from assistant.llm.base import LLM, GenerationConfig, ToolCall
from assistant.safety import Guardrails
from assistant.tools import Tool, ToolOutput
from assistant.types import ROLES, Citation, Finding, Message, SafetyDecision, ToolCallRecord, Turn

log = logging.getLogger(__name__)
Observer = Callable[[Turn, AnswerResult], None]
TOOL_CALLING = ("router", "native")
CITE = re.compile(r"\s?\[\[cite:([^\]\s]+)\]\]")  # in a tool's context: the number its citation gets


class Assistant:
    """The medical consultation assistant.

    Args:
        llm: the chat model.
        tools: tools the router may call each turn.
        guardrails: input and output rails (pass-through when None).
        generation: decoding settings.
        observers: called with every finished turn (e.g. the audit log); failures are logged.
        tool_calling: "router" (each tool's rules decide) or "native" (a model with a tool-calling
            template picks the `model_callable` tools; the others keep their routers).
    """

    def __init__(
        self,
        llm: LLM,
        tools: Sequence[Tool] = (),
        guardrails: Guardrails | None = None,
        generation: GenerationConfig | None = None,
        observers: Sequence[Observer] = (),
        tool_calling: str = "router",
    ) -> None:
        if tool_calling not in TOOL_CALLING:
            raise ConfigError(f"Unknown tool calling {tool_calling!r}: use {' or '.join(TOOL_CALLING)}.")
        self.tool_calling = tool_calling
        self.llm = llm
        self.tools = list(tools)
        self.guardrails = guardrails or Guardrails()
        self.generation = generation or GenerationConfig()
        self.observers = list(observers)

    def ask(self, turn: Turn) -> AnswerResult:
        """Run a turn to the end and return its result."""
        result = None
        for event in self.run(turn):
            if isinstance(event, FinalEvent):
                result = event.result
        assert result is not None  # run() always ends with a FinalEvent
        return result

    def run(self, turn: Turn) -> Iterator[Event]:
        """Run one turn, yielding events as they happen and a `FinalEvent` last.

        Raises:
            InputError: empty message, unknown role, or a message longer than the context.
            ModelError: the model failed while generating.
        """
        _validate(turn)
        self._check_fits(turn)  # before any tool runs: an over-long message is refused, not searched
        timings: dict[str, float] = {}
        start = time.perf_counter()
        decision = self.guardrails.check_input(turn)
        timings["guardrails"] = time.perf_counter() - start
        yield SafetyEvent(decision)
        if decision.action == "refuse" or decision.final:  # the message is the answer: stream it, skip the model
            yield TokenEvent(decision.message)
            yield from self._finish(turn, AnswerResult(decision.message, safety=decision), start, timings)
            return

        records: list[ToolCallRecord] = []
        outputs: list[ToolOutput] = []
        contexts: list[str] = []
        plan: list[ToolCall] | None = None  # the model's own tool calls (native tool calling)
        asked = False
        for tool in self.tools:
            if not asked and tool.model_callable and self._native():
                plan, asked = self._plan(turn, contexts, timings), True  # once per turn, even if it fails
            for inputs in self._inputs(tool, turn, plan):
                yield from self._use(tool, inputs, records, outputs, contexts, timings)
        for call in plan or []:
            if call.name not in {t.name for t in self.tools if t.model_callable}:
                record = ToolCallRecord(call.name, call.arguments, None, error=f"Unknown tool {call.name!r}: not called.")
                records.append(record)
                yield ToolResultEvent(record)

        citations = [c for out in outputs for c in out.citations]
        findings = _findings(outputs)
        base = AnswerResult("", findings=findings, safety=decision, tools=records)
        if any(o.grounding for o in outputs) and not citations and not contexts:
            # Nothing relevant retrieved: say so rather than let the model answer from memory.
            base.answer = _prefix(decision) + prompts.render("no_sources")
            yield TokenEvent(base.answer)
            yield from self._finish(turn, base, start, timings)
            return

        t0 = time.perf_counter()
        grounding = any(o.grounding for o in outputs)
        messages, citations = self.build_messages(turn, citations, contexts, grounding)
        timings["prompt"] = time.perf_counter() - t0
        for number, citation in enumerate(citations, 1):
            citation.number = number
        self._annotate(turn, citations, records, timings)
        base.citations = citations
        if citations:
            yield CitationsEvent(citations)
        yield from self._generate(turn, messages, decision, base, timings)
        yield from self._finish(turn, base, start, timings)

    def _native(self) -> bool:
        return self.tool_calling == "native" and self.llm.supports_tools

    def _plan(self, turn: Turn, contexts: list[str], timings: dict[str, float]) -> list[ToolCall] | None:
        """Ask the model which tools to call; None (use the routers) if the model fails."""
        specs = [t.spec() for t in self.tools if t.model_callable]
        history = [m for m in turn.history if m["role"] in ("user", "assistant")][-4:]
        question = "\n\n".join([*contexts, turn.text.strip()])  # patient data so far, never retrieved text
        messages: list[Message] = [{"role": "system", "content": prompts.render("tool_plan", role=turn.role)},
                                   *history, {"role": "user", "content": question}]
        t0 = time.perf_counter()
        try:
            return self.llm.call_tools(messages, specs, GenerationConfig(max_new_tokens=256, seed=self.generation.seed))
        except ModelError as exc:
            log.warning("tool selection by the model failed (%s); using the routers", exc)
            return None
        finally:
            timings["plan"] = time.perf_counter() - t0

    def _inputs(self, tool: Tool, turn: Turn, plan: list[ToolCall] | None) -> list[dict[str, Any] | InputError]:
        """This turn's calls of `tool`: its router's choice, or the model's calls in native mode."""
        if plan is None or not tool.model_callable:
            inputs = tool.select(turn)
            return [] if inputs is None else [inputs]
        out: list[dict[str, Any] | InputError] = []
        for call in (c for c in plan if c.name == tool.name):
            try:
                out.append(tool.from_model(turn, call.arguments))
            except InputError as exc:
                out.append(exc)
        return out

    def _use(self, tool: Tool, inputs: dict[str, Any] | InputError, records: list[ToolCallRecord],
             outputs: list[ToolOutput], contexts: list[str], timings: dict[str, float]) -> Iterator[Event]:
        if isinstance(inputs, InputError):  # the model's call could not be used: report it, go on
            record, output = ToolCallRecord(tool.name, {}, None, error=str(inputs)), None
        else:
            yield ToolCallEvent(tool.name, inputs)
            record, output = self._call(tool, inputs, timings)
        records.append(record)
        if output is not None:
            outputs.append(output)
        context = output.context if output is not None else f"The tool failed: {record.error}"
        if context:
            contexts.append(prompts.render("tool_result", name=tool.name, content=self.guardrails.quote(context)))
        yield ToolResultEvent(record)

    def _call(self, tool: Tool, inputs: dict, timings: dict[str, float]) -> tuple[ToolCallRecord, ToolOutput | None]:
        t0 = time.perf_counter()
        try:
            output: ToolOutput | None = tool(**inputs)
            record = ToolCallRecord(tool.name, inputs, output.data)
        except MedAssistError as exc:
            output, record = None, ToolCallRecord(tool.name, inputs, None, error=str(exc))
        record.seconds = time.perf_counter() - t0
        stage = getattr(tool, "stage", tool.name)
        timings[stage] = timings.get(stage, 0.0) + record.seconds
        return record, output

    def _annotate(self, turn: Turn, citations: list[Citation], records: list[ToolCallRecord],
                  timings: dict[str, float]) -> None:
        for tool in (t for t in self.tools if type(t).annotate is not Tool.annotate):
            t0 = time.perf_counter()
            try:
                tool.annotate(turn, citations, records)
            except MedAssistError as exc:  # annotations are extras: never lose the turn for one
                log.warning("tool %s could not annotate the citations: %s", tool.name, exc)
            stage = getattr(tool, "stage", tool.name)
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0

    def _generate(self, turn: Turn, messages: list[Message], decision: SafetyDecision,
                  result: AnswerResult, timings: dict[str, float]) -> Iterator[Event]:
        pieces = [_prefix(decision)]
        if pieces[0]:
            yield TokenEvent(pieces[0])
        rail = self.guardrails.output_filter(turn, decision)
        rail.set_sources(len(result.citations))
        t0 = time.perf_counter()
        first: float | None = None
        for chunk in self.llm.stream(messages, self.generation):
            if first is None:
                first = time.perf_counter()
                timings["prefill"] = first - t0
            shown = rail.feed(chunk)
            if shown:
                pieces.append(shown)
                yield TokenEvent(shown)
        end = time.perf_counter()
        timings["decode"] = end - (first or end)
        timings["llm"] = end - t0
        tail = rail.close()
        if tail:
            pieces.append(tail)
            yield TokenEvent(tail)
        result.answer = "".join(pieces)

    def _finish(self, turn: Turn, result: AnswerResult, start: float, timings: dict[str, float]) -> Iterator[Event]:
        timings["total"] = time.perf_counter() - start
        result.timings = timings
        result.model = self.llm.name
        for observer in self.observers:
            try:
                observer(turn, result)
            except Exception:  # an observer must never break a turn
                log.exception("observer %r failed", observer)
        yield FinalEvent(result)

    def _check_fits(self, turn: Turn) -> int:
        """The prompt budget in tokens; raises InputError if the question alone does not fit it."""
        budget = self.llm.context_length - self.generation.max_new_tokens
        system: Message = {"role": "system", "content": prompts.render(f"system_{turn.role}")}
        tokens = self.llm.count_tokens([system, _user(turn, [], [], False, self.guardrails.quote)])
        if tokens > budget:
            raise InputError(f"Your message is too long for this model ({tokens} tokens with the "
                             f"instructions; at most {budget}): please shorten it.")
        return budget

    def build_messages(self, turn: Turn, citations: list[Citation], contexts: list[str],
                       grounding_tried: bool = False) -> tuple[list[Message], list[Citation]]:
        """The chat messages for this turn, fitted to the model's context.

        History goes first (oldest messages), then snippets (lowest-ranked first); what remains in
        `citations` is exactly what the model is shown.

        Raises:
            InputError: the question alone does not fit.
        """
        budget = self.llm.context_length - self.generation.max_new_tokens
        system: Message = {"role": "system", "content": prompts.render(f"system_{turn.role}")}
        history = [m for m in turn.history if m["role"] in ("user", "assistant")]
        citations = list(citations)
        quote = self.guardrails.quote
        while True:
            messages = [system, *history, _user(turn, citations, contexts, grounding_tried, quote)]
            if self.llm.count_tokens(messages) <= budget:
                return messages, citations
            if history:
                history = history[2:] if len(history) > 1 else []
            elif citations:
                citations.pop()
            elif contexts:
                contexts = contexts[:-1]
            else:
                self._check_fits(turn)  # nothing left to trim: the question alone must fit
                return [system, _user(turn, [], [], False, quote)], []


def _validate(turn: Turn) -> None:
    if turn.role not in ROLES:
        raise InputError(f"Unknown role {turn.role!r}: use 'patient' or 'doctor'.")
    if not turn.text.strip() and not turn.image:
        raise InputError("The message is empty: please type a question.")


def _user(turn: Turn, citations: list[Citation], contexts: list[str], grounding_tried: bool,
          quote: Callable[[str], str] = str) -> Message:
    # Snippet text and titles are untrusted (a retrieved document may carry instructions): quote them.
    snippets = [
        {"number": i, "title": quote(c.title), "source": c.source, "year": c.year, "text": quote(c.text)}
        for i, c in enumerate(citations, 1)
    ]
    numbers = {c.id: i for i, c in enumerate(citations, 1)}
    contexts = [CITE.sub(lambda m: f" [{numbers[m.group(1)]}]" if m.group(1) in numbers else "", c) for c in contexts]
    question = turn.text.strip() or "Please describe the results for the attached image."
    content = prompts.render("rag_answer", snippets=snippets, tool_results=contexts,
                             grounding_tried=grounding_tried, question=question)
    return {"role": "user", "content": content}


def _findings(outputs: list[ToolOutput]) -> list[Finding] | None:
    found = [out.findings for out in outputs if out.findings is not None]
    return [f for group in found for f in group] if found else None


def _prefix(decision: SafetyDecision) -> str:
    return decision.message.strip() + "\n\n" if decision.action == "escalate" and decision.message else ""
