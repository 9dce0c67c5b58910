"""Backends, Grad-CAM, the classify service and CLI, and the Assistant's X-ray tool."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from assistant.cli import main
from assistant.config import Settings
from assistant.engine import Assistant
from assistant.errors import ConfigError
from assistant.llm.fake import EchoLLM
from assistant.types import Turn
from vision.backends import load_classifier
from vision.gradcam import explained_class, gradcam, overlay_png
from vision.preprocess import PreprocessSpec, preprocess
from vision.service import XrayService, classify_paths
from vision.tool import NOTE, build_tool
from vision_testfiles import chest_png

CLASSIFY_KEYS = {"path", "is_chest_xray", "findings", "threshold", "model", "heatmap"}


def test_preprocess_specs_give_the_documented_ranges() -> None:
    pixels = np.linspace(0, 1, 300 * 200, dtype=np.float32).reshape(300, 200)
    keras = preprocess(pixels, PreprocessSpec(150, 3, "keras_tf", "nearest"))
    xrv = preprocess(pixels, PreprocessSpec(224, 1, "xrv", "bilinear"))
    assert keras.shape == (3, 150, 150) and keras.min() >= -1 and keras.max() <= 1
    assert torch.equal(keras[0], keras[2])
    assert xrv.shape == (1, 224, 224) and xrv.min() >= -1024 and xrv.max() <= 1024
    with pytest.raises(ValueError):
        preprocess(pixels, PreprocessSpec(normalisation="bogus"))


def test_xrv_random_backend_interface() -> None:
    pytest.importorskip("torchxrayvision")
    clf = load_classifier("xrv-random", device="cpu")
    assert len(clf.labels) == 18 and "Pneumonia" in clf.labels and clf.spec.size == 224
    x = torch.rand(2, 1, 224, 224) * 2048 - 1024
    probs = clf.predict(x)
    assert probs.shape == (2, 18) and float(probs.min()) >= 0 and float(probs.max()) <= 1
    assert clf.embed(x).shape == (2, 1024)
    cam = gradcam(clf, x[0], explained_class(clf, probs[0]))
    assert cam.shape == (7, 7) and cam.max() <= 1.0 and cam.min() >= 0.0


def test_unknown_classifier_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unknown classifier"):
        load_classifier("no-such-model")


def test_checkpoint_backend_and_gradcam_overlay(tiny_checkpoint: Path, tmp_path: Path) -> None:
    clf = load_classifier(str(tiny_checkpoint), device="cpu")
    assert clf.reported == ["PNEUMONIA"] and clf.calibrated and clf.mode == "softmax"
    from vision.io import load_image

    image = load_image(chest_png(tmp_path / "x.png", positive=True))
    x = preprocess(image.pixels, clf.spec)
    probs = clf.predict(x.unsqueeze(0))[0]
    assert abs(float(probs.sum()) - 1.0) < 1e-5
    cam = gradcam(clf, x, explained_class(clf, probs))
    assert cam.shape == (8, 8) and 0.0 <= cam.min() <= cam.max() <= 1.0
    out = overlay_png((image.pixels * 255).astype(np.uint8), cam, tmp_path / "heat" / "x.png")
    with Image.open(out) as im:
        assert im.size == (256, 256) and im.mode == "RGB"


def test_classify_paths_contract_order_and_errors(tiny_checkpoint: Path, tmp_path: Path) -> None:
    good = chest_png(tmp_path / "a.png", positive=True)
    bad = tmp_path / "b.png"
    bad.write_text("not an image")
    photo = tmp_path / "c.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(photo)
    rows = classify_paths(
        [str(good), str(bad), str(photo)], heatmap_dir=str(tmp_path / "maps"), model=str(tiny_checkpoint)
    )
    assert [r["path"] for r in rows] == [str(good), str(bad), str(photo)]
    assert CLASSIFY_KEYS <= set(rows[0]) and rows[0]["is_chest_xray"] is True
    assert [set(f) >= {"label", "probability"} for f in rows[0]["findings"]] == [True]
    assert Path(rows[0]["heatmap"]).is_file()
    assert set(rows[1]) == {"path", "error"} and rows[1]["error"].endswith(".")
    assert rows[2]["is_chest_xray"] is False and rows[2]["findings"] == [] and rows[2]["heatmap"] is None


def test_repeated_image_is_served_from_the_content_hash_cache(tiny_checkpoint: Path, tmp_path: Path) -> None:
    service = XrayService(str(tiny_checkpoint), tmp_path / "maps", device="cpu")
    first = chest_png(tmp_path / "first.png")
    copy = tmp_path / "renamed-copy.png"
    copy.write_bytes(first.read_bytes())
    a = service.classify(first)
    t0 = time.perf_counter()
    b = service.classify(copy)
    assert (a["cached"], b["cached"]) == (False, True)
    assert a["findings"] == b["findings"] and time.perf_counter() - t0 < 0.5


def test_cli_classify_json_lines_and_exit_code(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = chest_png(tmp_path / "a.png")
    assert (
        main(
            [
                "xray",
                "classify",
                str(good),
                "--json",
                "--model",
                str(tiny_checkpoint),
                "--heatmap-dir",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and CLASSIFY_KEYS <= set(json.loads(lines[0]))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    code = main(["xray", "classify", str(empty), str(good), "--json", "--model", str(tiny_checkpoint), "--no-heatmap"])
    out = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
    assert code == 2 and [o["path"] for o in out] == [str(empty), str(good)]
    assert "error" in out[0] and out[1]["is_chest_xray"] and out[1]["heatmap"] is None


def test_cli_unknown_model_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xray", "classify", str(chest_png(tmp_path / "a.png")), "--model", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown classifier") and "Traceback" not in err


def test_tool_contract_and_assistant_turn(tiny_checkpoint: Path, tmp_path: Path) -> None:
    tool = build_tool(Settings(classifier=str(tiny_checkpoint), cache_dir=tmp_path))
    assert tool is not None and (tool.name, tool.stage) == ("xray", "vision")
    assert build_tool(Settings(classifier="none", cache_dir=tmp_path)) is None
    image = chest_png(tmp_path / "scan.png", positive=True)
    assert tool.select(Turn("what is this?")) is None
    out = tool(image=str(image))
    assert {"findings", "threshold", "model", "heatmap", "is_chest_xray", "note"} <= set(out.data)
    assert out.data["note"] == NOTE and Path(out.data["heatmap"]).parent == tmp_path / "heatmaps"
    assert [f.label for f in out.findings] == ["PNEUMONIA"]
    result = Assistant(EchoLLM(), tools=[tool]).ask(Turn("Is there pneumonia?", role="doctor", image=str(image)))
    assert result.findings is not None and result.findings[0].label == "PNEUMONIA"
    assert "PNEUMONIA: probability" in result.answer and "do not add others" in result.answer
    assert result.timings["vision"] >= 0


def test_tool_refuses_non_xray_without_findings(tiny_checkpoint: Path, tmp_path: Path) -> None:
    tool = build_tool(Settings(classifier=str(tiny_checkpoint), cache_dir=tmp_path))
    photo = tmp_path / "cat.png"
    Image.fromarray((np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)).save(photo)
    out = tool(image=str(photo))
    assert out.findings == [] and out.data["is_chest_xray"] is False and "No findings" in out.context


def test_unreadable_image_keeps_the_chat_going(tiny_checkpoint: Path, tmp_path: Path) -> None:
    tool = build_tool(Settings(classifier=str(tiny_checkpoint), cache_dir=tmp_path))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0garbage")
    result = Assistant(EchoLLM(), tools=[tool]).ask(Turn("and this one?", role="doctor", image=str(broken)))
    assert result.tools[0].error and "corrupt" in result.tools[0].error and result.answer


@pytest.mark.slow
def test_cli_on_real_xrays_and_dicom_with_packaged_model(
    packaged_images, rg1_dicoms, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDASSIST_CACHE_DIR", str(tmp_path / "cache"))  # the converted weights go here
    paths = [str(packaged_images[0][0]), str(packaged_images[-1][0]), str(rg1_dicoms["UNCR"])]
    assert main(["xray", "classify", *paths, "--json", "--heatmap-dir", str(tmp_path)]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
    assert [r["model"] for r in rows] == ["pneumonia-xception"] * 3
    assert all(r["is_chest_xray"] and r["threshold"] == 0.5 and Path(r["heatmap"]).is_file() for r in rows)
    assert [r["findings"][0]["label"] for r in rows] == ["PNEUMONIA"] * 3
    with Image.open(rows[2]["heatmap"]) as im:
        assert max(im.size) == 1024  # the 1955x1841 radiograph, drawn at 1024 px on its long side


def test_follow_up_turn_on_the_same_image_does_not_rerun_the_network(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = build_tool(Settings(classifier=str(tiny_checkpoint), cache_dir=tmp_path))
    runs = []
    original = type(tool.service)._run
    monkeypatch.setattr(type(tool.service), "_run", lambda self, *a: runs.append(a) or original(self, *a))
    image = str(chest_png(tmp_path / "scan.png", positive=True))
    bot = Assistant(EchoLLM(), tools=[tool])
    first = bot.ask(Turn("Is there pneumonia?", role="doctor", image=image))
    second = bot.ask(
        Turn(
            "Which side?",
            role="doctor",
            image=image,
            history=[
                {"role": "user", "content": "Is there pneumonia?"},
                {"role": "assistant", "content": first.answer},
            ],
        )
    )
    assert len(runs) == 1 and first.tools[0].output == second.tools[0].output


@pytest.mark.parametrize("weights, n_reported", [("densenet121-res224-all", 18), ("densenet121-res224-rsna", 2)])
def test_xrv_pretrained_loads_from_the_safetensors_cache(tmp_path: Path, weights: str, n_reported: int) -> None:
    """The path users with internet take after the first download (weights faked: random, cached)."""
    xrv = pytest.importorskip("torchxrayvision")
    from safetensors.torch import save_file

    from vision.backends import load_xrv

    state = {k: v.contiguous() for k, v in xrv.models.DenseNet(weights=None).state_dict().items()}
    (tmp_path / "xrv").mkdir()
    save_file(state, str(tmp_path / "xrv" / f"{weights}.safetensors"))
    clf = load_xrv(weights, tmp_path)
    assert (
        clf.name == f"xrv-{weights}" and clf.calibrated and len(clf.reported) == n_reported and "" not in clf.reported
    )
    probs = clf.predict(torch.zeros(1, 1, 224, 224))
    assert probs.shape == (1, 18) and float(probs[0, clf.labels.index("Pneumonia")]) >= 0
