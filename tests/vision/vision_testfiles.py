"""Builders for the image files the vision tests feed in (good and bad), all written to tmp_path."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from vision.synthetic import synthetic_image


def chest_png(path: Path, size: int = 256, positive: bool = False, seed: int = 0) -> Path:
    Image.fromarray(synthetic_image(np.random.default_rng(seed), size, positive)).save(path, format="PNG")
    return path


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A syntactically valid PNG claiming width x height (8-bit gray) with one empty row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1)))
        + chunk(b"IEND", b"")
    )


def jpeg_with_size(width: int, height: int) -> bytes:
    """A small JPEG whose SOF header is patched to claim width x height."""
    data = bytearray(jpeg_bytes(np.full((16, 16), 128, np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def dicom_bytes(
    pixels: np.ndarray | None,
    photometric: str = "MONOCHROME2",
    modality: str = "DX",
    rows: int | None = None,
    cols: int | None = None,
    window: tuple[float, float] | None = None,
    transfer_syntax: str | None = None,
    patient_name: str = "Doe^Secret",
    pixel_data: bytes | None = None,
) -> bytes:
    """A DICOM file (with preamble) holding `pixels` (uint16) and a fake patient name."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, UID, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.1.1")
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = UID(transfer_syntax) if transfer_syntax else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.PatientName, ds.PatientID = patient_name, "SECRET-ID-123"
    ds.Modality = modality
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    if pixels is not None or pixel_data is not None:
        arr = pixels if pixels is not None else np.zeros((rows or 64, cols or 64), np.uint16)
        ds.Rows, ds.Columns = rows or arr.shape[0], cols or arr.shape[1]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        data = pixel_data if pixel_data is not None else arr.astype("<u2").tobytes()
        if transfer_syntax and meta.TransferSyntaxUID.is_compressed:
            from pydicom.encaps import encapsulate

            data = encapsulate([data])
        ds.PixelData = data
        if window:
            ds.WindowCenter, ds.WindowWidth = window
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
