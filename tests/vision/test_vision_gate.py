"""The "is this a chest X-ray?" gate on real X-rays, pydicom's CT/MR/US files and ordinary images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vision.gate import check_chest_xray
from vision.io import LoadedImage, load_image


@pytest.mark.slow
def test_all_16_packaged_xrays_pass(packaged_images) -> None:
    refused = {p.name: check_chest_xray(load_image(p)).reason for p, _ in packaged_images}
    assert {k: v for k, v in refused.items() if v} == {}


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["UNCR", "J2KI"])
def test_real_adult_dicom_radiograph_passes(rg1_dicoms, encoding: str) -> None:
    verdict = check_chest_xray(load_image(rg1_dicoms[encoding]))
    assert verdict.is_chest_xray, verdict.reason


@pytest.mark.parametrize(
    "name, word",
    [
        ("CT_small.dcm", "CT"),
        ("MR_small.dcm", "MR"),
        ("emri_small.dcm", "MR"),
        ("US1_J2KR.dcm", "ultrasound"),
        ("JPEG2000.dcm", "nuclear"),
    ],
)
def test_pydicom_ct_mr_us_files_are_refused(name: str, word: str) -> None:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} is not in this pydicom build")
    verdict = check_chest_xray(load_image(path))
    assert not verdict.is_chest_xray and word in verdict.reason


SKIMAGE_IMAGES = [
    "camera",
    "astronaut",
    "coins",
    "text",
    "moon",
    "page",
    "horse",
    "checkerboard",
    "chelsea",
    "coffee",
    "brick",
    "grass",
    "gravel",
    "clock",
    "rocket",
    "immunohistochemistry",
]


@pytest.mark.parametrize("name", SKIMAGE_IMAGES)
def test_ordinary_photos_and_documents_are_refused(tmp_path: Path, name: str) -> None:
    data = pytest.importorskip("skimage.data")
    arr = getattr(data, name)()
    arr = (arr * 255).astype(np.uint8) if arr.dtype == bool else arr
    Image.fromarray(arr).save(tmp_path / f"{name}.png")
    verdict = check_chest_xray(load_image(tmp_path / f"{name}.png"))
    assert not verdict.is_chest_xray, verdict.measures


def test_rendered_document_is_refused(tmp_path: Path) -> None:
    page = Image.new("L", (600, 800), 255)
    draw = ImageDraw.Draw(page)
    for row in range(40):
        draw.text((40, 20 + row * 19), "Discharge summary: patient stable, follow up in two weeks. " * 2, fill=0)
    page.save(tmp_path / "doc.png")
    assert not check_chest_xray(load_image(tmp_path / "doc.png")).is_chest_xray


def test_colour_photo_is_refused_with_a_sentence() -> None:
    verdict = check_chest_xray(
        LoadedImage(np.random.default_rng(0).random((64, 64)).astype(np.float32), "jpeg", color=True)
    )
    assert not verdict.is_chest_xray and verdict.reason.endswith(".") and "colour" in verdict.reason


def test_synthetic_chest_passes_and_uniform_noise_fails() -> None:
    from vision.synthetic import synthetic_image

    rng = np.random.default_rng(0)
    chest = LoadedImage(synthetic_image(rng, 256, False) / np.float32(255.0), "png")
    noise = LoadedImage(rng.random((256, 256)).astype(np.float32), "png")
    assert check_chest_xray(chest).is_chest_xray
    assert not check_chest_xray(noise).is_chest_xray
