"""Heading-aware chunking.

Guidelines are structured: a paragraph about "CURB-65" means little without its heading. The
chunker walks Markdown headings (`#` ... `######`, outside code fences), splits each section into
windows of at most `size` words with `overlap` words repeated, and starts every chunk's text with
its heading path ("Title > Section > Subsection"), so both the embedding and BM25 see it. Windows
end at paragraph or sentence boundaries when one is near. Sizes are in words (about 1.3 word-piece
tokens each): 160 words keeps a chunk and its heading inside MiniLM's 256-token window.

Chunk ids are `"{doc_id}#{n}"`, n counting from 0 in document order: stable while the document's
text does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from retrieval.documents import Chunk, Document

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class ChunkerConfig:
    """Chunk size and overlap, in words."""

    size: int = 160
    overlap: int = 30

    def __post_init__(self) -> None:
        if self.size < 8 or not 0 <= self.overlap < self.size // 2:
            raise ValueError(f"chunk size must be >= 8 words and overlap in [0, size/2): got {self.size}, {self.overlap}")


def chunker_config(size: int, overlap: int) -> ChunkerConfig:
    """A `ChunkerConfig` from settings; bad values become a `ConfigError` sentence."""
    from assistant.errors import ConfigError

    try:
        return ChunkerConfig(size, overlap)
    except ValueError as exc:
        raise ConfigError(f"Bad chunker settings: {exc}.") from exc


def sections(text: str) -> Iterator[tuple[list[str], str]]:
    """(heading path, body) for each Markdown section, in order; text before any heading has path []."""
    path: list[tuple[int, str]] = []
    body: list[str] = []
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if match is None:
            body.append(line)
            continue
        yield [h for _, h in path], "\n".join(body).strip()
        level = len(match.group(1))
        path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, _plain(match.group(2)))]
        body = []
    yield [h for _, h in path], "\n".join(body).strip()


def _plain(heading: str) -> str:
    return re.sub(r"[*_`]", "", heading).strip()


def windows(body: str, size: int, overlap: int) -> Iterator[str]:
    """Split `body` into windows of at most `size` words, overlapping by `overlap` words.

    A window is cut after the last line or sentence end in its second half, when there is one.
    """
    words = re.findall(r"\S+\s*", body)  # each word keeps its trailing whitespace (newlines matter)
    start = 0
    while start < len(words):
        end = min(start + size, len(words))
        if end < len(words):
            end = _boundary(words, start, end)
        yield "".join(words[start:end]).strip()
        if end >= len(words):
            return
        start = max(end - overlap, start + 1)


def _boundary(words: list[str], start: int, end: int) -> int:
    half = start + (end - start) // 2
    for is_end in (lambda w: "\n" in w, lambda w: w.rstrip().endswith((".", "!", "?", ":", ";"))):
        for i in range(end - 1, half, -1):
            if is_end(words[i]):
                return i + 1
    return end


def chunk_document(doc: Document, config: ChunkerConfig = ChunkerConfig()) -> list[Chunk]:
    """The chunks of one document, with stable ids and heading paths.

    A short section is merged with the subsections that follow it while they fit in one chunk,
    so a one-line introduction ("The CURB-65 score is the recommended tool ...") travels with
    the criteria below it; the chunk keeps the parent's heading path.
    """
    chunks: list[Chunk] = []
    for path, body in merge_small_sections(list(sections(doc.text)), config.size):
        heading = " > ".join(path)
        section = " > ".join(path[1:]) if len(path) > 1 else heading
        for piece in windows(body, config.size, config.overlap):
            text = f"{heading}\n{piece}" if heading else piece
            chunks.append(Chunk(
                id=f"{doc.id}#{len(chunks)}", doc_id=doc.id, title=doc.title, text=text, source=doc.source,
                url=doc.url, year=doc.year, licence=doc.licence, section=section,
            ))
    return chunks


def merge_small_sections(parts: list[tuple[list[str], str]], size: int) -> list[tuple[list[str], str]]:
    """Join each section with the following subsections of it while the total stays within `size` words."""
    merged: list[tuple[list[str], str]] = []
    for path, body in parts:
        if not body:
            continue
        if merged:
            top_path, top_body = merged[-1]
            inside = len(path) > len(top_path) and path[: len(top_path)] == top_path
            if inside and len(top_body.split()) + len(body.split()) + len(path) <= size:
                sub = " > ".join(path[len(top_path):])
                merged[-1] = (top_path, f"{top_body}\n\n{sub}:\n{body}")
                continue
        merged.append((path, body))
    return merged


def chunk_documents(docs: Iterable[Document], config: ChunkerConfig = ChunkerConfig()) -> Iterator[Chunk]:
    """Chunks of every document, in order."""
    for doc in docs:
        yield from chunk_document(doc, config)
