"""`medassist index`: build, extend, describe and search the literature index.

    medassist index build [--corpus bundled|NAME|PATH ...] [--out DIR]
    medassist index add --corpus PATH ... [--index-dir DIR]
    medassist index info [--index-dir DIR] [--json]
    medassist index search "QUERY" [-k K] [--json]

Corpus names: bundled (open-medicine + differentials + icd10cm), bundled-full (adds HPO and
annotated ICD-10-CM codes), open-medicine, differentials,
icd10cm, icd10cm-notes, icd10cm-full, hpo. A PATH is a MedRAG .jsonl, a PubMed .xml(.gz), a
.pdf/.md/.txt file or a folder of them. Skipped lines and files are listed on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("index", help="build, extend, describe or search the literature index",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    build = sub.add_parser("build", help="build an index from corpora (replaces the folder atomically)")
    build.add_argument("--corpus", nargs="+", default=["bundled"], help="corpus names or paths (default: bundled)")
    build.add_argument("--out", help="index folder (default: MEDASSIST_INDEX_DIR or CACHE_DIR/index/bundled)")
    build.add_argument("--embedder", help="all-minilm-l6-v2 (default), all-mpnet-base-v2, a folder or a hub id")
    build.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivf"), help="FAISS structure (default: auto)")
    build.add_argument("--chunk-size", type=int, help="words per chunk (default 160)")
    build.add_argument("--chunk-overlap", type=int, help="words repeated between chunks (default 30)")
    build.add_argument("--json", action="store_true", help="print the build report as JSON")
    build.set_defaults(func=run_build)

    add = sub.add_parser("add", help="add new documents to an existing index (no rebuild)")
    add.add_argument("--corpus", nargs="+", required=True, help="corpus names or paths")
    add.add_argument("--index-dir", help="index folder (default: MEDASSIST_INDEX_DIR or the bundled one)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=run_add)

    info = sub.add_parser("info", help="print the index manifest")
    info.add_argument("--index-dir")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=run_info)

    search = sub.add_parser("search", help="search the index (hybrid dense + BM25)")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="number of hits (default 5)")
    search.add_argument("--index-dir")
    search.add_argument("--min-score", type=float, help="drop hits under this cosine (default: MEDASSIST_RETRIEVAL_MIN_SCORE)")
    search.add_argument("--dense-only", action="store_true", help="no BM25 fusion")
    search.add_argument("--json", action="store_true", help="print a JSON list of hits")
    search.set_defaults(func=run_search)


def _settings(**overrides: Any):
    from assistant.config import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _folder(args: argparse.Namespace, attr: str = "index_dir") -> Path:
    value = getattr(args, attr, None)
    return Path(value).expanduser() if value else _settings().resolved_index_dir()


def _print_report(report: Any, as_json: bool, verb: str) -> None:
    from dataclasses import asdict

    for problem in report.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    if as_json:
        print(json.dumps(asdict(report) | {"chunks_per_second": round(report.chunks_per_second, 1)}, indent=2))
        return
    print(f"{verb} {report.chunks} chunks from {report.documents} documents into {report.folder} "
          f"({report.index_type}) in {report.seconds:.1f} s ({report.chunks_per_second:.1f} chunks/s embedding)"
          + (f"; {report.skipped_documents} documents already indexed" if report.skipped_documents else ""))


def run_build(args: argparse.Namespace) -> int:
    from retrieval.build import build_index
    from retrieval.chunking import chunker_config

    settings = _settings(embedder=args.embedder, index_type=args.index_type, chunk_size=args.chunk_size,
                         chunk_overlap=args.chunk_overlap)
    chunker = chunker_config(settings.chunk_size, settings.chunk_overlap)
    out = Path(args.out).expanduser() if args.out else settings.resolved_index_dir()
    report = build_index(args.corpus, out, settings.embedder, chunker, settings.index_type,
                         progress=sys.stderr.isatty(), device=settings.device)
    _print_report(report, args.json, "indexed")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from retrieval.build import add_to_index

    report = add_to_index(args.corpus, _folder(args), progress=sys.stderr.isatty(), device=_settings().device)
    _print_report(report, args.json, "added")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from retrieval.index import read_manifest

    folder = _folder(args)
    manifest = read_manifest(folder)
    if args.json:
        print(json.dumps(manifest | {"path": str(folder)}, indent=2))
        return 0
    print(f"index: {folder}")
    for key in ("embedder", "dimension", "metric", "index_type", "index_params", "count", "documents", "corpus",
                "chunker", "corpus_sha256", "built_at", "updated_at", "build_seconds", "faiss_version"):
        if key in manifest:
            print(f"  {key}: {manifest[key]}")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from retrieval.search import SearchConfig, open_retriever

    settings = _settings()
    config = SearchConfig(hybrid=settings.retrieval_hybrid and not args.dense_only,
                          min_score=settings.retrieval_min_score if args.min_score is None else args.min_score)
    retriever = open_retriever(_folder(args), settings.embedder, config, settings.device)
    hits = retriever.search(args.query, k=args.k)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print(f"no hit with a score of at least {config.min_score}")
    for hit in hits:
        print(f"{hit.rank:>3}. {hit.score:.3f}  {hit.title} — {hit.section}  [{hit.id}]")
        print("      " + hit.text.replace("\n", " ")[:200])
    return 0
