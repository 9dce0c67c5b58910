"""`medassist bench`: the command, the roofline arithmetic, and a seconds-long smoke of each benchmark.

No timing assertions: the smoke runs check that each benchmark runs end to end and writes a
well-formed JSON record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.cli import build_parser, main
from assistant.commands import bench as bench_cmd
from assistant.errors import ConfigError


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEDASSIST_BENCH_RESULTS", str(tmp_path))
    return tmp_path


def test_parser_accepts_names_and_rejects_others(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["bench", "llm", "--smoke"])
    assert args.name == "llm" and args.smoke
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "nonsense"])
    assert "invalid choice" in capsys.readouterr().err


def test_missing_script_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_cmd, "bench_dir", lambda: tmp_path)
    with pytest.raises(ConfigError, match="source checkout"):
        bench_cmd.load_bench("llm")
    assert main(["bench", "e2e", "--smoke"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Benchmark script") and "Traceback" not in err


def test_bench_dir_is_the_repository_folder() -> None:
    assert (bench_cmd.bench_dir() / "llm.py").is_file()
    assert bench_cmd.bench_dir().parent == Path(__file__).resolve().parents[2]


def test_table_and_roofline_arithmetic() -> None:
    llm = bench_cmd.load_bench("llm")
    row = {"decode_tps": 10.0, "prompt_tokens": 100, "new_tokens": 100, "weight_bytes": 1e9,
           "kv_bytes_per_position": 1e4}
    llm.roofline(row, limit_gbs=20.0)
    assert row["bytes_per_token"] == pytest.approx(1e9 + 1e4 * 150)
    assert row["limit_tps"] == pytest.approx(20e9 / row["bytes_per_token"])
    assert row["achieved_over_limit"] == pytest.approx(10.0 / row["limit_tps"])
    skipped = {"skipped": "x"}
    llm.roofline(skipped, 20.0)
    assert "limit_tps" not in skipped
    text = llm.table([{"a": 1.23456, "b": None}], ["a", "b"])
    assert text.splitlines()[2].split() == ["1.23", "-"]


def test_bandwidth_measurement_is_positive() -> None:
    bw = bench_cmd.load_bench("llm").measure_bandwidth(mib=8, repeats=1)
    assert bw["limit_gbs"] == max(v for k, v in bw.items() if "_gbs" in k and k != "limit_gbs") > 0


def test_torch_weight_bytes_counts_tied_and_untied_heads() -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    llm = bench_cmd.load_bench("llm")
    cfg = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2)
    tied = LlamaForCausalLM(LlamaConfig(**cfg, tie_word_embeddings=True)).to(torch.float32)
    untied = LlamaForCausalLM(LlamaConfig(**cfg, tie_word_embeddings=False)).to(torch.float32)
    n_tied = sum(p.numel() for p in tied.parameters())
    assert llm.torch_weight_bytes(tied)["weight_bytes"] == 4 * n_tied
    # untied: the input table is only gathered, the separate head is read whole
    assert llm.torch_weight_bytes(untied)["weight_bytes"] == 4 * n_tied
    assert llm.torch_weight_bytes(tied)["kv_bytes_per_position"] == 2 * 2 * 2 * 8 * 4


@pytest.mark.slow
def test_gguf_weight_bytes_of_the_packaged_model() -> None:
    from assistant.errors import ModelError
    from assistant.llm import fetch
    from assistant.llm.catalog import CATALOG

    try:
        path = fetch.gguf_path(CATALOG["smollm2-135m"], verify=False)
    except ModelError as exc:
        pytest.skip(str(exc))
    sizes = bench_cmd.load_bench("llm").gguf_weight_bytes(path)
    # SmolLM2-135M: 30 layers, 3 KV heads of 64 -> 30*2*3*64*2 bytes of f16 KV per position
    assert sizes["kv_bytes_per_position"] == 30 * 2 * 3 * 64 * 2
    assert 0.8 * path.stat().st_size < sizes["weight_bytes"] <= path.stat().st_size


@pytest.mark.slow
@pytest.mark.parametrize("name", bench_cmd.BENCHMARKS)
def test_smoke(name: str, results: Path) -> None:
    if not (bench_cmd.bench_dir() / f"{name}.py").is_file():
        pytest.skip(f"bench/{name}.py is not in this checkout yet (owned by another area)")
    assert main(["bench", name, "--smoke"]) == 0
    files = list(results.glob(f"{name}-*.json"))
    if name in ("llm", "e2e"):  # ours write through bench._common
        record = json.loads(files[0].read_text())
        assert record["smoke"] is True and record["machine"]["cores"] >= 1
        check = {"llm": _check_llm, "e2e": _check_e2e}[name]
        check(record)


def _check_llm(record: dict) -> None:
    assert record["bandwidth"]["limit_gbs"] > 0
    rows = {r["backend"]: r for r in record["rows"]}
    assert set(rows) == {"llamacpp", "transformers"}
    for row in rows.values():
        assert "error" not in row, row
        if "skipped" not in row:
            assert row["decode_tps"] > 0 and row["new_tokens"] == 8
            assert 0 < row["achieved_over_limit"]


def _check_e2e(record: dict) -> None:
    assert record["chunks"] > 0 and len(record["summary"]) == 3
    ours, own, same = record["summary"]
    assert "its own prompt" in own["stack"] and "MedAssist's prompt" in same["stack"]
    assert own["prompt_tokens"] > 0 and same["prompt_tokens"] > 0
    assert ours["turns"] == 1 and 0 <= ours["outside_share"] <= 1
    turn = next(iter(record["turns"].values()))[0]
    assert turn["citations"] == 5 and turn["answer_chars"] > 0


def _tiny_causal_lm_dir(tmp_path: Path) -> Path:
    """Config and tokenizer of a 2-layer Llama (random weights are what `--random-weights` times)."""
    from transformers import LlamaConfig, PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder = tmp_path / "tiny-arch"
    words = ["<pad>", "<s>", "</s>", "<unk>"] + [f"w{i}" for i in range(60)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", bos_token="<s>",
                            unk_token="<unk>").save_pretrained(folder)
    LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                pad_token_id=0, bos_token_id=1, eos_token_id=2).save_pretrained(folder)
    return folder


def test_random_weights_keep_the_architecture_and_tokenizer(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    llm = bench_cmd.load_bench("llm")
    out = llm.random_weights(_tiny_causal_lm_dir(tmp_path), tmp_path / "random")
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.num_hidden_layers == 2 and (out / "tokenizer.json").is_file()
    assert llm.skip_reason("transformers", str(out)) is None
    assert "transformers only" in llm.skip_reason("llamacpp", str(out))
    assert "no config.json" in llm.skip_reason("transformers", str(tmp_path))


def test_concurrent_requests_carry_their_own_excerpts() -> None:
    llm = bench_cmd.load_bench("llm")
    first, second = llm._guideline_texts(3, first=0), llm._guideline_texts(3, first=3)
    assert len(first) == len(second) == 3 and not set(first) & set(second)
    assert len(llm._guideline_texts(2, first=10_000)) == 2  # wraps around the corpus


@pytest.mark.slow
def test_hf_dir_with_random_weights_and_continuous_batching(tmp_path: Path, results: Path) -> None:
    """The GPU run's options end to end on CPU: a config-only directory, random weights, a burst."""
    llm = bench_cmd.load_bench("llm")
    folder = _tiny_causal_lm_dir(tmp_path)
    out = results / "llm.json"
    assert llm.main(["--hf-dir", str(folder), "--random-weights", "--concurrency", "2", "--new-tokens", "4",
                     "--rag-snippets", "1", "--bandwidth-mib", "8", "--out", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["model"] == "tiny-arch" and row["weights"] == "random" and row["backend"] == "transformers"
    burst = row["concurrency"][0]
    assert "error" not in burst, burst
    assert burst["streams"] == 2 and burst["new_tokens"] == 4
    assert burst["latency_p95_s"] >= burst["ttft_p95_s"] > 0 and burst["throughput_tps"] > 0
