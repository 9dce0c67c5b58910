""" "Is this a frontal chest X-ray?": a transparent rule-based gate run before any classifier.

No labelled "not an X-ray" data ships offline, so the gate is a handful of measured rules, not a
model (see docs/vision.md for the measured values on real X-rays, pydicom's CT/MR/US files and
ordinary photos). In order:
1. DICOM: the Modality tag must be a projection radiograph (CR, DX, DR); CT, MR, US, NM... refused.
2. Colour images are photos, not radiographs.
3. Pixel statistics on a 128x128 copy: aspect ratio, left-right mirror correlation (a chest is
   roughly symmetric), contrast, black/white fractions (documents, photos against the sky), and
   "bright midline, darker lungs" (mediastinum vs lung fields).
Known limit: a CT slice exported as PNG/JPEG can pass rule 3; a lateral film may be refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vision.io import LoadedImage

RADIOGRAPH_MODALITIES = {"CR", "DX", "DR", "RG"}
MODALITY_NAMES = {
    "CT": "a CT slice",
    "MR": "an MR image",
    "US": "an ultrasound image",
    "NM": "a nuclear-medicine image",
    "PT": "a PET image",
    "MG": "a mammogram",
    "XA": "an angiography frame",
    "SEG": "a segmentation",
    "RTDOSE": "a radiotherapy dose grid",
    "SC": "a secondary capture",
}


@dataclass
class GateResult:
    """Whether an image looks like a frontal chest radiograph, the reason when not, and the measures."""

    is_chest_xray: bool
    reason: str = ""
    measures: dict[str, float] = field(default_factory=dict)


def measure(pixels: np.ndarray) -> dict[str, float]:
    """The pixel statistics the gate uses, on a 128x128 copy of the image."""
    from PIL import Image

    u8 = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    im = np.asarray(Image.fromarray(u8).resize((128, 128), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    h, w = pixels.shape
    std = float(im.std())
    sym = float(np.corrcoef(im.ravel(), im[:, ::-1].ravel())[0, 1]) if std > 0 else 0.0
    midline = float(im[26:102, 58:70].mean())
    lungs = float(np.r_[im[26:102, 22:42].ravel(), im[26:102, 86:106].ravel()].mean())
    return {
        "aspect": round(w / h, 3),
        "symmetry": round(sym, 3),
        "contrast": round(std, 3),
        "black": round(float((im < 0.06).mean()), 3),
        "white": round(float((im > 0.94).mean()), 3),
        "midline_minus_lungs": round(midline - lungs, 3),
    }


def check_chest_xray(image: LoadedImage) -> GateResult:
    """Apply the gate's rules to a decoded image.

    Args:
        image: from `vision.io.load_image`.

    Returns:
        The verdict; `reason` is one sentence fit to show a user when it is negative.
    """
    modality = str(image.meta.get("Modality") or "").upper()
    if modality and modality not in RADIOGRAPH_MODALITIES and modality != "OT":
        what = MODALITY_NAMES.get(modality, f"a {modality} image")
        return GateResult(
            False, f"This DICOM file is {what}, not a chest radiograph; the X-ray tool reads chest X-rays only."
        )
    if image.color:
        return GateResult(False, "This is a colour picture, not a chest radiograph; attach the X-ray image itself.")
    m = measure(image.pixels)
    reason = _pixel_reason(m)
    return GateResult(not reason, reason, m)


def _pixel_reason(m: dict[str, float]) -> str:
    if not 0.7 <= m["aspect"] <= 1.8:
        return "The image's shape is not that of a chest radiograph (it looks like a document or a banner)."
    if m["contrast"] < 0.12:
        return "The image has too little contrast to be a chest radiograph (it looks like text or a texture)."
    if m["black"] > 0.4 or m["white"] > 0.3:
        return "The image is mostly blank black or white, unlike a chest radiograph."
    if m["symmetry"] < 0.4 or m["midline_minus_lungs"] < 0.05:
        return "The image does not look like a frontal chest radiograph (no symmetric chest with a bright midline)."
    return ""
