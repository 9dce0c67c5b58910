"""Assistant tools over the knowledge graph: `differential`, `lookup` and `entities`.

- `differential` (doctor mode, when a message asks for a differential or causes and names
  findings): the open-medicine complaint differential (must-not-miss diagnoses, red flags, tests)
  for the complaints named, and a Phenomizer-style ranking of HPO-annotated (mostly rare,
  Mendelian) diseases with the phenotypes that support each. Neither is a diagnosis.
- `lookup` (a message with an explicit code such as HP:0002090, ICD-10-CM J18.9, OMIM:154700, or
  "define X" / "ICD code for X"): definition, synonyms, parents, children and related nodes.
- `entities` (every turn with text): links the message to graph nodes; its data lets adapters
  connect the message, the citations and the tool results. It adds nothing to the prompt.
The builders return None when the graph has not been built (`medassist kg build`), so the
Assistant still works without it.
"""

from __future__ import annotations

import logging
from pathlib import Path
import re
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from assistant.config import Settings
from assistant.errors import InputError
from assistant.tools import Tool, ToolOutput
from assistant.types import Citation, ToolCallRecord, Turn

if TYPE_CHECKING:
    from knowledge import KnowledgeGraph

log = logging.getLogger(__name__)

HPO_CITATION = ("Koehler S, Gargano M, Matentzoglu N, et al. The Human Phenotype Ontology in 2021. "
                "Nucleic Acids Res 2021;49(D1):D1207-D1217.", "https://doi.org/10.1093/nar/gkaa1043", 2021)
PHENOMIZER_CITATION = ("Koehler S, Schulz MH, Krawitz P, et al. Clinical diagnostics in human genetics with semantic "
                       "similarity searches in ontologies. Am J Hum Genet 2009;85(4):457-464.",
                       "https://doi.org/10.1016/j.ajhg.2009.09.003", 2009)
ASKS_DIFFERENTIAL = re.compile(r"\b(?:differential|ddx|d/dx|what could (?:this|it|these) be|possible (?:causes|diagnos\w+)|"
                               r"causes? (?:of|for)|which (?:disease|syndrome|condition)s?|what (?:disease|syndrome|condition))",
                               re.IGNORECASE)
ASKS_LOOKUP = re.compile(r"\b(?:define|definition of|look ?up|synonyms? (?:of|for)|icd(?:-?10(?:-?cm)?)?(?: code)? (?:for|of))"
                         r"\s+(?:the |a |an )?((?:[^?.!;:]|[.:](?=\d))+)", re.IGNORECASE)


def kg_path(settings: Settings) -> Path:
    """Where `medassist kg build` writes the graph for these settings."""
    return settings.kg_path or settings.cache_dir / "kg" / "medassist-kg.sqlite3"


def _open(settings: Settings) -> KnowledgeGraph | None:
    from knowledge import open_graph

    path = kg_path(settings)
    if not path.is_file():
        log.info("knowledge graph not built (%s): run `medassist kg build` for the differential and lookup tools", path)
        return None
    try:
        return open_graph(path)
    except ValueError as exc:
        log.warning("knowledge graph unusable: %s", exc)
        return None


class DifferentialTool(Tool):
    """Complaint-based differential plus a phenotype-overlap ranking of HPO-annotated diseases."""

    name = "differential"
    description = ("Rank candidate diseases for a set of findings (HPO phenotypes) by information-content-weighted "
                   "phenotype overlap, and list complaint-based differentials with red flags and tests.")
    inputs = {"phenotypes": {"type": "array", "description": "HPO term ids, e.g. HP:0001166"},
              "complaints": {"type": "array", "description": "complaint ids, e.g. COMPLAINT:fever"}}
    stage = "knowledge"
    model_callable = True

    def __init__(self, kg: KnowledgeGraph, limit: int = 5) -> None:
        self.kg, self.limit = kg, limit

    def from_model(self, turn: Turn, arguments: dict[str, Any]) -> dict[str, Any]:
        """The model's findings (ids or names) resolved through the graph and kept only if the message names them.

        Small models invent plausible HPO ids; a finding must be in the message (or the history) to count.
        """
        text = "\n".join([*(m["content"] for m in turn.history if m["role"] == "user"), turn.text])
        stated = {e.id for kind in ("phenotype", "complaint") for e in self.kg.link(text, kinds=(kind,))}
        phenotypes = [i for i in self._resolve(arguments.get("phenotypes"), "phenotype") if i in stated]
        complaints = [i for i in self._resolve(arguments.get("complaints"), "complaint") if i in stated]
        if not phenotypes and not complaints:
            raise InputError("The model's differential call named no finding that the message states.")
        return {"phenotypes": phenotypes, "complaints": complaints}

    def _resolve(self, items: Any, kind: str) -> list[str]:
        ids: list[str] = []
        for text in map(str, items if isinstance(items, list) else [items] if items else []):
            node = self.kg.node(text)
            ids += [node["id"]] if node and node["kind"] == kind else [e.id for e in self.kg.link(text, kinds=(kind,))]
        return list(dict.fromkeys(ids))

    def select(self, turn: Turn) -> dict[str, Any] | None:
        if turn.role != "doctor" or not ASKS_DIFFERENTIAL.search(turn.text):
            return None
        # Linked separately: "fever" is both an HPO term and an open-medicine complaint.
        phenotypes = list(dict.fromkeys(e.id for e in self.kg.link(turn.text, kinds=("phenotype",))))
        complaints = list(dict.fromkeys(e.id for e in self.kg.link(turn.text, kinds=("complaint",))))
        return {"phenotypes": phenotypes, "complaints": complaints} if phenotypes or complaints else None

    def forward(self, phenotypes: list[str], complaints: list[str]) -> ToolOutput:
        unknown = [p for p in phenotypes if not str(p).startswith("HP:") or self.kg.node(p) is None]
        if unknown:
            raise InputError(f"Unknown HPO term(s) {', '.join(map(str, unknown))}: use ids such as HP:0001945 (fever).")
        ranked = self.kg.differential(phenotypes, limit=self.limit) if phenotypes else []
        lists = [c for c in (self._complaint(cid) for cid in complaints) if c]
        lines = [_complaint_text(c) for c in lists]
        if ranked:
            lines.append("HPO phenotype match (rare, mostly Mendelian diseases; similarity, not a diagnosis): " + "; ".join(
                f"{m.name} ({m.id}, score {m.score:.2f}; " + ", ".join(
                    f"{s['query_name']}" + ("" if s["exact"] else f" ~ {s['disease_phenotype_name']}")
                    for s in m.supporting) + ")" for m in ranked))
        citations = [_complaint_citation(c, text) for c, text in zip(lists, lines)]
        citations += [Citation(id="kb:hpo", title="Human Phenotype Ontology annotations, Phenomizer-style ranking",
                              source=f"{HPO_CITATION[0]} Method: {PHENOMIZER_CITATION[0]}", score=1.0,
                              text=lines[-1], url=HPO_CITATION[1], year=HPO_CITATION[2])] if ranked else []
        data = {"phenotypes": [{"id": p, "name": self.kg.node(p)["name"]} for p in phenotypes],  # type: ignore[index]
                "complaint_differentials": lists, "ranked": [asdict(m) for m in ranked]}
        return ToolOutput(data=data, context="\n".join(lines), citations=citations)

    def _complaint(self, cid: str) -> dict[str, Any] | None:
        found = [c for c in self.kg.complaints(cid) if c["id"] == cid]
        if not found:
            node = self.kg.lookup(cid)
            if node is None or node["kind"] != "complaint":
                raise InputError(f"Unknown complaint {cid!r}: use ids such as COMPLAINT:fever.")
            diagnoses = node["related"].get("diagnoses", [])
            return {"id": cid, "name": node["name"], "source": node["source"], "diagnoses": diagnoses}
        return found[0]


def _complaint_citation(c: dict[str, Any], text: str) -> Citation:
    """A complaint differential cited like literature: its evidence source and DOI link."""
    doi = re.search(r"doi:(\S+)$", c.get("source") or "")
    return Citation(id=f"kb:{c['id']}", title=c["name"], source=c.get("source") or "open-medicine", score=1.0,
                    text=text, url=f"https://doi.org/{doi.group(1)}" if doi else None)


def _complaint_text(c: dict[str, Any]) -> str:
    must = [d for d in c["diagnoses"] if d.get("likelihood") == "must_not_miss"]
    common = [d for d in c["diagnoses"] if d.get("likelihood") == "common"]
    flags = [f"{d['name']}: {', '.join(d.get('red_flags', [])[:3])}" for d in must]
    return (f"{c['name']}. Must not miss: {', '.join(d['name'] for d in must) or 'none listed'}. "
            f"Common: {', '.join(d['name'] for d in common) or 'none listed'}. "
            f"Red flags: {'; '.join(flags) or 'none listed'}.")


class LookupTool(Tool):
    """A term or code to its definition, synonyms, parents, children and related nodes."""

    name = "lookup"
    description = "Look up a medical term or code (HPO, ICD-10-CM, OMIM, Orphanet, drug) in the knowledge graph."
    inputs = {"terms": {"type": "array", "description": "terms or codes, e.g. J18.9, HP:0002090, pneumonia"}}
    stage = "knowledge"
    model_callable = True

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg

    def from_model(self, turn: Turn, arguments: dict[str, Any]) -> dict[str, Any]:
        """The model's terms, kept only when the message contains them (codes or words)."""
        terms = arguments.get("terms")
        terms = [terms] if isinstance(terms, str) else terms if isinstance(terms, list) else []
        kept = [str(t) for t in terms if str(t).strip() and str(t).strip().lower() in turn.text.lower()]
        if not kept:
            raise InputError("The model's lookup call named no term from the message.")
        return {"terms": list(dict.fromkeys(kept))}

    def select(self, turn: Turn) -> dict[str, Any] | None:
        terms = [e.text for e in self.kg.codes(turn.text)]
        m = ASKS_LOOKUP.search(turn.text)
        if m and not any(m.group(1).strip() in t for t in terms):
            terms.append(m.group(1).strip())
        if not terms:
            return None
        icd = bool(m and m.group(0).lower().startswith("icd"))
        return {"terms": list(dict.fromkeys(terms))} | ({"prefer": "icd10cm"} if icd else {})

    def forward(self, terms: list[str], prefer: str | None = None) -> ToolOutput:
        """Look up each term; with `prefer="icd10cm"`, a name gives its three best ICD-10-CM matches."""
        found, unknown = [], []
        for term in terms:
            hits = self.kg.search(str(term), kinds=(prefer,), limit=3) if prefer else []
            if hits:
                found += [self.kg.lookup(h["id"]) for h in hits]
                continue
            node = self.kg.lookup(str(term))
            if node is None:
                hits = self.kg.search(str(term), kinds=("icd10cm", "phenotype", "disease"), limit=3)
                node = self.kg.lookup(hits[0]["id"]) if hits else None
            (found if node else unknown).append(node or term)
        if not found:
            raise InputError(f"Unknown term or code {', '.join(map(repr, unknown))}: check the spelling or the code "
                             "(HPO HP:0000000, ICD-10-CM such as J18.9, OMIM:000000, ORPHA:000).")
        lines = [_node_text(n) for n in found]
        if unknown:
            lines.append("Not found: " + ", ".join(map(str, unknown)))
        return ToolOutput(data={"entries": found, "unknown": unknown}, context="\n".join(lines))


def _node_text(n: dict[str, Any]) -> str:
    parts = [f"{n['id']} {n['name']} ({n['kind']}, {n['source']})"]
    if n.get("definition"):
        parts.append(f"definition: {n['definition']}")
    if n.get("synonyms"):
        parts.append("synonyms: " + ", ".join(n["synonyms"][:8]))
    if n.get("parents"):
        parts.append("parents: " + ", ".join(f"{p['id']} {p['name']}" for p in n["parents"]))
    for key, items in (n.get("related") or {}).items():
        if isinstance(items, list) and items:
            names = [i["name"] if isinstance(i, dict) else str(i) for i in items[:6]]
            parts.append(f"{key.replace('_', ' ')}: " + ", ".join(names))
    return "; ".join(parts)


class EntityLinkTool(Tool):
    """Links the message to knowledge-graph nodes (data only; nothing is added to the prompt)."""

    name = "entities"
    description = "Link medical terms and codes in a text to knowledge-graph nodes."
    inputs = {"text": {"type": "string", "description": "text to link"}}
    stage = "knowledge"

    def __init__(self, kg: KnowledgeGraph) -> None:
        self.kg = kg

    def select(self, turn: Turn) -> dict[str, Any] | None:
        return {"text": turn.text} if turn.text.strip() and turn.role == "doctor" else None

    def forward(self, text: str) -> ToolOutput:
        return ToolOutput(data={"entities": [asdict(e) for e in self.kg.link(text)]})

    def annotate(self, turn: Turn, citations: list[Citation], records: list[ToolCallRecord]) -> None:
        """Link every snippet shown to the model, and connect the message's nodes to them.

        Each citation gets `entities`; the `entities` record (doctor mode) gets `connections`: for each
        node named in the message, the citation numbers and the other tools whose results name it.
        """
        for c in citations:
            c.entities = _nodes(self._link(f"{c.title}\n{c.text}"))
        mine = next((r for r in records if r.name == self.name and r.output is not None), None)
        if mine is None:
            return
        by_tool = {r.name: {e["id"] for e in self._link(_strings(r.output))}
                   for r in records if r.name != self.name and r.output}
        connections = {}
        for node in _nodes(mine.output["entities"]):
            cited = [c.number for c in citations if any(e["id"] == node["id"] for e in c.entities)]
            tools = [name for name, ids in by_tool.items() if node["id"] in ids]
            if cited or tools:
                connections[node["id"]] = {"name": node["name"], "citations": cited, "tools": tools}
        mine.output["connections"] = connections

    def _link(self, text: str) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.kg.link(text)]


def _nodes(entities: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Distinct nodes, in order of first mention."""
    seen: dict[str, dict[str, str]] = {}
    for e in entities:
        seen.setdefault(e["id"], {"id": e["id"], "name": e["name"], "kind": e["kind"]})
    return list(seen.values())


def _strings(value: Any) -> str:
    """Every string inside a tool's JSON output, one per line (what a reader of the result sees)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(_strings(v) for v in value)
    return ""


def build_differential_tool(settings: Settings) -> Tool | None:
    kg = _open(settings)
    return DifferentialTool(kg) if kg else None


def build_lookup_tool(settings: Settings) -> Tool | None:
    kg = _open(settings)
    return LookupTool(kg) if kg else None


def build_entity_tool(settings: Settings) -> Tool | None:
    kg = _open(settings)
    return EntityLinkTool(kg) if kg else None
