"""Native tool calling: the model picks the clinical tools with its template; values still come from the text."""

from __future__ import annotations

import json

import pytest

from assistant.clinical.tools import PatientContextTool, RiskScoreTool
from assistant.engine import Assistant
from assistant.errors import ConfigError
from assistant.events import ToolCallEvent
from assistant.llm import GenerationConfig, load_llm
from assistant.llm.base import ToolCall, parse_tool_calls
from assistant.llm.fake import FakeLLM
from assistant.types import Turn
from tests.conftest import FakeRetrieval

# No score named and no pneumonia-severity intent: the router alone would not compute anything.
CASE = "65-year-old with cough, fever, confusion, urea 8 mmol/L, RR 32, BP 85/50. Thoughts?"


def _call(name: str, **arguments: object) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def _bot(tool_reply: str | None, mode: str = "native") -> tuple[Assistant, FakeLLM]:
    llm = FakeLLM(tool_reply=tool_reply)
    return Assistant(llm, tools=[FakeRetrieval(n=1), PatientContextTool(), RiskScoreTool()], tool_calling=mode), llm


def test_parse_tool_calls() -> None:
    text = _call("risk_score", scores=["curb65"]) + " and " + _call("lookup", terms=["J18.9"])
    assert parse_tool_calls(text) == [ToolCall("risk_score", {"scores": ["curb65"]}), ToolCall("lookup", {"terms": ["J18.9"]})]
    assert parse_tool_calls('<tool_call>{"name": "x", "arguments": "{\\"a\\": 1}"}</tool_call>') == [ToolCall("x", {"a": 1})]
    assert parse_tool_calls('<tool_call>{"name": "x", "arguments": {}}') == [ToolCall("x", {})]  # cut off before the tag
    assert parse_tool_calls("<tool_call>{not json}</tool_call><tool_call>[1]</tool_call>") == []
    assert parse_tool_calls('<tool_call>{"arguments": {}}</tool_call>') == []  # no name
    assert parse_tool_calls("none") == []
    bare = '{{"name": "lookup", "arguments": {"terms": ["pneumonia"]}}}'  # what Qwen2.5-Coder-1.5B writes
    assert parse_tool_calls(bare) == parse_tool_calls(bare[1:-1]) == [ToolCall("lookup", {"terms": ["pneumonia"]})]
    assert parse_tool_calls('{"name": "x", "arguments": {}} and some prose') == [ToolCall("x", {})]


def test_model_picks_the_score_and_the_text_rules_read_its_inputs() -> None:
    bot, llm = _bot(_call("risk_score", scores=["CURB-65"], inputs={"urea_mmol_l": 20}))
    events = list(bot.run(Turn(CASE, role="doctor")))
    result = events[-1].result
    score = next(r for r in result.tools if r.name == "risk_score")
    assert score.error is None and score.output["results"][0]["value"] == 5
    assert score.input["inputs"]["urea_mmol_l"] == 8.0  # the message's value, not the model's 20
    assert "model_filled" not in score.input
    assert [[t["function"]["name"] for t in s] for s in llm.tool_specs] == [["risk_score"]]  # only callable tools offered
    assert "plan" in result.timings and "score:curb65" in [c.id for c in result.citations]
    plan_prompt = llm.calls[0]
    assert plan_prompt[0]["content"].startswith("You are MedAssist's tool selector") and "Snippet" not in str(plan_prompt)


def test_a_value_only_the_model_gave_is_used_and_flagged() -> None:
    bot, _ = _bot(_call("risk_score", scores=["curb65"], inputs={"confusion": True}))
    result = bot.ask(Turn("65-year-old, AMTS 6/10, urea 8 mmol/L, RR 32, BP 85/50. CURB-65?", role="doctor"))
    score = next(r for r in result.tools if r.name == "risk_score")
    assert score.input["model_filled"] == ["confusion"] and score.output["model_filled"] == ["confusion"]
    assert score.output["results"][0]["value"] == 5


def test_model_that_calls_nothing_calls_nothing_and_bad_calls_are_reported() -> None:
    bot, llm = _bot("none")
    result = bot.ask(Turn(CASE + " CURB-65 please", role="doctor"))
    assert [r.name for r in result.tools] == ["retrieval"]  # the model decides in native mode
    bot, _ = _bot(_call("risk_score", scores=["apgar"]) + _call("rm_rf", path="/"))
    result = bot.ask(Turn(CASE, role="doctor"))
    errors = {r.name: r.error for r in result.tools if r.error}
    assert "unknown score" in errors["risk_score"] and "Unknown tool 'rm_rf'" in errors["rm_rf"]
    assert result.answer  # the turn still completes


def test_router_mode_and_backends_without_tools_use_the_routers() -> None:
    for bot, llm in (_bot(_call("risk_score", scores=["curb65"]), mode="router"), _bot(None)):
        events = list(bot.run(Turn(CASE + " What is the CURB-65?", role="doctor")))
        assert [e.name for e in events if isinstance(e, ToolCallEvent)] == ["retrieval", "risk_score"]
        assert llm.tool_specs == [] and "plan" not in events[-1].result.timings
    with pytest.raises(ConfigError, match="tool calling"):
        Assistant(FakeLLM(), tool_calling="sometimes")


def test_openai_backend_returns_server_tool_calls(chat_server) -> None:
    url, requests = chat_server([  # one tool call split over two chunks, as servers stream it
        {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "risk_score", "arguments": '{"scores": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '["qsofa"]}'}}]},
    ])
    llm = load_llm(f"openai:tiny@{url}")
    calls = llm.call_tools([{"role": "user", "content": "sepsis?"}], [RiskScoreTool().spec()], GenerationConfig())
    assert calls == [ToolCall("risk_score", {"scores": ["qsofa"]})]
    assert requests[0]["tools"][0]["type"] == "function" and requests[0]["tools"][0]["function"]["name"] == "risk_score"


def test_a_failing_model_is_asked_once_and_the_routers_take_over() -> None:
    from assistant.errors import ModelError

    class Broken(FakeLLM):
        def call_tools(self, messages, tools, config):  # noqa: ANN001, ANN201
            self.asked = getattr(self, "asked", 0) + 1
            raise ModelError("server down")

    llm = Broken(tool_reply="")
    bot = Assistant(llm, tools=[RiskScoreTool(), RiskScoreTool()], tool_calling="native")
    result = bot.ask(Turn(CASE + " CURB-65?", role="doctor"))
    assert llm.asked == 1 and [r.name for r in result.tools] == ["risk_score", "risk_score"]
