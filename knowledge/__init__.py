"""Medical knowledge graph: HPO phenotypes and disease annotations, ICD-10-CM, complaint-based
differentials and drug names in one SQLite file, with a small query API. Knows nothing of chat.

    from knowledge import build_graph, open_graph
    build_graph("kg.sqlite3")
    kg = open_graph("kg.sqlite3")
    kg.lookup("J18.9"); kg.link("fever and arachnodactyly"); kg.differential(["HP:0001166"])
"""

from __future__ import annotations

from knowledge.build import Sources, build_graph, normalize
from knowledge.graph import DiseaseMatch, Entity, KnowledgeGraph, open_graph

__all__ = ["DiseaseMatch", "Entity", "KnowledgeGraph", "Sources", "build_graph", "normalize", "open_graph"]
