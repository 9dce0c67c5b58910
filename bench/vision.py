"""Benchmark of the chest X-ray path: load + preprocess + classify + Grad-CAM, per image.

Images: the 16 packaged Kermany JPEGs and the pydicom-data RG1 radiograph (uncompressed and JPEG
2000 DICOM); `--smoke` uses two of them (or generated PNGs when the asset packages are missing)
and one repeat. Reports the median time of each stage per image format, the model load time
(first conversion from Keras and cached safetensors) and the process's peak memory (RSS; plus
CUDA peak allocation on GPU), and classification throughput for batches of `--batch` images.
Writes JSON to bench/results/vision-<date>.json.

Run: python bench/vision.py [--smoke] [--model pneumonia-xception|xrv-random|CKPT] [--device cuda]
     [--weights converted.safetensors] [--images DIR] [--batch 1 8 32]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _images(smoke: bool, tmp: Path, folder: Path | None = None) -> list[Path]:
    paths: list[Path] = []
    if folder is not None:  # PNG, JPEG and DICOM files copied from the asset packages
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".dcm"))
        return [paths[0], paths[-1]] if smoke else paths
    try:
        from vision.xception import sample_images

        paths += [p for p, _ in sample_images()]
    except Exception:  # the asset package is missing: fall back to generated images
        pass
    try:
        files = importlib.metadata.files("pydicom-data") or []
        paths += [Path(f.locate()) for f in files if Path(str(f)).name in ("RG1_UNCR.dcm", "RG1_J2KR.dcm")]
    except importlib.metadata.PackageNotFoundError:
        pass
    if not paths:
        from PIL import Image

        from vision.synthetic import synthetic_image
        import numpy as np

        for i in range(2):
            Image.fromarray(synthetic_image(np.random.default_rng(i), 512, bool(i))).save(tmp / f"synthetic{i}.png")
            paths.append(tmp / f"synthetic{i}.png")
    return [paths[0], paths[-1]] if smoke else paths


def _kind(path: Path) -> str:
    from vision.io import sniff_format

    fmt = sniff_format(path.read_bytes()[:132]) or "?"
    if fmt == "dicom":
        return "dicom-j2k" if "J2K" in path.name else "dicom"
    return fmt


def _time_image(clf, path: Path, heat_dir: Path) -> dict[str, float]:
    import torch

    from vision.gradcam import explained_class, gradcam, overlay_png
    from vision.io import load_image
    from vision.preprocess import display_image, preprocess

    def sync() -> None:
        if clf.device.type == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    image = load_image(path)
    t1 = time.perf_counter()
    x = preprocess(image.pixels, clf.spec)
    t2 = time.perf_counter()
    probs = clf.predict(x.unsqueeze(0))[0].cpu()
    sync()
    t3 = time.perf_counter()
    cam = gradcam(clf, x, explained_class(clf, probs))
    sync()
    t4 = time.perf_counter()
    overlay_png(display_image(image.pixels, 1024), cam, heat_dir / f"{path.stem}.png")
    t5 = time.perf_counter()
    return {
        "load": t1 - t0,
        "preprocess": t2 - t1,
        "classify": t3 - t2,
        "gradcam": t4 - t3,
        "overlay": t5 - t4,
        "total": t5 - t0,
    }


def _load(model: str, tmp: Path, device: str | None, weights: Path | None) -> tuple[object, float | None, float]:
    """The classifier, the first load's seconds (conversion; None for a converted file) and a cached load's seconds."""
    import torch

    from vision.backends import _CACHE, load_classifier, load_xception

    if weights is not None:  # an already converted pneumonia-xception file: no conversion to time
        t0 = time.perf_counter()
        clf = load_xception(None, weights)
        clf.module.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return clf, None, time.perf_counter() - t0
    t0 = time.perf_counter()
    load_classifier(model, tmp / "cache", device)
    cold = time.perf_counter() - t0
    _CACHE.clear()
    t0 = time.perf_counter()
    clf = load_classifier(model, tmp / "cache", device)
    return clf, cold, time.perf_counter() - t0


def _batch_rates(clf, images: list[Path], sizes: list[int], repeats: int) -> list[dict[str, float]]:
    """Images per second of `clf.predict` on batches of each size (preprocessed inputs, best of
    `repeats`), the figure a batch job over an archive of studies sees."""
    import torch

    from vision.io import load_image
    from vision.preprocess import preprocess

    inputs = torch.stack([preprocess(load_image(p).pixels, clf.spec) for p in images])
    out = []
    for size in sizes:
        batch = inputs[torch.arange(size) % len(inputs)]
        best = float("inf")
        for _ in range(repeats + 1):  # the first call warms up kernels for this shape
            t0 = time.perf_counter()
            clf.predict(batch).cpu()
            best = min(best, time.perf_counter() - t0)
        out.append({"batch": size, "ms_per_batch": round(best * 1000, 2), "images_per_s": round(size / best, 1)})
    return out


def run(model: str, smoke: bool, repeats: int, device: str | None, weights: Path | None = None,
        folder: Path | None = None, batches: list[int] | None = None) -> dict:
    import torch

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clf, cold, warm = _load(model, tmp, device, weights)
        images = _images(smoke, tmp, folder)
        _time_image(clf, images[0], tmp)  # warm-up (allocator, lazy imports)
        rows: dict[str, list[dict[str, float]]] = {}
        for _ in range(repeats):
            for path in images:
                rows.setdefault(_kind(path), []).append(_time_image(clf, path, tmp))
        batch_rows = _batch_rates(clf, images, batches or [], repeats)
    per_kind = {
        k: {s: round(statistics.median(r[s] for r in v) * 1000, 1) for s in v[0]} | {"images": len(v) // repeats}
        for k, v in rows.items()
    }
    cuda_peak = torch.cuda.max_memory_allocated() / 2**20 if clf.device.type == "cuda" else None
    return {
        "model": clf.name,
        "device": str(clf.device),
        "repeats": repeats,
        "smoke": smoke,
        "load_seconds": {"first (convert)": None if cold is None else round(cold, 2), "cached": round(warm, 2)},
        "weights": str(weights) if weights else "package",
        "batches": batch_rows,
        "median_ms": per_kind,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cuda_peak_mib": round(cuda_peak, 1) if cuda_peak else None,
        "torch_threads": torch.get_num_threads(),
    }


def _table(result: dict) -> str:
    head = (
        f"{'images':<10} {'n':>3} {'load':>8} {'preproc':>8} {'classify':>9} {'gradcam':>8} {'overlay':>8} "
        f"{'total':>8}  (median ms)"
    )
    lines = [f"vision bench: {result['model']} on {result['device']}", head]
    for kind, m in result["median_ms"].items():
        lines.append(
            f"{kind:<10} {m['images']:>3} {m['load']:>8} {m['preprocess']:>8} {m['classify']:>9} "
            f"{m['gradcam']:>8} {m['overlay']:>8} {m['total']:>8}"
        )
    for b in result.get("batches", []):
        lines.append(f"batch {b['batch']:>3}: {b['ms_per_batch']} ms, {b['images_per_s']} images/s (classify only)")
    lines.append(
        f"model load: {result['load_seconds']}; peak RSS {result['peak_rss_mib']} MiB"
        + (f"; CUDA peak {result['cuda_peak_mib']} MiB" if result["cuda_peak_mib"] else "")
    )
    return "\n".join(lines)


def _meta() -> dict:
    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": commit,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "packages": {n: version(n) for n in ("torch", "pillow", "pydicom", "pylibjpeg-openjpeg", "torchxrayvision")},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="two images, one repeat (seconds; for CI)")
    parser.add_argument("--model", default="pneumonia-xception")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--weights", type=Path, help="pneumonia-xception: a converted safetensors file to load")
    parser.add_argument("--images", type=Path, help="a folder of PNG/JPEG/DICOM files (default: the packaged ones)")
    parser.add_argument("--batch", type=int, nargs="+", default=[], help="batch sizes to time classification at")
    parser.add_argument("--out", help="JSON output path (default bench/results/vision-<date>.json)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = run(args.model, args.smoke, 1 if args.smoke else args.repeats, args.device, args.weights, args.images,
                 args.batch) | {"meta": _meta()}
    print(
        _table(result)
        + f"\n(1-minute load average at the end: {result['meta']['load_average_1m']} on {os.cpu_count()} CPUs)"
    )
    from bench._common import results_dir

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = (
        Path(args.out)
        if args.out
        else results_dir() / f"vision-{stamp}{'-smoke' if args.smoke else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
