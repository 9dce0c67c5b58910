"""Safe image input: PNG, JPEG and DICOM files decoded into one grayscale float array.

Notable choices:
- The format is decided from the file's first bytes (magic numbers), never from its name.
- Limits come first: file size, then pixel count from the header (before decoding), with
  Pillow's decompression-bomb protection left on (a bomb raises, never warns).
- DICOM is read by pydicom without `force=True` (a file without the "DICM" preamble is refused);
  MONOCHROME1 is inverted, the VOI LUT / window is applied, and compressed transfer syntaxes are
  decoded by the pylibjpeg plugins or Pillow. Patient tags are never logged or put in errors:
  only technical tags (modality, photometric interpretation, view, body part) are kept.
- Every failure is an `InputError` with one sentence; the caller keeps serving.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import InputError

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 6000x6000 detector image fits; a 20000x20000 bomb does not
MIN_SIDE = 32
# Technical DICOM tags we may keep and show; everything else (names, ids, dates) stays in the file.
SAFE_DICOM_TAGS = (
    "Modality",
    "PhotometricInterpretation",
    "ViewPosition",
    "BodyPartExamined",
    "BitsStored",
    "Rows",
    "Columns",
    "SOPClassUID",
)

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
)


@dataclass
class LoadedImage:
    """A decoded image.

    Args:
        pixels: float32 array (H, W) in [0, 1], 0 = black; what the preprocessing takes.
        format: "png", "jpeg" or "dicom".
        color: True when the source had distinct colour channels (a photo, not a radiograph).
        meta: technical DICOM tags (never patient tags); empty for PNG/JPEG.
    """

    pixels: np.ndarray
    format: str
    color: bool = False
    meta: dict[str, Any] = field(default_factory=dict)


def sniff_format(head: bytes) -> str | None:
    """The image format from a file's first 132 bytes, or None if it is not one we read."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    return None


def load_image(path: str | Path) -> LoadedImage:
    """Read a PNG, JPEG or DICOM file safely.

    Args:
        path: the file; its name and extension are ignored.

    Returns:
        The decoded grayscale image in [0, 1].

    Raises:
        InputError: missing, empty, too large, unknown format, corrupt or truncated file.
    """
    data = _read_bytes(Path(path))
    kind = sniff_format(data[:132])
    if kind is None:
        raise InputError(f"{Path(path).name} is not a PNG, JPEG or DICOM image: attach a chest X-ray file.")
    image = _load_dicom(data) if kind == "dicom" else _load_pillow(data, kind)
    h, w = image.pixels.shape
    if min(h, w) < MIN_SIDE:
        raise InputError(f"The image is too small ({w}x{h} pixels): attach the full-resolution X-ray.")
    return image


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError(f"{path.name} is not a file: attach an image file.")
        if size == 0:
            raise InputError(f"{path.name} is empty (0 bytes): attach the image again.")
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path.name} is too large ({size // 2**20} MiB; at most {MAX_FILE_BYTES // 2**20} MiB).")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"The image {path.name} does not exist: check the path.") from exc
    except OSError as exc:
        raise InputError(f"Cannot read the image {path.name}: {exc.strerror or exc}.") from exc


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InputError(f"The image is too large ({width}x{height} pixels; at most {MAX_PIXELS:,} pixels).")


def _load_pillow(data: bytes, kind: str) -> LoadedImage:
    from PIL import Image, UnidentifiedImageError

    try:  # Pillow's own bomb check stays on (its warning becomes an error); ours is stricter
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.upper()]) as img:
                _check_pixels(*img.size)
                img.load()
                return _from_pil(img, kind)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"The image is too large to decode safely (more than {MAX_PIXELS:,} pixels).") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"The {kind.upper()} file is corrupt or truncated and cannot be decoded.") from exc


def _from_pil(img: Any, kind: str) -> LoadedImage:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        return LoadedImage(_rescale(arr), kind)
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    color = _is_color(rgb)
    gray = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    return LoadedImage(gray, kind, color=color)


def _is_color(rgb: np.ndarray) -> bool:
    """True when channels differ noticeably (JPEG chroma noise on a gray image stays below)."""
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    return bool(np.mean(spread > 24) > 0.02)


def _rescale(arr: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if not np.isfinite([lo, hi]).all() or hi <= lo:
        raise InputError("The image has no contrast (every pixel has the same value): it is blank.")
    return ((arr - lo) / (hi - lo)).astype(np.float32)


def _load_dicom(data: bytes) -> LoadedImage:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data))  # no force=True: the DICM preamble is required
    except (InvalidDicomError, EOFError, ValueError, OSError, KeyError, TypeError) as exc:
        raise InputError("The DICOM file is corrupt and cannot be read.") from exc
    meta = {k: _plain(ds.get(k)) for k in SAFE_DICOM_TAGS if k in ds}
    if "PixelData" not in ds:
        raise InputError("The DICOM file holds no image (no pixel data): attach an image series file.")
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    _check_pixels(cols, rows)
    arr = _dicom_pixels(ds)
    color = arr.ndim == 3 and arr.shape[-1] in (3, 4)
    if color:
        arr = arr[..., :3].mean(axis=-1)
    elif arr.ndim == 3:  # multi-frame: take the middle frame
        arr = arr[arr.shape[0] // 2]
    if arr.ndim != 2:
        raise InputError("The DICOM file does not hold a 2-D image.")
    pixels = _rescale(arr.astype(np.float32))
    if str(meta.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        pixels = 1.0 - pixels  # MONOCHROME1: high values are dark
    log.debug("DICOM %s", meta)  # technical tags only: never patient tags
    return LoadedImage(pixels, "dicom", color=color, meta=meta)


def _dicom_pixels(ds: Any) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        arr = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for corrupt / unsupported pixel data
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", "unknown")
        raise InputError(
            f"The DICOM pixel data cannot be decoded (transfer syntax {name}): it is corrupt or needs "
            "a decoder plugin such as pylibjpeg-libjpeg."
        ) from exc
    if arr.ndim == 2 and str(ds.get("PhotometricInterpretation", "")).startswith("MONOCHROME"):
        try:
            arr = apply_modality_lut(arr, ds)
            arr = apply_voi_lut(arr, ds, index=0)
        except Exception:  # a malformed LUT: fall back to the raw values with min-max scaling
            log.debug("VOI LUT not applied (malformed LUT tags)")
    return np.asarray(arr, dtype=np.float32)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    return str(value)
