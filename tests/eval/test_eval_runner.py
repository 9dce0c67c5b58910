"""The runner: files written, determinism, streaming + resume, malformed rows, RAG wiring, loglik mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.llm.fake import FakeLLM
from eval.runner import run, strip_timings
from tests.conftest import FakeRetrieval
from tests.eval.conftest import LetterScorer


def _mcq_file(tmp_path: Path, n: int = 6, broken: bool = True) -> str:
    topics = ["anatomy", "college medicine"]
    rows = [json.dumps({"question": f"Question {i}?", "answer_a": "a", "answer_b": "b", "answer_c": "c",
                        "answer_d": "d", "correct_answer": "AB"[i % 2], "topic": topics[i % 2]}) for i in range(n)]
    if broken:
        rows.insert(2, "{not json")
    path = tmp_path / "mini_mmlu.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def _results(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_run_writes_results_samples_report_and_plots(tmp_path, make_ctx):
    ctx = make_ctx(data=_mcq_file(tmp_path))
    path, runs = run(["mmlu-med"], ctx, tmp_path / "out", progress=False)
    results = _results(path)
    task = results["tasks"]["mmlu-med"]
    assert task["n"] == 6 and task["n_examples"] == 6
    assert task["metrics"]["accuracy"]["value"] == pytest.approx(0.5)  # always "A"; answers alternate A/B
    assert task["metrics"]["accuracy"]["ci_low"] <= 0.5 <= task["metrics"]["accuracy"]["ci_high"]
    assert len(task["malformed"]) == 1 and "JSON" in task["malformed"][0]["reason"]
    assert set(task["groups"]) == {"anatomy", "college medicine"}
    for key in ("git", "packages", "config", "seed", "wall_time_s", "model", "settings"):
        assert key in results
    assert results["packages"]["numpy"]
    rows = [json.loads(line) for line in (path.parent / task["samples"]).read_text().splitlines()]
    assert [r["parsed"] for r in rows] == ["A"] * 6
    assert {"prompt", "retrieved", "raw_output", "parsed", "correct", "timings"} <= set(rows[0])
    report = next(path.parent.glob("report_*.md")).read_text()
    assert "| mmlu-med | accuracy | 0.500 [" in report
    pngs = list(path.parent.glob("plots_*/*.png"))
    assert pngs and all(p.name in report for p in pngs)


def test_same_seed_and_config_give_the_same_results(tmp_path, make_ctx):
    data = _mcq_file(tmp_path)
    first, _ = run(["mmlu-med"], make_ctx(data=data, seed=7), tmp_path / "a", progress=False)
    second, _ = run(["mmlu-med"], make_ctx(data=data, seed=7), tmp_path / "b", progress=False)
    assert strip_timings(_results(first)) == strip_timings(_results(second))
    third, _ = run(["mmlu-med"], make_ctx(data=data, seed=8), tmp_path / "c", progress=False)
    assert strip_timings(_results(first)) != strip_timings(_results(third))


class _Crash(FakeLLM):
    """Answers `n` questions, then dies as a Ctrl-C would."""

    def __init__(self, n: int) -> None:
        super().__init__(reply='{"answer_choice": "B"}')
        self.n = n

    def stream(self, messages, config):
        if len(self.calls) >= self.n:
            raise KeyboardInterrupt
        yield from super().stream(messages, config)


def test_interrupted_run_loses_nothing_and_resume_continues(tmp_path, make_ctx):
    data, out = _mcq_file(tmp_path, broken=False), tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(["mmlu-med"], make_ctx(data=data, llm=_Crash(3)), out, progress=False)
    samples = next(out.glob("samples_mmlu-med_*.jsonl"))
    assert len(samples.read_text().splitlines()) == 3
    with samples.open("a") as f:
        f.write('{"id": "anatomy/00')  # a line cut off by the crash
    with pytest.raises(ConfigError, match="--resume"):
        run(["mmlu-med"], make_ctx(data=data), out, progress=False)
    llm = FakeLLM(reply='{"answer_choice": "B"}')
    path, _ = run(["mmlu-med"], make_ctx(data=data, llm=llm), out, resume=True, progress=False)
    assert len(llm.calls) == 3  # only the missing questions ran
    task = _results(path)["tasks"]["mmlu-med"]
    assert task["n"] == 6 and task["metrics"]["accuracy"]["value"] == pytest.approx(0.5)
    assert len(samples.read_text().splitlines()) == 6
    path, _ = run(["mmlu-med"], make_ctx(data=data, llm=FakeLLM(reply="A")), out, overwrite=True, progress=False)
    assert len(samples.read_text().splitlines()) == 6 and _results(path)["tasks"]["mmlu-med"]["n"] == 6


def test_rag_retrieves_with_the_question_only(tmp_path, make_ctx):
    tool = FakeRetrieval(n=3)
    queries: list[str] = []
    original = tool.forward
    tool.forward = lambda query: queries.append(query) or original(query)
    ctx = make_ctx(data=_mcq_file(tmp_path, n=2, broken=False), tools=[tool])
    path, runs = run(["mmlu-med"], ctx, tmp_path / "out", progress=False)
    assert queries == ["Question 0?", "Question 1?"]
    row = runs[0].rows[0]
    assert row["retrieved"] == ["doc0", "doc1", "doc2"] and row["shown"] == row["retrieved"]
    assert "Document [1] (Title: Guideline 0)" in row["prompt"][1]["content"]
    assert "relevant documents" in row["prompt"][0]["content"]
    assert "retrieval" in _results(path)["tasks"]["mmlu-med"]["latency"]
    assert _results(path)["rag"] is True


def test_no_rag_drops_the_retrieval_tool_and_rag_without_one_fails(tmp_path, make_ctx):
    ctx = make_ctx(data=_mcq_file(tmp_path, n=2, broken=False), tools=[FakeRetrieval()], rag=False)
    _, runs = run(["mmlu-med"], ctx, tmp_path / "out", progress=False)
    assert runs[0].rows[0]["retrieved"] == [] and "Document" not in runs[0].rows[0]["prompt"][1]["content"]
    ctx = make_ctx(data=_mcq_file(tmp_path, n=2, broken=False), rag=True)
    ctx.assistant = None
    ctx.settings = ctx.settings.model_copy(update={"llm": "fake"})
    with pytest.raises(ConfigError, match="retrieval tool"):
        run(["mmlu-med"], ctx, tmp_path / "out2", progress=False)


def test_loglik_mode_reports_calibration(tmp_path, make_ctx):
    ctx = make_ctx(data=_mcq_file(tmp_path, broken=False), mode="loglik")
    ctx.scorer = LetterScorer("B")
    path, runs = run(["mmlu-med"], ctx, tmp_path / "out", progress=False)
    task = _results(path)["tasks"]["mmlu-med"]
    assert ctx.scorer.calls == 6
    assert all(r["parsed"] == "B" and 0.25 < r["confidence"] < 1 for r in runs[0].rows)
    assert task["metrics"]["accuracy"]["value"] == pytest.approx(0.5)
    assert task["metrics"]["ece"]["value"] > 0.1 and task["reliability"]
    assert "Answer with the letter only" in runs[0].rows[0]["prompt"][1]["content"]
    assert list(path.parent.glob("plots_*/mmlu-med_reliability.png"))


def test_loglik_needs_a_local_model(tmp_path, make_ctx):
    ctx = make_ctx(data=_mcq_file(tmp_path, n=2, broken=False), mode="loglik")
    with pytest.raises(ConfigError, match="--mode generate"):
        run(["mmlu-med"], ctx, tmp_path / "out", progress=False)


def test_too_long_question_is_an_error_row_and_the_run_goes_on(tmp_path, make_ctx):
    llm = FakeLLM(reply="A")
    llm.context_length = 90
    ctx = make_ctx(data=_mcq_file(tmp_path, n=2, broken=False), llm=llm)
    ctx.assistant.generation.max_new_tokens = 85
    path, runs = run(["mmlu-med"], ctx, tmp_path / "out", progress=False)
    task = _results(path)["tasks"]["mmlu-med"]
    assert task["n"] == 0 and task["n_errors"] == 2
    assert "does not fit" in task["errors"][0]["error"]


def test_unknown_task(tmp_path, make_ctx):
    with pytest.raises(ConfigError, match="eval ls"):
        run(["nope"], make_ctx(), tmp_path, progress=False)
