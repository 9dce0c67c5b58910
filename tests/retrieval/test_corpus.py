"""Corpus loaders: user formats on small files written here, bundled packages, bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from assistant.errors import InputError
from retrieval.corpus import load_corpus, load_file

PUBMED = """<?xml version="1.0"?>
<PubmedArticleSet>
 <PubmedArticle>
  <MedlineCitation>
   <PMID Version="1">12345</PMID>
   <Article>
    <Journal><JournalIssue><PubDate><Year>2019</Year></PubDate></JournalIssue><Title>Thorax</Title></Journal>
    <ArticleTitle>CURB-65 in <i>community</i> pneumonia</ArticleTitle>
    <Abstract>
     <AbstractText Label="BACKGROUND">Severity scores guide site of care.</AbstractText>
     <AbstractText Label="RESULTS">CURB-65 predicted 30-day mortality.</AbstractText>
    </Abstract>
    <ELocationID EIdType="doi">10.1000/thx.1</ELocationID>
   </Article>
  </MedlineCitation>
  <PubmedData><ArticleIdList><ArticleId IdType="pubmed">12345</ArticleId></ArticleIdList></PubmedData>
 </PubmedArticle>
 <PubmedArticle>
  <MedlineCitation><PMID>999</PMID><Article><ArticleTitle>No abstract</ArticleTitle></Article></MedlineCitation>
 </PubmedArticle>
</PubmedArticleSet>
"""


def test_medrag_jsonl_reports_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "pubmed_chunk.jsonl"
    rows = [
        json.dumps({"id": "pmid1_0", "title": "Asthma", "content": "Inhaled steroids control asthma."}),
        "{not json",
        json.dumps({"id": "stat_1", "title": "Gout", "contents": "Gout. Colchicine treats flares."}),
        json.dumps({"id": "x", "title": "empty"}),
        json.dumps(["a", "list"]),
    ]
    path.write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    problems: list[str] = []
    docs = list(load_corpus(str(path), problems))
    assert [d.id for d in docs] == ["medrag/pmid1_0", "medrag/stat_1"]
    assert docs[1].text == "Colchicine treats flares."  # MedRAG `contents` = "title. content"
    assert [p.split(":")[1] for p in problems] == ["2", "4", "5"]


def test_medrag_jsonl_gz(tmp_path: Path) -> None:
    path = tmp_path / "textbooks.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "t1", "title": "Anatomy", "content": "The heart has four chambers."}) + "\n")
    assert [d.text for d in load_corpus(str(path))] == ["The heart has four chambers."]


def test_pubmed_xml(tmp_path: Path) -> None:
    path = tmp_path / "pubmed24n0001.xml"
    path.write_text(PUBMED, encoding="utf-8")
    docs = list(load_corpus(str(path)))
    assert len(docs) == 1  # the article without an abstract is skipped
    doc = docs[0]
    assert (doc.id, doc.title, doc.source, doc.year) == ("pubmed/12345", "CURB-65 in community pneumonia", "Thorax", 2019)
    assert doc.url == "https://doi.org/10.1000/thx.1"
    assert "## Background\nSeverity scores" in doc.text and "## Results" in doc.text


def test_truncated_pubmed_xml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text(PUBMED[: PUBMED.index("</PubmedArticle>") + 20], encoding="utf-8")
    problems: list[str] = []
    docs = list(load_corpus(str(path), problems))
    assert [d.id for d in docs] == ["pubmed/12345"] and "not readable PubMed XML" in problems[0]


def _pdf(path: Path, text: str | None) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    if text is not None:
        font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                                 NameObject("/BaseFont"): NameObject("/Helvetica")})
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as fh:
        writer.write(fh)


def test_folder_of_markdown_text_and_pdf(tmp_path: Path, text_corpus: Path) -> None:
    _pdf(text_corpus / "sepsis.pdf", "Sepsis needs antibiotics within one hour.")
    _pdf(text_corpus / "scan.pdf", None)
    (text_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (text_corpus / "image.png").write_bytes(b"\x89PNG")
    problems: list[str] = []
    docs = {d.id: d for d in load_corpus(str(text_corpus), problems)}
    assert set(docs) == {"file/asthma.md", "file/gout.txt", "file/pneumonia.md", "file/sepsis.pdf"}
    assert docs["file/pneumonia.md"].title == "Severity assessment of pneumonia — Test Society 2020"
    assert "Sepsis needs antibiotics" in docs["file/sepsis.pdf"].text
    assert docs["file/sepsis.pdf"].text.startswith("## Page 1")
    joined = "\n".join(problems)
    assert "scan.pdf has no text layer" in joined and "Cannot read the PDF" in joined and "image.png" in joined


def test_unknown_path_and_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="neither a path"):
        list(load_corpus(str(tmp_path / "missing")))
    odd = tmp_path / "notes.docx"
    odd.write_bytes(b"x")
    with pytest.raises(InputError, match="use .jsonl"):
        list(load_file(odd, []))


@pytest.mark.parametrize("name, doc_id, source, url_part, year", [
    ("open-medicine", "open-medicine/bts_cap_2009/severity_assessment", "BTS", "doi.org/10.1136/thx.2009.121434", 2009),
    ("differentials", "differentials/chest_pain", "2021 AHA/ACC", "doi.org/10.1016/j.jacc.2021.07.053", 2021),
    ("icd10cm", "icd10cm/J18", "CDC/NCHS", "cdc.gov", 2026),
    ("hpo", "hpo/HP:0000003", "Human Phenotype Ontology", "hpo.jax.org/browse/term/HP:0000003", 2025),
])
def test_bundled_parts_keep_source_licence_and_attribution(name, doc_id, source, url_part, year) -> None:
    docs = {d.id: d for d in load_corpus(name)}
    doc = docs[doc_id]
    assert doc.source.startswith(source) and url_part in (doc.url or "") and doc.year == year
    assert doc.licence and doc.attribution and doc.text.strip()


def test_bundled_counts() -> None:
    counts = {name: sum(1 for _ in load_corpus(name)) for name in ("open-medicine", "differentials", "icd10cm")}
    assert counts == {"open-medicine": 145, "differentials": 14, "icd10cm": 2237}
    icd = {d.id: d for d in load_corpus("icd10cm")}
    assert "Excludes1: congenital pneumonia (P23.0)" in icd["icd10cm/J18"].text
