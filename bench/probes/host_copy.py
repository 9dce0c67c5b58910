"""What does copying one token id from the GPU to the host cost on this machine? (GPU only; prints.)"""
import time, torch
x = torch.randint(0, 100, (1, 1), device="cuda"); buf = torch.empty((1, 1), dtype=x.dtype).pin_memory()
def bench(label, fn, n=500):
    for _ in range(20): fn()
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(n): fn()
    torch.cuda.synchronize(); print(f"{label}: {(time.perf_counter() - t) / n * 1e6:.1f} us", flush=True)
bench("kernel only", lambda: x.add(1))
bench("kernel + .cpu()", lambda: x.add(1).cpu())
bench("kernel + .item()", lambda: x.add(1).sum().item())
bench("kernel + pinned non_blocking copy + stream sync", lambda: (buf.copy_(x.add(1), non_blocking=True), torch.cuda.current_stream().synchronize()))
bench("kernel + synchronize", lambda: (x.add(1), torch.cuda.synchronize()))
