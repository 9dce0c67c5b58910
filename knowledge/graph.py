"""Query API over the knowledge-graph SQLite file built by `knowledge.build`.

`KnowledgeGraph` answers four questions:
- `lookup(term_or_code)`: a node's definition, synonyms, parents, children and related nodes;
- `search(text)`: nodes whose name or synonym contains the text;
- `link(text)`: entity linking, the graph nodes named in a text (longest exact synonym match
  over word n-grams, plus explicit codes such as HP:0002090, ICD-10-CM J18.9, OMIM:154700);
- `differential(hpo_ids)`: diseases ranked by Phenomizer-style semantic similarity
  (Koehler et al. 2009): for each query phenotype q, the information content of the most
  informative common ancestor of q and any phenotype of the disease; averaged over the query.
  Each result lists which disease phenotype supports each query term.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.build import HPO_ROOT, PHENOTYPIC_ABNORMALITY, SCHEMA_VERSION, normalize

MAX_NGRAM = 8
# Words that are HPO/ICD synonyms but are ordinary English in a question.
STOP = {"all", "a", "an", "the", "and", "or", "of", "in", "on", "to", "is", "it", "as", "at", "be", "by",
        "for", "with", "no", "not", "mode", "other", "unspecified", "onset", "severe", "mild", "moderate",
        "episodic", "chronic", "acute", "frequent", "very rare", "rare", "occasional", "obligate",
        "recurrent", "progressive", "sex", "male", "female", "death", "pain", "this", "that", "how", "what",
        "patient", "year", "years", "old", "day", "days", "history", "frequency", "normal", "abnormal", "variable",
        "increased", "decreased", "high", "low", "left", "right", "bilateral", "unilateral"}
CODE_PATTERNS = [
    (r"\bHP:\d{7}\b", lambda m: m),
    (r"\b(?:OMIM|ORPHA|DECIPHER):\d+\b", lambda m: m),
    (r"\b[A-TV-Z][0-9][0-9AB](?:\.[0-9A-Z]{1,4})?\b", lambda m: f"ICD10CM:{m}"),
]


@dataclass
class Entity:
    """A span of text linked to a graph node."""

    id: str
    name: str
    kind: str
    text: str
    start: int
    end: int


@dataclass
class DiseaseMatch:
    """One ranked disease with the phenotypes that support it."""

    id: str
    name: str
    score: float
    supporting: list[dict[str, Any]] = field(default_factory=list)
    reverse_score: float = 0.0


class KnowledgeGraph:
    """Read-only access to a built graph.

    Args:
        path: the SQLite file written by `knowledge.build.build_graph`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it was built by an incompatible version.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(str(self.path))
        self.con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self._ic_cache: dict[str, float] = {}
        version = self.meta().get("schema")
        if version != SCHEMA_VERSION:
            raise ValueError(f"knowledge graph schema {version}, expected {SCHEMA_VERSION}: rebuild it")

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM meta")}

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------------ nodes
    def node(self, node_id: str) -> dict[str, Any] | None:
        row = self.con.execute("SELECT id, kind, name, definition, source FROM nodes WHERE id = ?",
                               (node_id,)).fetchone()
        return None if row is None else dict(zip(("id", "kind", "name", "definition", "source"), row))

    def resolve(self, term: str) -> str | None:
        """A node id for a code (HP:..., OMIM:..., ICD-10-CM code) or an exact name/synonym."""
        term = term.strip()
        candidates = [term, term.upper(), f"ICD10CM:{term.upper()}"]
        if re.fullmatch(r"[A-Za-z]\d{2}[0-9A-Za-z]{1,4}", term):  # ICD code without its dot
            candidates.append(f"ICD10CM:{term[:3].upper()}.{term[3:].upper()}")
        for c in candidates:
            if self.node(c):
                return c
        rows = self.con.execute("SELECT node_id FROM synonyms WHERE norm = ?", (normalize(term),)).fetchall()
        return _preferred([r[0] for r in rows])

    def lookup(self, term: str, limit: int = 10) -> dict[str, Any] | None:
        """Definition, synonyms, parents, children and related nodes of a term or code; None if unknown."""
        node_id = self.resolve(term)
        if node_id is None:
            return None
        out = self.node(node_id) or {}
        out["synonyms"] = [r[0] for r in self.con.execute(
            "SELECT text FROM synonyms WHERE node_id = ? AND text != ?", (node_id, out["name"]))]
        out["parents"] = self._neighbours("SELECT dst FROM edges WHERE src = ? AND rel = 'is_a'", node_id, limit)
        out["children"] = self._neighbours("SELECT src FROM edges WHERE dst = ? AND rel = 'is_a'", node_id, limit)
        out["related"] = self._related(node_id, out["kind"], limit)
        return out

    def _neighbours(self, sql: str, node_id: str, limit: int) -> list[dict[str, str]]:
        ids = [r[0] for r in self.con.execute(sql + f" LIMIT {int(limit)}", (node_id,))]
        return [{"id": i, "name": (self.node(i) or {"name": i})["name"]} for i in ids]

    def _related(self, node_id: str, kind: str, limit: int) -> dict[str, list[Any]]:
        if kind == "disease":
            rows = self.con.execute(
                "SELECT e.dst, n.name, e.attr FROM edges e JOIN nodes n ON n.id = e.dst "
                "JOIN term_ic t ON t.hpo_id = e.dst WHERE e.src = ? AND e.rel = 'has_phenotype' "
                "ORDER BY t.ic DESC LIMIT ?", (node_id, limit)).fetchall()
            return {"phenotypes": [{"id": i, "name": n, "frequency": f} for i, n, f in rows]}
        if kind == "phenotype":
            rows = self.con.execute(
                "SELECT e.src, n.name FROM edges e JOIN nodes n ON n.id = e.src "
                "WHERE e.dst = ? AND e.rel = 'has_phenotype' LIMIT ?", (node_id, limit)).fetchall()
            ic = self.con.execute("SELECT ic FROM term_ic WHERE hpo_id = ?", (node_id,)).fetchone()
            return {"diseases": [{"id": i, "name": n} for i, n in rows], "information_content": ic and round(ic[0], 3)}
        if kind == "complaint":
            rows = self.con.execute(
                "SELECT e.dst, n.name, e.attr FROM edges e JOIN nodes n ON n.id = e.dst "
                "WHERE e.src = ? AND e.rel = 'differential'", (node_id,)).fetchall()
            return {"diagnoses": [{"id": i, "name": n, "likelihood": lk} for i, n, lk in rows]}
        if kind == "diagnosis":
            out: dict[str, list[Any]] = {}
            for rel in ("red_flag", "test"):
                out[rel + "s"] = [r[0] for r in self.con.execute(
                    "SELECT dst FROM edges WHERE src = ? AND rel = ?", (node_id, rel))]
            out["complaints"] = [r[0] for r in self.con.execute(
                "SELECT src FROM edges WHERE dst = ? AND rel = 'differential'", (node_id,))]
            return out
        return {}

    def search(self, text: str, kinds: tuple[str, ...] | None = None, limit: int = 10) -> list[dict[str, str]]:
        """Nodes whose name or synonym contains `text` (normalised): exact, then prefix, then shortest."""
        norm = normalize(text)
        if not norm:
            return []
        # Rank of a node: its best synonym, exact (0) < prefix (1000) < contains (2000), plus its length.
        sql = ("SELECT s.node_id, n.name, n.kind, "
               "MIN((s.norm != ?) * 1000 + (s.norm NOT LIKE ?) * 1000 + length(s.norm)) AS rank "
               "FROM synonyms s JOIN nodes n ON n.id = s.node_id WHERE s.norm LIKE ?")
        args: list[Any] = [norm, f"{norm}%", f"%{norm}%"]
        if kinds:
            sql += f" AND n.kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        sql += " GROUP BY s.node_id ORDER BY rank, s.node_id LIMIT ?"
        rows = self.con.execute(sql, [*args, limit]).fetchall()
        return [{"id": i, "name": n, "kind": k} for i, n, k, _ in rows]

    # ------------------------------------------------------------------ entity linking
    def link(self, text: str, kinds: tuple[str, ...] | None = None) -> list[Entity]:
        """Graph nodes named in `text`: explicit codes, then the longest synonym matches, left to right."""
        found = [e for e in self.codes(text) if kinds is None or e.kind in kinds]
        taken = [(e.start, e.end) for e in found]
        words = [(m.group(0).lower(), m.start(), m.end()) for m in re.finditer(r"[A-Za-z0-9]+", text)]
        grams: dict[str, tuple[int, int]] = {}
        for i in range(len(words)):
            for n in range(1, MAX_NGRAM + 1):
                if i + n <= len(words):
                    grams.setdefault(" ".join(w for w, _, _ in words[i:i + n]), (i, i + n))
        candidates = [g for g in grams if g not in STOP and len(g) > 2]
        hits = self._synonym_hits(candidates, kinds)
        for gram in sorted(hits, key=lambda g: (-(grams[g][1] - grams[g][0]), grams[g][0])):
            i, j = grams[gram]
            start, end = words[i][1], words[j - 1][2]
            if any(start < e and s < end for s, e in taken):
                continue
            node = self.node(hits[gram])
            if node:
                found.append(Entity(node["id"], node["name"], node["kind"], text[start:end], start, end))
                taken.append((start, end))
        return sorted(found, key=lambda e: e.start)

    def codes(self, text: str) -> list[Entity]:
        """Explicit codes in `text` that name graph nodes (HP:, OMIM:, ORPHA:, DECIPHER:, ICD-10-CM)."""
        out = []
        for pattern, to_id in CODE_PATTERNS:
            for m in re.finditer(pattern, text):
                node = self.node(to_id(m.group(0)))
                if node:
                    out.append(Entity(node["id"], node["name"], node["kind"], m.group(0), m.start(), m.end()))
        return out

    def _synonym_hits(self, grams: list[str], kinds: tuple[str, ...] | None) -> dict[str, str]:
        hits: dict[str, list[str]] = {}
        for chunk in range(0, len(grams), 500):
            part = grams[chunk:chunk + 500]
            sql = (f"SELECT s.norm, s.node_id FROM synonyms s JOIN nodes n ON n.id = s.node_id "
                   f"WHERE s.norm IN ({','.join('?' * len(part))})")
            args = list(part)
            if kinds:
                sql += f" AND n.kind IN ({','.join('?' * len(kinds))})"
                args += list(kinds)
            for norm, node_id in self.con.execute(sql, args):
                hits.setdefault(norm, []).append(node_id)
        return {g: p for g, ids in hits.items() if (p := _preferred(ids))}

    # ------------------------------------------------------------------ differential
    @cached_property
    def _disease_ids(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT id FROM diseases ORDER BY idx")]

    def _ic_and_ancestors(self, term: str) -> tuple[float, list[str]]:
        row = self.con.execute("SELECT ic, ancestors FROM term_ic WHERE hpo_id = ?", (term,)).fetchone()
        if row is None:
            raise KeyError(term)
        return row[0], json.loads(row[1])

    def _term_diseases(self, term: str) -> np.ndarray:
        row = self.con.execute("SELECT diseases FROM term_diseases WHERE hpo_id = ?", (term,)).fetchone()
        return np.frombuffer(row[0], dtype="<i4") if row else np.empty(0, dtype="<i4")

    def differential(self, hpo_ids: list[str], limit: int = 10) -> list[DiseaseMatch]:
        """Diseases ranked by Phenomizer similarity to the query phenotypes.

        Raises:
            KeyError: a query id is not an HPO term of this graph (the message names it).
        """
        terms = list(dict.fromkeys(hpo_ids))
        n = len(self._disease_ids)
        total = np.zeros(n)
        for term in terms:
            best = np.zeros(n)
            for ancestor in self._ic_and_ancestors(term)[1]:
                if ancestor in (HPO_ROOT, PHENOTYPIC_ABNORMALITY):
                    continue
                ic = self._ic_and_ancestors(ancestor)[0]
                rows = self._term_diseases(ancestor)
                np.maximum.at(best, rows, ic)
            total += best
        total /= max(len(terms), 1)
        # Many diseases tie on query->disease similarity; among the best 100, break ties by the
        # reverse direction (how well the query explains the disease's phenotypes).
        shortlist = [int(i) for i in np.argsort(-total, kind="stable")[:100] if total[i] > 0]
        matches = [self._match(self._disease_ids[i], float(total[i]), terms) for i in shortlist]
        matches.sort(key=lambda m: (-m.score, -m.reverse_score, m.id))
        return matches[:limit]

    def _match(self, disease: str, score: float, terms: list[str]) -> DiseaseMatch:
        annotated = [r[0] for r in self.con.execute(
            "SELECT dst FROM edges WHERE src = ? AND rel = 'has_phenotype'", (disease,))]
        ancestors = {t: set(self._ic_and_ancestors(t)[1]) for t in annotated if self._has_term(t)}
        supporting = []
        for q in terms:
            q_anc = self._ic_and_ancestors(q)[1]
            best: tuple[float, int, str, str] | None = None
            for a in q_anc:
                if a in (HPO_ROOT, PHENOTYPIC_ABNORMALITY):
                    continue
                holders = [t for t, anc in ancestors.items() if a in anc]
                ic, a_ancestors = self._ic_and_ancestors(a)
                # Most informative common ancestor; on equal IC the more specific (deeper) term.
                if holders and (best is None or (ic, len(a_ancestors)) > best[:2]):
                    best = (ic, len(a_ancestors), a, min(holders, key=lambda t: (t != q, t)))
            if best:
                ic, _, common, held = best
                supporting.append({"query": q, "query_name": self._name(q), "disease_phenotype": held,
                                   "disease_phenotype_name": self._name(held), "common_ancestor": common,
                                   "common_ancestor_name": self._name(common), "ic": round(ic, 3),
                                   "exact": held == q})
        q_anc = {q: set(self._ic_and_ancestors(q)[1]) for q in terms}
        reverse = [max((self._mica_ic(anc, q_anc[q]) for q in terms), default=0.0) for anc in ancestors.values()]
        rev = sum(reverse) / len(reverse) if reverse else 0.0
        return DiseaseMatch(disease, self._name(disease), round(score, 4), supporting, round(rev, 4))

    def _mica_ic(self, a: set[str], b: set[str]) -> float:
        common = (a & b) - {HPO_ROOT, PHENOTYPIC_ABNORMALITY}
        return max((self._ic(t) for t in common), default=0.0)

    def _ic(self, term: str) -> float:
        if term not in self._ic_cache:
            self._ic_cache[term] = self._ic_and_ancestors(term)[0]
        return self._ic_cache[term]

    def _has_term(self, term: str) -> bool:
        return self.con.execute("SELECT 1 FROM term_ic WHERE hpo_id = ?", (term,)).fetchone() is not None

    def _name(self, node_id: str) -> str:
        node = self.node(node_id)
        return node["name"] if node else node_id

    def complaints(self, text: str) -> list[dict[str, Any]]:
        """open-medicine complaint differentials whose name or keywords appear in `text`."""
        ids = [e.id for e in self.link(text, kinds=("complaint",))]
        out = []
        for cid in dict.fromkeys(ids):
            node = self.lookup(cid) or {}
            diagnoses = node.get("related", {}).get("diagnoses", [])
            for dx in diagnoses:
                rel = self._related(dx["id"], "diagnosis", 20)
                dx["red_flags"], dx["tests"] = rel.get("red_flags", []), rel.get("tests", [])
            out.append({"id": cid, "name": node.get("name"), "source": node.get("source"), "diagnoses": diagnoses})
        return out


_KIND_ORDER = {"phenotype": 0, "complaint": 1, "diagnosis": 2, "drug": 3, "icd10cm": 4, "disease": 5,
               "icd10cm_block": 6, "icd10cm_chapter": 7}


def _preferred(ids: list[str]) -> str | None:
    """When one synonym names several nodes, prefer phenotypes (the differential's vocabulary)."""
    if not ids:
        return None
    return min(ids, key=lambda i: (_KIND_ORDER.get(_kind_of(i), 9), i))


def _kind_of(node_id: str) -> str:
    prefix = node_id.split(":")[0]
    return {"HP": "phenotype", "COMPLAINT": "complaint", "DX": "diagnosis", "DRUG": "drug", "ICD10CM": "icd10cm",
            "OMIM": "disease", "ORPHA": "disease", "DECIPHER": "disease"}.get(prefix, "other")


def open_graph(path: str | Path) -> KnowledgeGraph:
    """Open a built graph (see `KnowledgeGraph`)."""
    return KnowledgeGraph(path)
