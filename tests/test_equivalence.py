"The fast training step computes what the reference step computes: the same loss trajectory from the same seed on the sample data."
import subprocess, sys
from pathlib import Path
import torch
from conftest import ROOT


def _data(P):
    from reflectdiffu.bench.measure import bench_data
    if not (ROOT/'out'/'sample'/'prepare'/'vocab.json').exists():     # dvc repro makes it; a bare checkout makes it here
        subprocess.run([str(Path(sys.executable).parent/'rd-prepare'), '--profile', 'sample'], cwd=ROOT, check=True)
    return bench_data(P, ('train',), ROOT)


def test_fast_trainer_follows_the_reference_trajectory():
    from reflectdiffu.systems.registry import load_run
    from reflectdiffu.bench.runs import loss_trajectories, trajectory_diffs
    n = torch.get_num_threads(); torch.set_num_threads(1)
    try:
        P = load_run(ROOT/'params.yaml', 'sample', 'full')
        tr = loss_trajectories(P, _data(P), 40, configs=('default', 'reference', 'twin'), emb_init='random')
    finally: torch.set_num_threads(n)
    new = trajectory_diffs(tr['default'], tr['reference'])      # fast paths, fused Adam, math attention vs the reference, both bf16
    prec = trajectory_diffs(tr['reference'], tr['twin'])        # what bf16 alone changes (the yardstick)
    assert new['max_first'] < 1e-2 * max(tr['reference'][:10]), new     # the first steps agree within bf16 rounding
    assert new['mean_all'] <= 1.5 * prec['mean_all'] + 1e-3, (new, prec)  # later drift no larger than precision's own
    assert tr['default'][-1] < tr['default'][0]
