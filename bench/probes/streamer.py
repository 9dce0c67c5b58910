"""Why is a streamed transformers decode slower than a plain generate? Variations on one model.

    python bench/probes/streamer.py CONFIG_DIR [NEW_TOKENS]   # random weights of CONFIG_DIR's architecture

Loads through MedAssist's TransformersLLM, then times `generate` with bench/llm.py's per-token
clock streamer, without it, with other generation settings and CPU thread counts. A probe: prints only.
"""
import sys, time, torch, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.llm import random_weights, DECODE_PROMPT
from assistant.llm.transformers_backend import TransformersLLM
from transformers import GenerationConfig
from transformers.generation.streamers import BaseStreamer
sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
ARCH = sys.argv[1]
tmp = Path(tempfile.mkdtemp())
random_weights(Path(ARCH), tmp)
llm = TransformersLLM(tmp, name="q")
print("hooks:", any(hasattr(m, "_hf_hook") for m in llm.model.modules()), "attn:", llm.model.config._attn_implementation, "gen cfg:", llm.model.generation_config.to_diff_dict(), flush=True)
ids = llm.tokenizer(llm._prompt(DECODE_PROMPT), return_tensors="pt", add_special_tokens=False).to(llm.model.device)
class Clock(BaseStreamer):
    def put(self, v): v.cpu()
    def end(self): pass
def run(label, n=int(sys.argv[2]) if len(sys.argv) > 2 else 129, **kw):
    def once(n):
        sync(); t = time.perf_counter()
        with torch.inference_mode():
            llm.model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, temperature=None, top_p=None, top_k=None, pad_token_id=0, **kw)
        sync(); return time.perf_counter() - t
    once(4); per = (once(n) - once(1)) / (n - 1)
    print(f"{label}: {per*1000:.1f} ms/token = {1/per:.1f} tok/s", flush=True)
run("bench-like (streamer, repo generation config)", streamer=Clock())
run("no streamer")
run("no repetition penalty", repetition_penalty=1.0)
run("default GenerationConfig", generation_config=GenerationConfig(), streamer=Clock())
torch.set_num_threads(1); run("1 CPU thread, no streamer")
torch.set_num_threads(1); run("1 CPU thread, no repetition penalty", repetition_penalty=1.0)
from transformers import AutoModelForCausalLM
with torch.device(llm.model.device):
    llm.model = AutoModelForCausalLM.from_config(llm.model.config, dtype=llm.model.dtype).eval()
torch.set_num_threads(16); run("model built in memory with from_config, no streamer")
