"""`medassist kg`: build and query the medical knowledge graph; `medassist kg score`: risk scores.

    medassist kg build                      # from the installed packages, into CACHE_DIR/kg/
    medassist kg lookup J18.9               # definition, synonyms, parents, related
    medassist kg link "fever, arachnodactyly and ectopia lentis"
    medassist kg differential HP:0001166 HP:0001083 --json
    medassist kg score curb65 confusion=yes urea_mmol_l=8 respiratory_rate=32 systolic_bp=85 diastolic_bp=50 age=65
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError, InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("kg", help="build and query the medical knowledge graph; compute risk scores",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kg_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="build the graph from the packaged sources (HPO, ICD-10-CM, differentials, drugs)")
    b.add_argument("--out", type=Path, help="SQLite file to write (default: MEDASSIST_KG_PATH or CACHE_DIR/kg/...)")
    b.set_defaults(func=run_build)
    for name, helptext in (("lookup", "a term or code to its definition, synonyms, parents and related nodes"),
                           ("link", "graph nodes named in a text"),
                           ("differential", "diseases ranked by phenotype similarity to HPO terms or a text")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("items", nargs="+", help="terms, codes or text")
        q.add_argument("--kg", type=Path, help="graph file (default: MEDASSIST_KG_PATH or CACHE_DIR/kg/...)")
        q.add_argument("--limit", type=int, default=10)
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(func=run_query)
    s = sub.add_parser("score", help="compute a risk score from NAME=VALUE inputs (yes/no for findings)")
    s.add_argument("score", help="curb65, cha2ds2vasc, hasbled, wells_pe, qsofa, centor or pce")
    s.add_argument("inputs", nargs="*", help="NAME=VALUE, e.g. age=65 confusion=yes")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_score)


def _path(args: argparse.Namespace, attr: str) -> Path:
    from assistant.clinical.kg_tools import kg_path
    from assistant.config import Settings

    return getattr(args, attr, None) or kg_path(Settings())


def run_build(args: argparse.Namespace) -> int:
    from knowledge import build_graph

    out = _path(args, "out")
    print(f"Building the knowledge graph into {out} ...", file=sys.stderr)
    try:
        stats = build_graph(out)
    except FileNotFoundError as exc:
        raise ConfigError(f"A knowledge source is missing ({exc}): install requirements-assets.txt.") from exc
    print(json.dumps(stats))
    return 0


def _open(args: argparse.Namespace) -> Any:
    from knowledge import open_graph

    path = _path(args, "kg")
    try:
        return open_graph(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"No knowledge graph at {path}: run `medassist kg build` first.") from exc
    except ValueError as exc:
        raise ConfigError(f"The knowledge graph at {path} is outdated ({exc}).") from exc


def run_query(args: argparse.Namespace) -> int:
    kg = _open(args)
    if args.kg_command == "lookup":
        out: Any = [kg.lookup(t, limit=args.limit) for t in args.items]
        missing = [t for t, o in zip(args.items, out) if o is None]
        if missing:
            raise InputError(f"Unknown term or code {', '.join(map(repr, missing))}: try `medassist kg link TEXT`.")
    elif args.kg_command == "link":
        out = [asdict(e) for e in kg.link(" ".join(args.items))]
    else:
        out = _differential(kg, args.items, args.limit)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        _print(args.kg_command, out)
    return 0


def _differential(kg: Any, items: list[str], limit: int) -> list[dict[str, Any]]:
    codes = [i for i in items if i.upper().startswith("HP:")]
    terms = codes if len(codes) == len(items) else [e.id for e in kg.link(" ".join(items), kinds=("phenotype",))]
    if not terms:
        raise InputError("No HPO phenotype found in the input: give HP:0000000 ids or words such as 'arachnodactyly'.")
    unknown = [t for t in terms if kg.node(t.upper()) is None]
    if unknown:
        raise InputError(f"Unknown HPO term(s) {', '.join(unknown)}: check the ids.")
    return [asdict(m) for m in kg.differential([t.upper() for t in terms], limit=limit)]


def _print(kind: str, out: list[dict[str, Any]]) -> None:
    for row in out:
        if kind == "lookup":
            from assistant.clinical.kg_tools import _node_text

            print(_node_text(row))
        elif kind == "link":
            print(f"{row['text']!r} -> {row['id']} {row['name']} ({row['kind']})")
        else:
            support = ", ".join(s["query_name"] + ("" if s["exact"] else f" ~ {s['disease_phenotype_name']}")
                                for s in row["supporting"])
            print(f"{row['score']:.3f}  {row['id']}  {row['name']}  [{support}]")


def run_score(args: argparse.Namespace) -> int:
    from assistant.clinical.scores import compute_score

    result = compute_score(args.score, dict(_parse_input(i) for i in args.inputs))
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False))
    else:
        print(result.summary())
        print(f"Source: {result.reference.text} {result.reference.url or ''}")
    return 0


def _parse_input(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep or not name:
        raise InputError(f"Score input {item!r} is not NAME=VALUE (e.g. age=65 or confusion=yes).")
    low = raw.strip().lower()
    if low in ("yes", "true", "y"):
        return name, True
    if low in ("no", "false", "n"):
        return name, False
    try:
        return name, float(low)
    except ValueError:
        return name, low
