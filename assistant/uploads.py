"""Upload checks shared by the Gradio app and the HTTP API: size, then content (never the name).

`validate_image_file` checks the size limit, then runs the vision layer's loader
(`vision.io.load_image`), so the app accepts exactly what the X-ray tool can read and a
truncated or disguised file is refused with one clear sentence. `decode_data_url` turns an OpenAI `image_url` data URL into a temporary
file under the same limits.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from pathlib import Path

from assistant.errors import InputError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[^;,]*)*;base64,", re.I)
_SUFFIX = {"png": ".png", "jpeg": ".jpg", "dicom": ".dcm"}


class TooLargeError(InputError):
    """An upload is over the size limit (HTTP 413)."""


def validate_image_file(path: str | Path, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """Check that `path` is a readable PNG, JPEG or DICOM file within `max_bytes`.

    The content check is the vision layer's own loader (`vision.io.load_image`: magic bytes,
    pixel limits before decoding, decompression-bomb protection, pydicom without force), so an
    upload is accepted exactly when the X-ray tool can read it.

    Returns:
        The kind: "png", "jpeg" or "dicom".

    Raises:
        TooLargeError: the file is larger than `max_bytes`.
        InputError: the file is missing, not an image we read, or corrupt.
    """
    from vision.io import load_image

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError("The uploaded file could not be read: please upload it again.") from exc
    if size > max_bytes:
        raise TooLargeError(f"The file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB: please upload a smaller image.")
    return load_image(path).format


def decode_data_url(url: str, directory: str | Path | None = None, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Write a base64 `data:` URL to a temporary file, validated as an image.

    The caller deletes the file when the turn is over.

    Raises:
        TooLargeError: the decoded image is over `max_bytes`.
        InputError: not a base64 data URL, bad base64, or not an image.
    """
    match = _DATA_URL.match(url)
    if not match:
        raise InputError("Images must be sent as base64 data URLs (data:image/png;base64,...); remote URLs are not fetched.")
    payload = url[match.end():]
    if len(payload) * 3 // 4 > max_bytes + 3:
        raise TooLargeError(f"The image is over the {max_bytes / 1e6:.0f} MB limit: please send a smaller image.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("The image data URL is not valid base64: please encode the file again.") from exc
    from vision.io import sniff_format

    kind = sniff_format(data[:132])
    fd, name = tempfile.mkstemp(prefix="medassist-upload-", suffix=_SUFFIX.get(kind or "", ".bin"), dir=directory)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        validate_image_file(name, max_bytes)
    except InputError:
        os.unlink(name)
        raise
    return Path(name)
