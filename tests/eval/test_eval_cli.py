"""`medassist eval ls/run/compare` through the real CLI entry point, with the fake model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import main
from eval.compare import compare, render


def _data(tmp_path: Path, n: int = 8) -> str:
    rows = [{"question": f"Q{i}?", "answer_a": "a", "answer_b": "b", "answer_c": "c", "answer_d": "d",
             "correct_answer": "A" if i < 6 else "B", "topic": "anatomy" if i % 2 else "college medicine"} for i in range(n)]
    path = tmp_path / "mmlu.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def test_ls_lists_every_task(capsys):
    assert main(["eval", "ls"]) == 0
    out = capsys.readouterr().out
    for name in ("mmlu-med", "medqa", "medmcqa", "pubmedqa", "bioasq", "retrieval", "vision", "safety",
                 "healthbench", "latency"):
        assert f"\n{name} " in "\n" + out


def test_run_and_compare(tmp_path, capsys, monkeypatch):
    data = _data(tmp_path)
    assert main(["eval", "run", "mmlu-med", "--llm", "fake", "--data", data, "--out", str(tmp_path / "a"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "mmlu-med: accuracy 0.000" in out and "results:" in out  # the fake model's canned text parses to nothing
    a = next((tmp_path / "a").glob("results_*.json"))
    # B: a model that always says "A" (6 of 8 right); paired with A (0 of 8) by example id.
    monkeypatch.setattr("assistant.llm.fake.FakeLLM.compose", lambda self, messages: '{"answer_choice": "A"}')
    assert main(["eval", "run", "mmlu-med", "--llm", "fake", "--data", data, "--out", str(tmp_path / "b"), "-q"]) == 0
    b = next((tmp_path / "b").glob("results_*.json"))
    capsys.readouterr()
    assert main(["eval", "compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "| mmlu-med | accuracy | 0.000" in out and "+0.750" in out
    assert "McNemar, 0 vs 6 discordant" in out
    rows = compare(a, b)
    assert rows[0].paired["mcnemar"]["p_value"] == pytest.approx(2 / 64)  # exact: 2 * 0.5**6
    assert (tmp_path / "cmp" / "compare_mmlu-med.png").is_file()
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| anatomy | " in md and "compare_mmlu-med.png" in md
    assert "no paired" not in render(rows)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["eval", "run", "nope", "--llm", "fake"], "Unknown eval task"),
     (["eval", "run", "mmlu-med", "--llm", "fake", "--limit", "0"], "--limit must be a positive"),
     (["eval", "run", "medqa", "--llm", "fake"], "not packaged"),
     (["eval", "run", "medqa", "--llm", "fake", "--data", "/nonexistent.json"], "does not exist"),
     (["eval", "compare", "/nonexistent/a.json", "/nonexistent/b.json"], "Cannot read results file")],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path, capsys, argv, message):
    assert main([*argv, *(["--out", str(tmp_path)] if argv[1] == "run" else [])]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_tiny_model_runs_both_modes(tmp_path, capsys):
    """SmolLM2-135M (packaged): generation (MIRAGE) and log-likelihood modes end to end on 2 questions."""
    data = _data(tmp_path, n=2)
    for mode in ("loglik", "generate"):
        argv = ["eval", "run", "mmlu-med", "--llm", "smollm2-135m", "--mode", mode, "--data", data,
                "--max-new-tokens", "24", "--out", str(tmp_path / mode), "-q"]
        assert main(argv) == 0, capsys.readouterr().err
        results = json.loads(next((tmp_path / mode).glob("results_*.json")).read_text())
        task = results["tasks"]["mmlu-med"]
        assert task["n"] == 2 and task["n_errors"] == 0 and results["model"] == "smollm2-135m"
        rows = [json.loads(x) for x in (tmp_path / mode / task["samples"]).read_text().splitlines()]
        assert all(r["raw_output"] for r in rows)
        if mode == "loglik":
            assert all(abs(sum(r["option_probs"].values()) - 1) < 1e-4 for r in rows)
