"""A langchain-core `BaseRetriever` over a MedAssist index, so the index plugs into langchain chains.

    from retrieval import open_retriever
    from retrieval.langchain import MedAssistRetriever
    lc = MedAssistRetriever(retriever=open_retriever("~/.cache/medassist/index/bundled"), k=5)
    docs = lc.invoke("How is the severity of community-acquired pneumonia assessed?")

Each `Document` carries the hit's fields (id, doc_id, title, section, source, url, year, score,
licence) in `metadata`. Only langchain-core is needed; it never loads a pickled docstore.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class MedAssistRetriever(BaseRetriever):
    """langchain retriever backed by `retrieval.Retriever` (hybrid search, cosine threshold)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.retriever.search(query, k=self.k)
        return [LCDocument(page_content=h.text, metadata={k: v for k, v in asdict(h).items() if k != "text"})
                for h in hits]
