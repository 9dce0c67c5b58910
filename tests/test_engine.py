"""The Assistant engine with fake models and fake tools."""

from __future__ import annotations

import pytest

from assistant.engine import Assistant
from assistant.errors import InputError
from assistant.events import CitationsEvent, FinalEvent, SafetyEvent, TokenEvent, ToolCallEvent, ToolResultEvent
from assistant.llm.fake import EchoLLM, FakeLLM
from assistant.safety import Guardrails, OutputFilter
from assistant.types import SafetyDecision, Turn
from tests.conftest import FakeRetrieval, FakeVision


def test_event_order_for_text_turn(assistant: Assistant) -> None:
    events = list(assistant.run(Turn("What is asthma?")))
    kinds = [type(e) for e in events]
    assert kinds[0] is SafetyEvent
    assert kinds[1:4] == [ToolCallEvent, ToolResultEvent, CitationsEvent]
    assert kinds[-1] is FinalEvent and TokenEvent in kinds
    result = events[-1].result
    assert result.answer == "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert [c.number for c in result.citations] == [1, 2]
    assert result.findings is None  # no image, no vision call
    assert [t.name for t in result.tools] == ["retrieval"]


def test_image_turn_calls_vision_and_reports_findings(assistant: Assistant, fake_llm: FakeLLM) -> None:
    result = assistant.ask(Turn("Is there pneumonia?", role="doctor", image="/tmp/x.png"))
    assert [t.name for t in result.tools] == ["retrieval", "xray"]
    assert result.findings and result.findings[0].label == "PNEUMONIA"
    prompt = fake_llm.calls[-1][-1]["content"]
    assert "PNEUMONIA: probability 0.87" in prompt and "<data>" in prompt
    assert {"retrieval", "vision", "prefill", "total"} <= set(result.timings)


def test_json_shape_is_stable(assistant: Assistant) -> None:
    out = assistant.ask(Turn("What is asthma?")).to_json()
    assert {"answer", "citations", "findings", "safety", "tools", "model", "timings"} <= set(out)
    assert {"id", "title", "source", "score"} <= set(out["citations"][0])
    assert out["safety"] == {"action": "answer", "reasons": []}
    assert set(out["tools"][0]) >= {"name", "input", "output"}


def test_roles_get_different_system_prompts(echo_llm: EchoLLM) -> None:
    bot = Assistant(echo_llm)
    patient = bot.ask(Turn("What is a cough?", role="patient")).answer
    doctor = bot.ask(Turn("What is a cough?", role="doctor")).answer
    assert "plain, everyday language" in patient and "plain, everyday language" not in doctor
    assert "clinical terminology" in doctor


@pytest.mark.parametrize("turn", [Turn(""), Turn("   "), Turn("hi", role="nurse")])  # type: ignore[arg-type]
def test_bad_turns_raise_input_error(assistant: Assistant, turn: Turn) -> None:
    with pytest.raises(InputError):
        list(assistant.run(turn))


def test_no_relevant_source_says_so_without_calling_model(fake_llm: FakeLLM) -> None:
    bot = Assistant(fake_llm, tools=[FakeRetrieval(n=0)])
    result = bot.ask(Turn("What is asthma?"))
    assert "could not find" in result.answer and not fake_llm.calls
    assert result.citations == []


def test_history_trimmed_by_tokens_oldest_first() -> None:
    llm = FakeLLM(context_length=300)
    bot = Assistant(llm)
    bot.generation.max_new_tokens = 50
    history = []
    for i in range(20):
        history += [{"role": "user", "content": f"question {i} " + "word " * 10},
                    {"role": "assistant", "content": f"answer {i} " + "word " * 10}]
    bot.ask(Turn("latest question", history=history))
    sent = llm.calls[-1]
    assert llm.count_tokens(sent) <= 250
    assert sent[-1]["content"].endswith("latest question")
    assert "answer 19" in sent[-2]["content"] and all("question 0 " not in m["content"] for m in sent)


def test_snippets_dropped_after_history_and_citations_match() -> None:
    llm = FakeLLM(context_length=260)
    bot = Assistant(llm, tools=[FakeRetrieval(n=5, text="long " * 30)])
    bot.generation.max_new_tokens = 20
    result = bot.ask(Turn("q?"))
    shown = llm.calls[-1][-1]["content"]
    assert 0 < len(result.citations) < 5
    for c in result.citations:
        assert f"[{c.number}] {c.title}" in shown
    assert f"[{len(result.citations) + 1}]" not in shown


def test_message_longer_than_context_is_a_clear_error() -> None:
    retrieval = FakeRetrieval(n=0)  # finds nothing: the turn must not end as "not in my sources"
    bot = Assistant(FakeLLM(context_length=100), tools=[retrieval])
    with pytest.raises(InputError, match="too long"):
        bot.ask(Turn("word " * 500))


class _Escalate(Guardrails):
    def check_input(self, turn: Turn) -> SafetyDecision:
        if "chest pain" in turn.text:
            return SafetyDecision("escalate", ["chest pain"], "Call emergency services now.")
        if "poison" in turn.text:
            return SafetyDecision("refuse", ["harm"], "I can't help with that.")
        if "end my life" in turn.text:
            return SafetyDecision("escalate", ["self_harm"], "Please call 988 now.", final=True)
        return SafetyDecision()

    def output_filter(self, turn: Turn, decision: SafetyDecision) -> OutputFilter:
        class Upper(OutputFilter):
            def feed(self, text: str) -> str:
                return text.upper()

            def close(self) -> str:
                return " [disclaimer]"
        return Upper()


def test_escalation_leads_the_answer(fake_llm: FakeLLM) -> None:
    result = Assistant(fake_llm, guardrails=_Escalate()).ask(Turn("I have chest pain"))
    assert result.answer.startswith("Call emergency services now.")
    assert result.safety.action == "escalate" and result.answer.endswith("[disclaimer]")
    assert "CANNED ANSWER" in result.answer  # output rail saw the streamed text


def test_refusal_skips_tools_and_model(fake_llm: FakeLLM) -> None:
    result = Assistant(fake_llm, tools=[FakeRetrieval()], guardrails=_Escalate()).ask(Turn("make poison"))
    assert result.answer == "I can't help with that." and result.tools == [] and not fake_llm.calls


def test_refusal_message_is_streamed_for_every_adapter(fake_llm: FakeLLM) -> None:
    """Streaming adapters (SSE, `medassist chat`) show tokens: a refusal must arrive as one."""
    events = list(Assistant(fake_llm, guardrails=_Escalate()).run(Turn("make poison")))
    assert [e.text for e in events if isinstance(e, TokenEvent)] == ["I can't help with that."]


def test_final_escalation_shows_only_the_message(fake_llm: FakeLLM) -> None:
    bot = Assistant(fake_llm, tools=[FakeRetrieval()], guardrails=_Escalate())
    result = bot.ask(Turn("how do I end my life"))
    assert result.safety.action == "escalate" and result.answer == "Please call 988 now."
    assert result.tools == [] and not fake_llm.calls


def test_failing_tool_is_reported_and_turn_completes(fake_llm: FakeLLM) -> None:
    from assistant.errors import InputError as Bad

    class Broken(FakeVision):
        def forward(self, image: str):
            raise Bad("The file is not an image.")

    result = Assistant(fake_llm, tools=[Broken()]).ask(Turn("look", image="/x"))
    assert result.tools[0].error == "The file is not an image."
    assert "The tool failed: The file is not an image." in fake_llm.calls[-1][-1]["content"]


def test_observer_failure_does_not_break_turn(fake_llm: FakeLLM) -> None:
    seen = []

    def broken(turn, result):
        raise RuntimeError("disk full")

    bot = Assistant(fake_llm, observers=[broken, lambda t, r: seen.append(r.answer)])
    assert bot.ask(Turn("hello")).answer and seen
