"""Safe image input: formats by content, DICOM handling, limits, and a table of bad files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import InputError
from vision_testfiles import chest_png, dicom_bytes, jpeg_bytes, jpeg_with_size, png_bytes, png_header_only
from vision.io import MAX_FILE_BYTES, load_image, sniff_format

RNG = np.random.default_rng(0)
GRAY = (RNG.random((128, 128)) * 255).astype(np.uint8)
PNG, JPEG = png_bytes(GRAY), jpeg_bytes(GRAY)


def _sparse_huge(path: Path) -> None:
    with path.open("wb") as fh:
        fh.write(PNG[:64])
        fh.truncate(MAX_FILE_BYTES + 1)


# name -> (file content or a writer, a word the error sentence must contain)
BAD_FILES: dict[str, tuple[object, str]] = {
    "empty.png": (b"", "empty"),
    "notes.txt": (b"Patient complains of cough.\n", "not a PNG, JPEG or DICOM"),
    "random.bin": (bytes(RNG.integers(0, 256, 4096, dtype=np.uint8)), "not a PNG, JPEG or DICOM"),
    "truncated.png": (PNG[: len(PNG) // 2], "corrupt or truncated"),
    "truncated.jpg": (JPEG[: len(JPEG) // 3], "corrupt or truncated"),
    "magic_only.png": (PNG[:8], "corrupt or truncated"),
    "magic_only.jpg": (JPEG[:3], "corrupt or truncated"),
    "huge_20000.png": (png_header_only(20000, 20000), "too large"),
    "huge_20000.jpg": (jpeg_with_size(20000, 20000), "too large"),
    "bomb_8000.png": (png_header_only(8000, 8000), "too large"),
    "tiny.png": (png_bytes(np.zeros((8, 8), np.uint8)), "too small"),
    "blank.dcm": (dicom_bytes(np.full((64, 64), 7, np.uint16)), "no contrast"),
    "gif.gif": (b"GIF89a" + b"\x00" * 64, "not a PNG, JPEG or DICOM"),
    "bitmap.bmp": (b"BM" + b"\x00" * 128, "not a PNG, JPEG or DICOM"),
    "report.pdf": (b"%PDF-1.7\n" + b"x" * 200, "not a PNG, JPEG or DICOM"),
    "corrupt.dcm": (b"\x00" * 128 + b"DICM" + bytes(RNG.integers(0, 256, 300, dtype=np.uint8)), "DICOM"),
    "no_pixels.dcm": (dicom_bytes(None), "no image"),
    "short_pixels.dcm": (dicom_bytes(None, pixel_data=b"\x01\x02" * 10, rows=64, cols=64), "cannot be decoded"),
    "huge_rows.dcm": (dicom_bytes(None, pixel_data=b"\x00\x00", rows=20000, cols=20000), "too large"),
    "bad_syntax.dcm": (
        dicom_bytes(
            None, pixel_data=b"\xff\xd8" + b"\x00" * 200, rows=64, cols=64, transfer_syntax="1.2.840.10008.1.2.4.70"
        ),
        "cannot be decoded",
    ),
    "no_preamble.dcm": (dicom_bytes(np.ones((64, 64), np.uint16))[128:], "not a PNG, JPEG or DICOM"),
    "too_big_file.png": (_sparse_huge, "too large"),
    "a_folder.png": ("dir", "not a file"),
    "missing.png": (None, "does not exist"),
}


def _write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    if content is None:
        return path
    if content == "dir":
        path.mkdir()
    elif callable(content):
        content(path)
    else:
        path.write_bytes(content)  # type: ignore[arg-type]
    return path


def test_bad_file_table_has_at_least_20_cases() -> None:
    assert len(BAD_FILES) >= 20


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_gives_one_clear_sentence(tmp_path: Path, name: str) -> None:
    content, word = BAD_FILES[name]
    path = _write(tmp_path, name, content)
    with pytest.raises(InputError) as err:
        load_image(path)
    message = str(err.value)
    assert word.lower() in message.lower(), message
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message
    assert "Secret" not in message and "SECRET" not in message  # never echo patient tags


def test_format_comes_from_content_not_name(tmp_path: Path) -> None:
    png_named_dcm = tmp_path / "image.dcm"
    png_named_dcm.write_bytes(PNG)
    jpeg_named_png = tmp_path / "image.png"
    jpeg_named_png.write_bytes(JPEG)
    assert load_image(png_named_dcm).format == "png"
    assert load_image(jpeg_named_png).format == "jpeg"
    assert sniff_format(b"\x00" * 128 + b"DICM") == "dicom"
    assert sniff_format(b"GIF89a") is None


def test_png_pixels_are_scaled_to_unit_range(tmp_path: Path) -> None:
    image = load_image(chest_png(tmp_path / "x.png"))
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (256, 256)
    assert 0.0 <= image.pixels.min() < image.pixels.max() <= 1.0
    assert not image.color


def test_sixteen_bit_png_is_read(tmp_path: Path) -> None:
    from PIL import Image

    arr = (np.arange(128 * 128).reshape(128, 128) * 3).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "16.png")
    image = load_image(tmp_path / "16.png")
    assert image.pixels.min() == 0.0 and image.pixels.max() == 1.0


def test_colour_image_is_flagged(tmp_path: Path) -> None:
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[:, 32:, 2] = 255
    (tmp_path / "photo.png").write_bytes(png_bytes(rgb))
    assert load_image(tmp_path / "photo.png").color


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    ramp = (np.arange(64 * 64).reshape(64, 64) % 4096).astype(np.uint16)
    (tmp_path / "m1.dcm").write_bytes(dicom_bytes(ramp, photometric="MONOCHROME1"))
    (tmp_path / "m2.dcm").write_bytes(dicom_bytes(ramp, photometric="MONOCHROME2"))
    m1, m2 = load_image(tmp_path / "m1.dcm").pixels, load_image(tmp_path / "m2.dcm").pixels
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-6)
    assert m2[0, 0] == 0.0 and m1[0, 0] == 1.0


def test_voi_window_is_applied(tmp_path: Path) -> None:
    ramp = (np.arange(64 * 64).reshape(64, 64) % 4096).astype(np.uint16)
    (tmp_path / "w.dcm").write_bytes(dicom_bytes(ramp, window=(2048, 1024)))
    pixels = load_image(tmp_path / "w.dcm").pixels
    flat = ramp.ravel()
    # values below the window are black, above it white
    assert np.all(pixels.ravel()[flat < 1500] == 0.0) and np.all(pixels.ravel()[flat > 2600] == 1.0)


def test_dicom_patient_tags_are_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ramp = (np.arange(64 * 64).reshape(64, 64) % 4096).astype(np.uint16)
    (tmp_path / "p.dcm").write_bytes(dicom_bytes(ramp, patient_name="Doe^Secret"))
    with caplog.at_level(logging.DEBUG):
        image = load_image(tmp_path / "p.dcm")
    assert "Secret" not in caplog.text and "SECRET-ID" not in caplog.text
    assert "PatientName" not in image.meta and "PatientID" not in image.meta
    assert image.meta["Modality"] == "DX"


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["UNCR", "UNCI", "J2KR", "J2KI"])
def test_real_radiograph_dicom_decodes_in_every_encoding(rg1_dicoms: dict[str, Path], encoding: str) -> None:
    image = load_image(rg1_dicoms[encoding])
    assert image.format == "dicom" and image.meta["Modality"] == "CR"
    assert image.meta["PhotometricInterpretation"] == "MONOCHROME1"
    assert image.pixels.shape == (1955, 1841)
    # after MONOCHROME1 inversion the lungs (left/right of the midline) are darker than the border
    h, w = image.pixels.shape
    lungs = image.pixels[h // 3 : 2 * h // 3, w // 5 : 2 * w // 5].mean()
    assert lungs < image.pixels[:, w // 2 - 50 : w // 2 + 50].mean()


def test_file_is_not_modified(tmp_path: Path) -> None:
    path = chest_png(tmp_path / "x.png")
    before = path.read_bytes(), os.stat(path).st_mtime_ns
    load_image(path)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_cli_reports_every_bad_file_in_order_and_exits_2(
    tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from assistant.cli import main

    paths = [str(_write(tmp_path, name, content)) for name, (content, _) in sorted(BAD_FILES.items())]
    good = str(chest_png(tmp_path / "good.png"))
    code = main(["xray", "classify", *paths, good, "--json", "--no-heatmap", "--model", str(tiny_checkpoint)])
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert code == 2 and [r["path"] for r in rows] == [*paths, good]
    assert all(set(r) == {"path", "error"} for r in rows[:-1]) and rows[-1]["is_chest_xray"] is True
    assert "Traceback" not in captured.err
