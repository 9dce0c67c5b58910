"""`medassist xray`: classify images, train a classifier, evaluate one on a labelled dataset.

`classify` prints one JSON line per input, in order (`--json`), or a short table; an input that
cannot be read gives `{"path", "error"}` and exit code 2 while the others are still classified.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "xray",
        help="chest X-ray classifier: classify, train, eval",
        description="Chest X-ray tools (research models; not a diagnosis).",
    )
    sub = p.add_subparsers(dest="xray_command", metavar="SUBCOMMAND", required=True)

    c = sub.add_parser(
        "classify",
        help="classify PNG/JPEG/DICOM files",
        description="Classify chest X-rays; one JSON line per input with --json.",
    )
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--json", action="store_true", help="print one JSON object per input")
    c.add_argument("--heatmap-dir", help="write Grad-CAM overlays here (default: CACHE_DIR/heatmaps)")
    c.add_argument("--no-heatmap", action="store_true", help="skip Grad-CAM")
    c.add_argument("--model", help="pneumonia-xception (default), xrv-<weights>, xrv-random or a checkpoint folder")
    c.set_defaults(func=run_classify)

    t = sub.add_parser(
        "train",
        help="train a classifier on a labelled dataset",
        description="Train on MedMNIST npz, NIH ChestX-ray14 (CSV + images) or class-per-folder data.",
    )
    _dataset_flags(t)
    t.add_argument("--out", required=True, help="checkpoint folder to write (manifest.json + model.safetensors)")
    t.add_argument("--arch", default="tiny", help="tiny, resnet18 or densenet121 (default tiny)")
    t.add_argument("--size", type=int, help="input size in pixels (default: 28 for MedMNIST, else 224)")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    t.set_defaults(func=run_train)

    e = sub.add_parser(
        "eval",
        help="evaluate a classifier on a labelled dataset",
        description="AUROC per finding and mean, accuracy, recall, F1 (bootstrap 95% CIs) and ECE.",
    )
    _dataset_flags(e)
    e.add_argument("--model", default="pneumonia-xception", help="classifier name or checkpoint folder")
    e.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    e.add_argument("--out", help="write the metrics JSON here too")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(func=run_eval)


def _dataset_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dataset",
        help="an .npz file (MedMNIST), a CSV (NIH ChestX-ray14) or a class-per-folder root; "
        "'packaged' = the 16 labelled images of pneumonia-model-package",
    )
    p.add_argument("--images", help="image folder for a NIH CSV (default: next to the CSV, images/)")
    p.add_argument("--split", default="test", help="which split to evaluate: train, val, test or all (default test)")


def run_classify(args: argparse.Namespace) -> int:
    from assistant.config import Settings
    from vision.service import classify_paths

    settings = Settings()
    heatmaps = None if args.no_heatmap else (args.heatmap_dir or str(settings.cache_dir / "heatmaps"))
    results = classify_paths(args.paths, heatmap_dir=heatmaps, model=args.model or settings.classifier)
    for row in results:
        print(json.dumps(row, ensure_ascii=False) if args.json else _line(row), flush=True)
    # An unreadable file, or one the chest X-ray gate refused, counts as a failed input.
    return 2 if any("error" in r or not r.get("is_chest_xray", False) for r in results) else 0


def _line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row['path']}: error: {row['error']}"
    if not row["is_chest_xray"]:
        return f"{row['path']}: not classified: {row['reason']}"
    found = ", ".join(
        f"{f['label']} {f['probability']:.2f}{' +' if f['positive'] else ''}" for f in row["findings"][:5]
    )
    heat = f" (heatmap {row['heatmap']})" if row["heatmap"] else ""
    return f"{row['path']}: {found} [threshold {row['threshold']}, {row['model']}]{heat}"


def run_train(args: argparse.Namespace) -> int:
    from vision.train import TrainConfig, train

    config = TrainConfig(
        dataset=args.dataset,
        out=Path(args.out),
        images=args.images,
        arch=args.arch,
        size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
    )
    manifest = train(config, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(json.dumps({"checkpoint": str(args.out), "metrics": manifest["metrics"]}, indent=1))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from vision.evaluate import evaluate_dataset, format_table

    report = evaluate_dataset(
        args.dataset, model=args.model, split=args.split, images=args.images, bootstrap=args.bootstrap
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1) if args.json else format_table(report))
    return 0
