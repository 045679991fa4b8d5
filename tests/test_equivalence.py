"The fast training step computes what the reference step computes: the same loss trajectory from the same seed on the sample data."
import shutil
import torch
from conftest import ROOT


def _data(P, tmp):
    "The sample's train split: dvc repro's out/sample/prepare, or (a bare checkout) one prepared under `tmp`, so the test writes no tracked file."
    from reflectdiffu.bench.measure import bench_data
    from reflectdiffu.core.params import load_params
    from reflectdiffu.data.prepare import prepare
    root = ROOT
    if not (ROOT/'out'/'sample'/'prepare'/'vocab.json').exists():
        shutil.copytree(ROOT/'sample', tmp/'sample')
        prepare(load_params(ROOT/'params.yaml', profile='sample'), root=tmp)
        root = tmp
    return bench_data(P, ('train',), root)


def test_fast_trainer_follows_the_reference_trajectory(tmp_path):
    from reflectdiffu.systems.registry import load_run
    from reflectdiffu.bench.runs import loss_trajectories, trajectory_diffs
    n = torch.get_num_threads(); torch.set_num_threads(1)
    try:
        P = load_run(ROOT/'params.yaml', 'sample', 'full')
        tr = loss_trajectories(P, _data(P, tmp_path), 40, configs=('default', 'reference', 'twin'), emb_init='random')
    finally: torch.set_num_threads(n)
    new = trajectory_diffs(tr['default'], tr['reference'])      # fast paths, fused Adam, math attention vs the reference, both bf16
    prec = trajectory_diffs(tr['reference'], tr['twin'])        # what bf16 alone changes (the yardstick)
    assert new['max_first'] < 1e-2 * max(tr['reference'][:10]), new     # the first steps agree within bf16 rounding
    assert new['mean_all'] <= 1.5 * prec['mean_all'] + 1e-3, (new, prec)  # later drift no larger than precision's own
    assert tr['default'][-1] < tr['default'][0]
