"""Where does a transformers decode step's time go on a GPU? Random weights of an architecture, bf16.

    python bench/probes/decode_profile.py CONFIG_DIR   # a folder with config.json (GPU only)

Times `generate` with and without a 1,100-token prompt's decode, a hand-written forward loop, a
profiler table (CPU launch time against GPU time), and the static-cache compiled path. A probe:
prints, writes nothing; docs/benchmarks.md quotes its output with the machine and date.
"""
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

cfg = AutoConfig.from_pretrained(sys.argv[1])
with torch.device("cuda"):
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).eval()
ids = torch.randint(0, 150000, (1, 1100), device="cuda")
def gen(n, **kw):
    torch.cuda.synchronize(); t = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, **kw)
    torch.cuda.synchronize(); return time.perf_counter() - t
gen(8)
for n in (1, 129):
    print(f"generate eager n={n}: {gen(n):.3f} s", flush=True)
per = (gen(129) - gen(1)) / 128
print(f"eager decode: {per*1000:.1f} ms/token = {1/per:.1f} tok/s", flush=True)
# manual loop: forward only, DynamicCache
with torch.inference_mode():
    out = model(ids, use_cache=True); past = out.past_key_values; tok = out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(128):
        out = model(tok, past_key_values=past, use_cache=True); past = out.past_key_values; tok = out.logits[:, -1:].argmax(-1)
    torch.cuda.synchronize(); print(f"manual forward loop: {(time.perf_counter()-t)/128*1000:.1f} ms/token", flush=True)
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
    gen(16)
print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=12), flush=True)
try:
    t = time.perf_counter(); gen(8, cache_implementation="static")  # compiles the decode step
    print(f"static cache first call (compile): {time.perf_counter()-t:.1f} s", flush=True)
    gen(8, cache_implementation="static")
    per = (gen(129, cache_implementation="static") - gen(1, cache_implementation="static")) / 128
    print(f"static cache + compile: {per*1000:.1f} ms/token = {1/per:.1f} tok/s", flush=True)
except Exception as e:
    print("static cache failed:", type(e).__name__, str(e)[:300])
