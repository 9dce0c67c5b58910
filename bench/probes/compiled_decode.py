"""Decode rate of transformers' compiled static-cache path (CUDA graphs) against eager, on a GPU.

    python bench/probes/compiled_decode.py CONFIG_DIR [CONFIG_DIR ...]   # random weights, bf16

For each architecture: the same 32-token prompt and exactly 128 new tokens every call, so the
static cache keeps one shape and nothing recompiles after the first call. Prints the first call's
seconds (compilation) and the best of three later calls, with and without a per-token streamer.
A probe: prints only; docs/benchmarks/gpu.md quotes its output with the machine and date.
"""
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.generation.streamers import BaseStreamer

NEW = 128


class Clock(BaseStreamer):
    def put(self, value):
        value.cpu()

    def end(self):
        pass


def best_of(model, ids, runs=3, **kwargs):
    times = []
    for _ in range(runs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(ids, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, pad_token_id=0, **kwargs)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


for folder in sys.argv[1:]:
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), dtype=torch.bfloat16).eval()
    ids = torch.randint(0, 150000, (1, 32), device="cuda")
    print(f"{folder}: eager {NEW / best_of(model, ids):.1f} tok/s, eager streamed "
          f"{NEW / best_of(model, ids, streamer=Clock()):.1f} tok/s", flush=True)
    try:
        first = best_of(model, ids, runs=1, cache_implementation="static")
        steady = best_of(model, ids, cache_implementation="static")
        streamed = best_of(model, ids, cache_implementation="static", streamer=Clock())
        print(f"{folder}: static+compiled first call {first:.1f} s, then {NEW / steady:.1f} tok/s, "
              f"streamed {NEW / streamed:.1f} tok/s", flush=True)
    except Exception as exc:  # report and go on to the next architecture
        print(f"{folder}: static cache failed: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
    del model
    torch.cuda.empty_cache()
