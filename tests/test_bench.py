"""The benchmark (reflectdiffu.bench.measure, bench_runs, bench) on toy models, the sample profile
and made-up worker results: FLOP counts computed by hand, the bookkeeping of the timers around the
trainer's own `train_step`, configurations, the workers side by side, the extrapolations and
verdicts, bad inputs. No assertion here depends on how fast anything runs."""
import json, math, tempfile
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT
from reflectdiffu.bench import report as B
from reflectdiffu.bench import measure as M
from reflectdiffu.bench import runs as R
from reflectdiffu.systems.reflectdiffu.model import ReflectDiffu, toy_batch, toy_config, toy_refer
from reflectdiffu.engine.train import make_optimizer, noam_lr

torch.set_num_threads(1)
SAMPLE = ROOT/'out'/'sample'/'prepare'/'vocab.json'
TOY_CFG = dict(bf16=False, clip_norm=2.0, sdpa_backend='math_on_cpu', num_threads=0, flush_denormal=False,
               keep_freed_memory=False, fused_adam=False)


# ---------------------------------------------------------------- FLOP counting
def test_linear_flops_by_hand():
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(5, 8, requires_grad=True)
    fwd = 2 * 5 * 8 * 4                                   # one addmm
    assert M.count_flops(lambda: lin(x))['total'] == fwd
    assert M.count_flops(lambda: lin(x).sum().backward())['total'] == 3 * fwd        # + input and weight gradients
    assert M.count_flops(lambda: lin(x.detach()).sum().backward())['total'] == 2 * fwd  # no input gradient
    lin.weight.requires_grad_(False)
    assert M.count_flops(lambda: lin(x).sum().backward())['total'] == 2 * fwd        # no weight gradient


def test_cpu_flash_attention_is_counted():
    from torch.nn.attention import sdpa_kernel, SDPBackend
    b, h, lq, lk, dh = 2, 3, 4, 6, 8
    q = torch.randn(b, h, lq, dh, requires_grad=True)
    k, v = torch.randn(b, h, lk, dh, requires_grad=True), torch.randn(b, h, lk, dh, requires_grad=True)
    one = 2 * b * h * lq * lk * dh
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):       # the CPU flash kernel, absent from torch's table
        assert M.count_flops(lambda: F.scaled_dot_product_attention(q, k, v))['total'] == 2 * one
        assert M.count_flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward())['total'] == (2 + 5) * one
    with sdpa_kernel([SDPBackend.MATH]):                  # decomposed into bmm: counted by torch itself
        assert M.count_flops(lambda: F.scaled_dot_product_attention(q, k, v))['total'] == 2 * one


def test_flops_by_module_of_the_model():
    torch.manual_seed(0)
    m = ReflectDiffu(toy_config(), 50, toy_refer(), d_reason=16)
    b = toy_batch(B=4, Lc=12, Lt=6, V=50, d_r=16)
    c = M.count_flops(lambda: m(b), 'ReflectDiffu')         # forward only
    assert {'encoder', 'decoder', 'emu', M.OUTSIDE} <= set(c['by_module'])
    assert sum(c['by_module'].values()) == c['total'] and min(c['by_module'].values()) >= 0


def test_by_child_counts_each_product_once():
    counts = {'Global': {'mm': 100}, 'M': {'mm': 100}, 'M.a': {'mm': 30}, 'M.a.x': {'mm': 20}, 'M.b.y': {'mm': 10},
              'M.b.z': {'mm': 5}, 'M.b.y.k': {'mm': 10}}
    assert M._by_child(counts, 'M') == {'a': 30, 'b': 15, M.OUTSIDE: 55}


# ---------------------------------------------------------------- GEMM, medians, batches
def test_gemm_rate_counts_and_errors():
    r = M.gemm_rate(3, 5, 7, 'bf16', reps=1)
    assert r['flop'] == 2 * 3 * 5 * 7 and r['shape'] == [3, 5, 7] and r['flop_per_s'] > 0
    assert M.gemm_peak(16, 'fp32', reps=1)['flop'] == 2 * 16 ** 3
    with pytest.raises(ValueError, match="dtype 'fp16' is not one of"): M.gemm_peak(16, 'fp16')
    with pytest.raises(ValueError, match='need positive sizes'): M.gemm_rate(0, 4, 4)
    assert M.median([3, 1, 2]) == 2 and M.median([4, 1, 2, 3]) == 2.5
    with pytest.raises(ValueError, match='empty'): M.median([])


def test_padding_and_stratified_sample():
    plan = [[0, 1], [2, 3], [4, 5], [6, 7]]
    cl, tl = [3, 5, 2, 2, 9, 9, 4, 1], [2, 2, 3, 1, 5, 5, 2, 2]
    assert M.batch_sizes(plan, cl, tl) == dict(padded=[14, 10, 28, 12], real=[12, 8, 28, 9])
    p = M.padding_stats(plan, cl, tl)
    assert p['mean_padded_tokens'] == 16 and math.isclose(p['padding_fraction'], 1 - 57 / 64)
    assert M.stratified_batches(plan, cl, tl, 1) == [0]          # the median-sized batch (sorted: 10, 12, 14, 28)
    assert M.stratified_batches(plan, cl, tl, 2) == [3, 2]
    with pytest.raises(ValueError, match='need 1 <= n <= 4'): M.stratified_batches(plan, cl, tl, 0)


def test_synthetic_caches_join():
    from reflectdiffu.data.batches import EDDataset
    from reflectdiffu.data.text import Vocab
    recs = [dict(id=f'c#{u}', conv_id='c', utt=u, emotion='afraid', intent='questioning', vader=dict(polarity=0),
                 context=[dict(utt=j, role='speaker' if j % 2 == 0 else 'listener', tokens=['w'] * (j + 2)) for j in range(u)],
                 target=dict(utt=u, tokens=['ok'])) for u in (1, 3)]
    era, pint = M.synthetic_era_cache(recs, 8, seed=1), M.synthetic_p_intent(recs, seed=1)
    assert era['keys'] == ['c#0', 'c#1', 'c#2'] and era['offsets'].tolist() == [0, 2, 5, 9]
    ds = EDDataset(recs, Vocab.build([['w', 'ok']]), era_cache=era, p_intent=pint)
    b = ds.collate([ds[0], ds[1]])
    assert b['h_tilde'].shape == (2, 10, 8) and b['p_intent'].shape == (2, 9)


# ---------------------------------------------------------------- the timers, around the trainer's own step
@pytest.fixture
def toy():
    torch.manual_seed(0)
    m = ReflectDiffu(toy_config(), 50, toy_refer(), d_reason=16)
    batches = [toy_batch(B=4, Lc=12, Lt=6, V=50, d_r=16, seed=s) for s in range(3)]
    opt, sched = make_optimizer(m, 16, 100)
    return m, batches, opt, sched


def test_time_training_runs_the_trainers_step(toy, monkeypatch):
    m, batches, opt, sched = toy
    seen = []
    real = M.train_step
    def spy(model, o, s, batch, cfg, device, step=0):
        seen.append((cfg, step)); return real(model, o, s, batch, cfg, device, step)
    monkeypatch.setattr(M, 'train_step', spy)
    r = M.time_training(m, opt, sched, lambda j: batches[j], n_batches=3, cfg=TOY_CFG, rounds=2, warmup=2)
    assert [c for c, _ in seen] == [TOY_CFG] * 8 and [s for _, s in seen] == list(range(1, 9))
    assert [len(t) for t in r['all_s']] == [2, 2, 2] and len(r['warmup_s']) == 2 and len(r['losses']) == 6
    assert r['per_batch_s'] == [M.median(t) for t in r['all_s']]
    assert math.isclose(r['mean_step_s'], sum(r['per_batch_s']) / 3)
    assert sched.n == 8 and opt.param_groups[0]['lr'] == noam_lr(8, 16, 100)   # one schedule step per step
    assert r['cpu_s'] > 0 and r['minflt'] >= 0
    with pytest.raises(ValueError, match='need n_batches >= 1'): M.time_training(m, opt, sched, lambda j: batches[j], 3, TOY_CFG, rounds=0)


def test_wrappers_only_time_and_unwrap(toy):
    m, batches, opt, _ = toy
    m.eval()
    torch.manual_seed(1); before = m(batches[0])['loss'].item()
    reg = M.wrap_model(m, M.Regions()).wrap('forward', m, 'forward').wrap('optimizer', opt, 'step')
    torch.manual_seed(1); assert m(batches[0])['loss'].item() == before
    assert reg.n['forward'] == 1 and all(reg.n[n] == 1 for n in ('fwd.encoder', 'fwd.emu.chain', 'fwd.decoder.nll'))
    reg.unwrap()
    assert 'forward' not in vars(m) and 'forward' not in vars(m.encoder) and 'step' not in vars(opt)


def test_profile_steps(toy):
    m, batches, opt, sched = toy
    p = M.profile_steps(m, opt, sched, lambda j: batches[j], 3, TOY_CFG, steps=2, k=4)
    assert math.isclose(sum(p['phases'].values()), p['step_s'])
    assert set(p['phases']) == {'collate', 'forward', 'optimizer', 'backward, clipping, rest'}
    assert p['regions']['fwd.decoder.nll'] <= p['phases']['forward']
    assert len(p['top_ops']) == 4 and all(0 <= o['share'] <= 1 for o in p['top_ops'])
    assert p['top_ops'][0]['self_ms_per_step'] >= p['top_ops'][-1]['self_ms_per_step']
    assert sched.n == 4                                              # 2 wrapped + 2 profiled steps
    with pytest.raises(ValueError, match='steps must be >= 1'): M.profile_steps(m, opt, sched, lambda j: batches[j], 3, TOY_CFG, steps=0)


def test_time_generation_incremental_and_recompute_agree(toy):
    m, _, _, _ = toy

    class DS:
        items = [dict(ctx=[0] * (5 + i), i=i) for i in range(5)]
        def __len__(self): return len(self.items)
        def __getitem__(self, i): return self.items[i]
        def collate(self, items): return toy_batch(B=len(items), Lc=12, Lt=6, V=50, d_r=16, seed=items[0]['i'])
    a = M.time_generation(m, DS(), 5, batch_size=2, max_len=6, incremental=True)
    b = M.time_generation(m, DS(), 5, batch_size=2, max_len=6, incremental=False)
    assert (a['n_responses'], a['batches']) == (5, 3)
    assert a['mean_generated_len'] == b['mean_generated_len'] and a['mean_generated_len'] <= 6


# ---------------------------------------------------------------- configurations and equivalence
ALL_ON = dict(bf16=True, fused_adam=True, flush_denormal=True, sdpa_backend='math_on_cpu', keep_freed_memory=True, num_threads=0)


def test_configurations():
    assert R.train_config(ALL_ON, 'default') == (ALL_ON, True)
    twin, fast = R.train_config(ALL_ON, 'twin', threads=2)
    assert not fast and twin == dict(ALL_ON, bf16=False, fused_adam=False, flush_denormal=False, sdpa_backend='auto',
                                     keep_freed_memory=False, num_threads=2)
    ref, fast = R.train_config(ALL_ON, 'reference')
    assert not fast and ref == dict(twin, bf16=True, num_threads=0)
    for v in R.VARIANTS:                                  # each variant is the default minus exactly one switch
        assert len(R.config_changes(ALL_ON, v)) == 1, v
    assert R.config_changes(dict(ALL_ON, fused_adam=False), 'no_fused_adam') == {}
    with pytest.raises(ValueError, match="unknown training configuration 'fp32'"): R.train_config(ALL_ON, 'fp32')


def test_trajectory_diffs():
    d = R.trajectory_diffs([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 3.0, 2.0], first=2)
    assert d == dict(steps=4, first=2, mean_first=0.25, max_first=0.5, mean_all=0.625, max_all=2.0)
    with pytest.raises(ValueError, match='equal length'): R.trajectory_diffs([], [])


@pytest.mark.skipif(not SAMPLE.exists(), reason='the sample profile is not prepared')
def test_epoch_batches_are_fits_order():
    from reflectdiffu.systems.registry import load_run
    from reflectdiffu.data.batches import BucketSampler
    P = load_run(ROOT/'params.yaml', 'sample', 'full')
    tr = M.bench_data(P, ('train',), ROOT)['ds']['train']
    s = BucketSampler(tr.lengths(), P['train']['batch_size'], max(P['data']['bucket_size'], 1), seed=P['seed'])
    e0 = s.batches(); s.set_epoch(1); e1 = s.batches()
    assert R.epoch_batches(P, tr, len(e0) + 2) == e0 + e1[:2]
    with pytest.raises(ValueError, match='steps >= 1'): R.epoch_batches(P, tr, 0)


# ---------------------------------------------------------------- workers
def test_worker_specs_and_barrier():
    with pytest.raises(ValueError, match='kind must be one of'): R.run_worker(dict(kind='eval', threads=1))
    with pytest.raises(ValueError, match="unknown training configuration 'fp64'"): R.run_worker(dict(kind='train', config='fp64', threads=1))
    with pytest.raises(ValueError, match="unknown generation configuration 'beam'"): R.run_worker(dict(kind='gen', config='beam', threads=1))
    with pytest.raises(ValueError, match='threads must be >= 1'): R.run_worker(dict(kind='gemm', threads=0))
    with tempfile.TemporaryDirectory() as d:
        assert R.wait_for(d, 'ready', 1) < 1
        calls = []
        with pytest.raises(TimeoutError, match='waited 0.1 s for 2 processes'):
            R.wait_for(d, 'done', 2, timeout=0.1, busy=lambda: calls.append(1))
        assert calls


def test_gemm_worker_in_a_subprocess():
    r = R.run_subprocess(dict(kind='gemm', threads=1, n=32, reps=1, root=str(ROOT)), timeout=120)
    assert 'error' not in r, r.get('error')
    assert r['peak']['fp32']['flop'] == 2 * 32 ** 3 and r['threads'] == 1 and r['maxrss_gib'] > 0
    bad = R.run_subprocess(dict(kind='train', config='fp64', threads=1, root=str(ROOT)), timeout=120)
    assert "unknown training configuration 'fp64'" in bad['error']


@pytest.mark.skipif(not SAMPLE.exists(), reason='the sample profile is not prepared')
def test_training_workers_side_by_side_on_the_sample():
    "The quick path's training part for real: two default workers side by side at one thread, then the report."
    from reflectdiffu.systems.registry import load_run
    P = load_run(ROOT/'params.yaml', 'sample', 'full')
    with tempfile.TemporaryDirectory() as d:
        spec = dict(kind='train', config='default', threads=1, group='side_by_side', barrier=d, parties=2,
                    params=str(ROOT/'params.yaml'), profile='sample', root=str(ROOT), emb_init='random',
                    n_batches=1, rounds=1, warmup=1, gemm_n=32)
        a, b = R.run_together([dict(spec, profile_steps=1, eval_batches=1, count_flops=True), spec], timeout=300)
    for r in (a, b): assert 'error' not in r, r.get('error')
    assert a['train'] == dict(P['train'], num_threads=1) and a['fast_paths'] is True
    assert sorted(a['fast_path_switches']) == ['decoder.fused_nll', 'emu.fast_chain']
    assert a['runtime']['num_threads'] == 1 and a['runtime']['flush_denormal'] == P['train']['flush_denormal']
    assert a['max_steps'] == P['train']['max_steps'] and a['batch_size'] == P['train']['batch_size']
    assert a['timing']['steps'] == 2 and len(a['flops']) == 1 and a['flops'][0] > 0
    assert set(a['time_profile']['phases']) >= {'forward', 'optimizer'} and a['validation']['batches_per_pass'] >= 1
    assert b['extra_steps'] >= 0 and 'time_profile' not in b
    info = dict(M.machine_info(), load_average=[0.0, 0.0, 0.0])
    S = B.summarize(dict(train=[a, b]), info, info, {})
    assert [t['group'] for t in S['side_by_side']] == ['side_by_side'] * 2
    assert S['targets']['side_by_side_hours']['value'] == pytest.approx(
        P['train']['max_steps'] * max(a['timing']['mean_step_s'], b['timing']['mean_step_s']) / 3600)
    B.to_markdown(S)


# ---------------------------------------------------------------- summary and verdicts
def _train(config, threads, per_batch, group='alone', bf16=True, flops=None, local=None, rss=1.5, max_steps=16000):
    r = dict(spec=dict(kind='train', config=config, threads=threads, group=group), config=config, threads=threads,
             train=R.train_config(dict(ALL_ON, bf16=bf16), config)[0], profile='sample', vocab_size=100, n_params=1000,
             batch_size=32, max_steps=max_steps, sources={}, batches=[[0], [1]], padded_tokens=[100, 300], real_tokens=[80, 200],
             target_tokens=[20, 30], epoch=dict(batches=10, mean_padded_tokens=150.0, mean_real_tokens=115.0, padding_fraction=0.2),
             timing=dict(per_batch_s=per_batch, mean_step_s=sum(per_batch) / len(per_batch), warmup_s=[1.0], final_loss=1.0,
                         cpu_s=0.5, minflt=10.0),
             maxrss_gib=rss)
    if flops: r['flops'] = flops
    if local: r['gemm_local'] = {dt: dict(flop_per_s=v) for dt, v in local.items()}
    return r


def _results(max_steps=16000):
    gemm = [dict(spec=dict(kind='gemm', threads=t), threads=t, peak=dict(fp32=dict(flop_per_s=4e10 * t, shape=[8, 8, 8]),
                                                                         bf16=dict(flop_per_s=1e11 * t, shape=[8, 8, 8])))
            for t in (1, 2)]
    prof = dict(step_s=0.2, phases={'forward': 0.1, 'optimizer': 0.02, 'collate': 0.01, 'backward, clipping, rest': 0.07},
                regions={'fwd.emu.chain': 0.03}, top_ops=[dict(op='aten::bmm', self_ms_per_step=9.0, calls_per_step=3, share=0.05)])
    op = {dt: dict(shape=[25, 300, 100], flop_per_s=v) for dt, v in (('fp32', 5e10), ('bf16', 2e11))}
    train = [dict(_train('default', 1, [0.1, 0.3], local=dict(bf16=1.2e11), max_steps=max_steps), time_profile=prof, out_proj=op),
             _train('twin', 1, [0.5, 0.7], bf16=False, flops=[4e9, 1.2e10], max_steps=max_steps),
             _train('default', 2, [0.1, 0.2], max_steps=max_steps), _train('twin', 2, [0.3, 0.3], bf16=False, max_steps=max_steps),
             _train('default', 1, [0.2, 0.3], group='side_by_side', rss=4.5, max_steps=max_steps),
             _train('default', 1, [0.4, 0.3], group='side_by_side', max_steps=max_steps),
             _train('no_keep_freed_memory', 1, [0.3, 0.3], max_steps=max_steps),
             dict(spec=dict(kind='train', config='sdpa_auto', threads=1), error='exit 1: boom')]
    gen = [dict(spec=dict(kind='gen', config='incremental', threads=1), config='incremental', threads=1, incremental=True, bf16=False,
                n_responses=64, seconds=1.0, responses_per_s=64.0, mean_generated_len=12.0, max_len=30, trained=False,
                n_test=4000, maxrss_gib=0.9)]
    eq = [dict(spec=dict(kind='equivalence', steps=4), bf16=True, seconds=3.0,
               trajectories=dict(default=[1.0] * 4, reference=[1.0] * 4, twin=[1.1] * 4),
               diffs={'default vs reference': R.trajectory_diffs([1.0, 2, 3, 4], [1.0, 2, 3, 4.4]),
                      'reference vs twin': R.trajectory_diffs([1.0, 2, 3, 4], [1.0, 2, 3.1, 4])})]
    return dict(gemm=gemm, train=train, gen=gen, equivalence=eq)


def test_summarize_by_hand():
    info = dict(M.machine_info(), load_average=[0.1, 0.2, 0.3])
    S = B.summarize(_results(), info, info, dict(quick=True))
    T = S['targets']
    assert T['one_thread_hours']['value'] == pytest.approx(16000 * 0.2 / 3600) and T['one_thread_hours']['verdict'] == 'PASS'
    assert T['one_thread_hours']['target_step_s'] == pytest.approx(3600 / 16000)
    # the twin's FLOPs (16e9 over both batches) / the default's 0.4 s / the best 1-thread bf16 peak (its own 1.2e11)
    assert T['gemm_fraction']['value'] == pytest.approx(16e9 / 0.4 / 1.2e11) and T['gemm_fraction']['precision'] == 'bf16'
    assert T['side_by_side_hours']['value'] == pytest.approx(16000 * 0.35 / 3600) and T['side_by_side_hours']['verdict'] == 'MISS'
    assert T['speedup_vs_twin_1t']['value'] == pytest.approx(3.0) and T['speedup_vs_twin_1t']['verdict'] == 'PASS'
    assert T['speedup_vs_twin_2t']['value'] == pytest.approx(2.0) and T['speedup_vs_twin_2t']['verdict'] == 'MISS'
    assert T['train_peak_rss_gib']['value'] == 4.5 and T['train_peak_rss_gib']['verdict'] == 'MISS'
    assert T['generation_test_split_s']['value'] == pytest.approx(4000 / 64) and T['generation_test_split_s']['n_test'] == 4000
    assert T['equivalence']['value'] == pytest.approx(0.1) and T['equivalence']['target'] == pytest.approx(0.025)
    assert T['equivalence']['verdict'] == 'MISS'
    assert S['missed'] == sorted(['equivalence', 'generation_test_split_s', 'side_by_side_hours', 'speedup_vs_twin_2t', 'train_peak_rss_gib', 'gemm_fraction'])
    assert S['variants'] == [dict(config='no_keep_freed_memory', changes=dict(keep_freed_memory=False), step_s=0.3, cpu_s=0.5,
                                  minflt=10.0, vs_default=pytest.approx(1.5))]
    assert S['errors'] == [dict(kind='train', config='sdpa_auto', threads=1, group=None, error='exit 1: boom')]
    md = B.to_markdown(S)
    assert '| speed-up vs the eager fp32 twin, 1 thread (x) | 3.000 | 2.500 | 1.20 | **PASS** |' in md
    assert 'greedy generation of the 4,000 test responses' in md and '## Where the time goes' in md and '`aten::bmm`' in md
    assert 'boom' in md and '| no_keep_freed_memory | keep_freed_memory=False |' in md
    assert '(d, V) = [25, 300, 100], at 1 thread after the default\'s steps: fp32 50.0, bf16 200.0 GFLOP/s.' in md
    json.dumps(S)


def test_targets_follow_the_params_step_count():
    info = dict(M.machine_info(), load_average=[])
    T = B.summarize(_results(max_steps=4000), info, info, {})['targets']
    assert T['one_thread_hours']['value'] == pytest.approx(4000 * 0.2 / 3600)
    assert T['one_thread_hours']['target_step_s'] == pytest.approx(3600 / 4000)
    assert T['side_by_side_hours']['verdict'] == 'PASS'


def test_verdict():
    assert B.verdict(1.2, 1.5, False) == dict(value=1.2, target=1.5, ratio=pytest.approx(0.8), verdict='PASS')
    assert B.verdict(0.2, 0.5, True)['verdict'] == 'MISS'
    assert B.verdict(None, 0.5, True)['verdict'] == 'n/a'
    assert B.verdict(0.0, 0.0, False)['ratio'] is None


# ---------------------------------------------------------------- command line
def test_parse_args_and_plan():
    a = B.parse_args(['--quick'])
    assert (a.n_batches, a.rounds, a.warmup, a.variants, a.threads) == (2, 1, 2, [], [1, 2])
    a = B.parse_args(['--threads', '2', '--n-batches', '4'])
    assert (a.n_batches, a.rounds, a.threads, a.variants) == (4, B.FULL['rounds'], [1, 2], list(R.VARIANTS))
    with pytest.raises(ValueError, match=r"unknown configuration\(s\) \['fp64'\]"): B.parse_args(['--variants', 'fp64'])
    with pytest.raises(ValueError, match='--threads must be >= 1'): B.parse_args(['--threads', '0'])
    with pytest.raises(SystemExit, match="rd-bench: unknown configuration"): B.main(['--gen-configs', 'beam'])
    J = B.jobs(B.parse_args(['--quick', '--no-side-by-side', '--threads', '1']), dict(profile='sample'), '/tmp/x')
    assert [[(j['kind'], j.get('config'), j['threads']) for j in g] for g in J] == [
        [('gemm', None, 1)], [('train', 'default', 1)], [('train', 'twin', 1)], [('equivalence', None, 1)], [('gen', 'incremental', 1)]]
    assert J[1][0]['count_flops'] and J[2][0]['count_flops'] and J[1][0]['eval_batches'] == B.QUICK['eval_batches']
