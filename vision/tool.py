"""The "xray" tool: runs whenever a turn has an attached image and reports findings as data.

The LLM is shown the findings (label, probability, threshold), the model name and a fixed
"not a diagnosis" note as quoted tool data; it explains them and must not add findings. An image
the gate refuses gives no findings and the reason, so the model cannot invent any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.tools import Tool, ToolOutput
from assistant.types import Finding, Turn

NOTE = "Not a diagnosis: a clinician must read the image."


class XrayTool(Tool):
    """Chest X-ray classifier with Grad-CAM heatmap."""

    name = "xray"
    description = (
        "Classify an attached chest X-ray (PNG, JPEG or DICOM): findings with probabilities, "
        "the decision threshold, the model name and a Grad-CAM heatmap."
    )
    inputs = {"image": {"type": "string", "description": "path of the attached image file"}}
    stage = "vision"

    def __init__(self, model: str, heatmap_dir: Path, cache_dir: Path, device: str | None = None) -> None:
        self.model, self.heatmap_dir, self.cache_dir, self.device = model, heatmap_dir, cache_dir, device
        self._service: Any = None

    @property
    def service(self) -> Any:
        """The `XrayService`, created on first use so that building the tool does not import torch."""
        if self._service is None:
            from vision.service import get_service

            self._service = get_service(self.model, self.heatmap_dir, self.cache_dir, self.device)
        return self._service

    def select(self, turn: Turn) -> dict[str, Any] | None:
        return {"image": turn.image} if turn.image else None

    def forward(self, image: str) -> ToolOutput:
        result = self.service.classify(image)
        data = {k: result[k] for k in ("findings", "threshold", "model", "heatmap", "is_chest_xray")}
        data["note"] = NOTE
        if not result["is_chest_xray"]:
            data["reason"] = result["reason"]
            return ToolOutput(data=data, context=f"{result['reason']} No findings were produced. {NOTE}", findings=[])
        findings = [Finding(f["label"], f["probability"], f["positive"]) for f in result["findings"]]
        context = render_context(result, self.service.classifier.calibrated)
        return ToolOutput(data=data, context=context, findings=findings)


def render_context(result: dict[str, Any], calibrated: bool = False) -> str:
    """The findings as plain text for the model's tool-results block."""
    kind = "calibrated probabilities" if calibrated else "uncalibrated model scores"
    lines = [f"Chest X-ray classifier {result['model']} (research model, not validated for diagnosis; {kind}):"]
    for f in result["findings"]:
        verdict = "above" if f["positive"] else "below"
        lines.append(
            f"- {f['label']}: probability {f['probability']:.2f} ({verdict} the decision threshold {f['threshold']:g})"
        )
    lines.append("Report only these findings; do not add others. " + NOTE)
    return "\n".join(lines)


def build_tool(settings: Settings) -> XrayTool | None:
    """The X-ray tool for `settings.classifier` (None when it is set to "none")."""
    if not settings.classifier or settings.classifier == "none":
        return None
    return XrayTool(
        settings.classifier, settings.cache_dir / "heatmaps", settings.cache_dir / "models" / "vision", settings.device
    )
