"""Metrics, dataset layouts, patient-wise splits, and train -> checkpoint -> eval end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from assistant.cli import main
from assistant.errors import InputError
from vision import evaluate_dataset
from vision.data import kermany_patient, open_dataset, patient_split
from vision.metrics import best_threshold, binary_report, bootstrap_ci, ece, fit_temperature
from vision.synthetic import write_folder, write_medmnist, write_nih
from vision.train import TrainConfig, train


def test_binary_report_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    r = binary_report(y, p, threshold=0.5, n_boot=200)
    assert r["auroc"]["value"] == 0.75 and r["accuracy"]["value"] == 0.5
    assert r["recall"]["value"] == 0.5 and r["f1"]["value"] == 0.5 and r["correct"] == 2
    lo, hi = r["accuracy"]["ci95"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_ece_is_zero_when_calibrated_and_large_when_not() -> None:
    y = np.array([1] * 8 + [0] * 2)
    assert ece(y, np.full(10, 0.8)) == pytest.approx(0.0)
    assert ece(y, np.full(10, 0.1)) == pytest.approx(0.7)


def test_bootstrap_is_seeded_and_none_when_undefined() -> None:
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 50), rng.random(50)
    fn = lambda a, b: float(np.mean(a == (b > 0.5)))  # noqa: E731
    assert bootstrap_ci(y, p, fn, 100, seed=3) == bootstrap_ci(y, p, fn, 100, seed=3)
    assert bootstrap_ci(y, p, fn, 0) is None


def test_threshold_and_temperature_calibration() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    assert best_threshold(y, np.array([0.1, 0.2, 0.3, 0.35, 0.8, 0.9])) == 0.35
    logits = torch.tensor([[4.0, -4.0], [-4.0, 4.0], [4.0, -4.0], [-4.0, 4.0]] * 5)
    targets = torch.tensor([0, 1, 1, 0] * 5)  # half wrong: over-confident logits need T > 1
    assert fit_temperature(logits, targets, multilabel=False) > 2.0


def test_kermany_patient_ids() -> None:
    assert kermany_patient("person1946_bacteria_4874.jpeg") == "person1946"
    assert kermany_patient("NORMAL2-IM-1427-0001.jpeg") == "NORMAL2-IM-1427"
    assert kermany_patient("IM-0115-0001.jpeg") == "IM-0115"
    assert kermany_patient("scan.png") is None


def test_patient_split_never_shares_a_patient() -> None:
    groups = [f"p{i // 3}" for i in range(90)]
    splits = patient_split(groups, seed=1)
    owners = {s: {groups[i] for i in idx} for s, idx in splits.items()}
    assert not (owners["train"] & owners["val"]) and not (owners["train"] & owners["test"])
    assert sum(len(v) for v in splits.values()) == 90
    assert patient_split(groups, seed=1)["test"].tolist() == splits["test"].tolist()


def test_each_layout_opens(tmp_path: Path) -> None:
    pneu = open_dataset(write_medmnist(tmp_path / "p.npz", n=16))
    chest = open_dataset(write_medmnist(tmp_path / "c.npz", n=16, multilabel=True))
    nih = open_dataset(write_nih(tmp_path / "nih", patients=10))
    folder = open_dataset(write_folder(tmp_path / "k", patients=10))
    split_folder = open_dataset(write_folder(tmp_path / "k2", patients=10, with_splits=True))
    assert (pneu.labels, pneu.multilabel, len(pneu)) == (["NORMAL", "PNEUMONIA"], False, 24)
    assert chest.multilabel and len(chest.labels) == 14 and chest.targets.shape == (24, 14)
    assert nih.multilabel and nih.patients and len(nih) == 20 and nih.loader(0).ndim == 2
    assert folder.labels == ["NORMAL", "PNEUMONIA"] and any(p.startswith("person") for p in folder.patients)
    assert len(split_folder.splits["test"]) == 4 and len(split_folder.splits["val"]) > 0


def test_bad_datasets_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        open_dataset(tmp_path / "missing.npz")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="lacks the NIH columns"):
        open_dataset(tmp_path / "bad.csv")
    np.savez(tmp_path / "x.npz", foo=np.zeros(3))
    with pytest.raises(InputError, match="lacks MedMNIST arrays"):
        open_dataset(tmp_path / "x.npz")


@pytest.mark.parametrize("layout", ["pneumoniamnist", "chestmnist", "nih", "folder"])
def test_train_then_eval_end_to_end(tmp_path: Path, layout: str) -> None:
    data = {
        "pneumoniamnist": lambda: write_medmnist(tmp_path / "p.npz", n=64),
        "chestmnist": lambda: write_medmnist(tmp_path / "c.npz", n=64, multilabel=True),
        "nih": lambda: write_nih(tmp_path / "nih", patients=20),
        "folder": lambda: write_folder(tmp_path / "kermany", patients=20, with_splits=True),
    }[layout]()
    out = tmp_path / "ckpt"
    manifest = train(TrainConfig(str(data), out, epochs=1, size=32, batch_size=16, bootstrap=0))
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.pt"))
    saved = json.loads((out / "manifest.json").read_text())
    assert {"labels", "thresholds", "temperature", "preprocessing", "metrics", "seed"} <= set(saved)
    assert saved["preprocessing"]["size"] == 32 and saved["metrics"]["test"]["n"] == manifest["metrics"]["test"]["n"]
    report = evaluate_dataset(str(data), model=str(out), bootstrap=5)
    assert report["n"] == saved["splits"]["test"] and set(report["findings"]) == set(saved["reported"])
    assert {"auroc", "accuracy", "recall", "f1", "ece"} <= set(report["mean"])


def test_training_is_reproducible_with_a_seed(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    data = write_medmnist(tmp_path / "p.npz", n=48)
    for name in ("a", "b"):
        train(TrainConfig(str(data), tmp_path / name, epochs=1, size=28, batch_size=16, bootstrap=0, seed=7))
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_learns_the_synthetic_finding(tmp_path: Path) -> None:
    data = write_medmnist(tmp_path / "p.npz", n=160, size=28)
    manifest = train(TrainConfig(str(data), tmp_path / "ckpt", epochs=4, size=28, batch_size=16, bootstrap=0))
    assert manifest["metrics"]["test"]["mean"]["auroc"] > 0.8


def test_cli_train_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_medmnist(tmp_path / "p.npz", n=32)
    assert main(["xray", "train", str(data), "--out", str(tmp_path / "ck"), "--epochs", "1", "--size", "28"]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoint"] == str(tmp_path / "ck")
    assert (
        main(
            [
                "xray",
                "eval",
                str(data),
                "--model",
                str(tmp_path / "ck"),
                "--bootstrap",
                "10",
                "--json",
                "--out",
                str(tmp_path / "m.json"),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["split"] == "test" and (tmp_path / "m.json").is_file()
    assert main(["xray", "eval", str(tmp_path / "nope.npz")]) == 2


@pytest.mark.slow
def test_eval_packaged_model_on_its_16_images(packaged_images) -> None:
    report = evaluate_dataset("packaged", model="pneumonia-xception", bootstrap=200)
    pneumonia = report["findings"]["PNEUMONIA"]
    assert report["n"] == 16 and pneumonia["correct"] == 13 and pneumonia["accuracy"]["value"] == 0.8125
