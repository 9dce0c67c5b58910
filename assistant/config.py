"""Settings, read from `MEDASSIST_*` environment variables and overridden by CLI flags.

One pydantic-settings class at the edge; components take plain arguments. `public()` is what
start-up prints: secrets are masked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.llm.catalog import DEFAULT_MODEL


def _cache() -> Path:
    return Path.home() / ".cache" / "medassist"


class Settings(BaseSettings):
    """All MedAssist settings. Each field is also `MEDASSIST_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="MEDASSIST_", extra="ignore")

    llm: str = Field(DEFAULT_MODEL, description="model preset, hub id, directory, fake, echo or openai:MODEL@URL")
    context_length: int | None = Field(None, description="prompt + answer token budget (default: the model's)")
    max_new_tokens: int = 384
    temperature: float = 0.0
    seed: int = 0
    cache_dir: Path = Field(default_factory=_cache)
    index_dir: Path | None = Field(None, description="retrieval index folder (default: CACHE_DIR/index/bundled)")
    embedder: str = "all-minilm-l6-v2"
    retrieval_k: int = 5
    retrieval_min_score: float = 0.3
    tools: str = Field("all", description="tools to enable: all, none, or names such as retrieval,xray")
    tool_calling: str = Field("router", description="router: rules pick the clinical tools; native: the model picks them "
                              "with its tool-calling template (routers are used when the backend has none)")
    classifier: str = "pneumonia-xception"
    guardrails: str = Field("default", description="safety layer: default or none")
    audit_db: Path | None = Field(None, description="SQLite audit log (default: CACHE_DIR/audit.sqlite3)")
    audit_retention_days: int = 30
    host: str = "127.0.0.1"
    port: int = 7860
    api_keys: SecretStr | None = Field(None, description="comma-separated bearer keys for the HTTP API")
    openai_api_key: SecretStr | None = None
    device: str | None = Field(None, description="cuda or cpu (default: cuda when available)")
    index_type: str = Field("auto", description="retrieval index structure: auto, flat, hnsw or ivf")
    chunk_size: int = Field(160, description="retrieval chunk size in words")
    chunk_overlap: int = Field(30, description="retrieval chunk overlap in words")
    retrieval_hybrid: bool = Field(True, description="fuse BM25 with dense search (False: dense only)")
    index_autobuild: bool = Field(True, description="build the bundled index on first start when the default one is missing")
    reranker: str | None = Field(None, description="optional cross-encoder (hub id or folder) re-ordering retrieved snippets")
    safety_classifier: bool = Field(True, description="use the learned input classifier on top of the safety rules")
    safety_rule_gate: float = Field(0.02, ge=0, le=1, description="a red-flag rule escalates only when the classifier "
                                    "gives P(emergency) at least this (0: rules always escalate)")
    phi_ner: bool = Field(True, description="PHI redaction also uses spaCy's named-entity model when it is installed")
    safety_canaries: SecretStr | None = Field(None, description="comma-separated secrets no answer may contain")
    # Gradio app and HTTP API (assistant/ui.py, assistant/api.py)
    api_rate_limit: int = Field(30, description="requests per minute per API key (or per client without keys); 0: no limit")
    max_upload_mb: float = Field(20.0, description="largest accepted image upload, in MB")
    max_waiting: int = Field(8, description="turns that may wait for the model before the servers answer busy")
    ui_retention_minutes: float = Field(30.0, description="minutes an idle chat and its uploads are kept")
    kg_path: Path | None = Field(None, description="knowledge-graph SQLite file (default: CACHE_DIR/kg/medassist-kg.sqlite3)")

    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.cache_dir / "index" / "bundled"

    def resolved_audit_db(self) -> Path:
        return self.audit_db or self.cache_dir / "audit.sqlite3"

    def public(self) -> dict[str, Any]:
        """Settings as printable values, secrets masked."""
        out: dict[str, Any] = {}
        for key, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else None
            out[key] = str(value) if isinstance(value, Path) else value
        return out
