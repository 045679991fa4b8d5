"""Forward+backward time per training step of ReflectDiffu at the paper's sizes (not a test; run by hand).
Usage: .venv/bin/python tests/bench_model.py [--threads 1 2] [--reps 3] [key=value model overrides]"""
import argparse, time, yaml, torch
from reflectdiffu.model import ReflectDiffu, toy_batch, toy_refer

ap = argparse.ArgumentParser()
ap.add_argument('--threads', type=int, nargs='+', default=[1, 2])
ap.add_argument('--reps', type=int, default=3)
ap.add_argument('--B', type=int, default=32); ap.add_argument('--Lc', type=int, default=100)
ap.add_argument('--Lt', type=int, default=30); ap.add_argument('--V', type=int, default=20000)
ap.add_argument('--full', action='store_true', help='every row at the full lengths (no padding)')
ap.add_argument('over', nargs='*', help='model overrides key=value (YAML values)')
a = ap.parse_args()
cfg = yaml.safe_load(open('params.yaml'))['model']
for o in a.over: k, v = o.split('=', 1); cfg[k] = yaml.safe_load(v)
torch.manual_seed(0)
m = ReflectDiffu(cfg, a.V, toy_refer(), d_reason=384 if cfg['use_era'] else None)
b = toy_batch(B=a.B, Lc=a.Lc, Lt=a.Lt, V=a.V, d_r=384, full=a.full)
print(f"params {sum(p.numel() for p in m.parameters())/1e6:.2f}M; B={a.B} Lc={a.Lc} Lt={a.Lt} V={a.V} full={a.full}: {int(b['ctx_mask'].sum())} context and {int((b['tgt_ext'] != 0).sum())} target tokens; overrides {a.over}")
for th in a.threads:
    torch.set_num_threads(th)
    for bf16 in (False, True):
        ts = []
        for i in range(a.reps + 1):
            t0 = time.perf_counter()
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16): out = m(b)
            out['loss'].backward(); m.zero_grad(set_to_none=True)
            ts.append(time.perf_counter() - t0)
        ts = sorted(ts[1:])
        print(f"threads={th} {'bf16' if bf16 else 'fp32'}: median {ts[len(ts)//2]:.3f} s/step (min {ts[0]:.3f}), loss {out['loss'].item():.3f}", flush=True)
