"""The measuring code of the benchmark (reflectdiffu.bench) on toy models and made-up worker
results: FLOP counts computed by hand, the bookkeeping of the timers, the extrapolations and
verdicts, bad inputs. No assertion here depends on how fast anything runs."""
import json, math
import pytest
import torch
import torch.nn.functional as F

from reflectdiffu import bench as B
from reflectdiffu.model import ReflectDiffu, toy_batch, toy_config, toy_refer
from reflectdiffu.train import make_optimizer

torch.set_num_threads(1)


# ---------------------------------------------------------------- FLOP counting
def test_linear_flops_by_hand():
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(5, 8, requires_grad=True)
    fwd = 2 * 5 * 8 * 4                                   # one addmm
    assert B.count_flops(lambda: lin(x))['total'] == fwd
    assert B.count_flops(lambda: lin(x).sum().backward())['total'] == 3 * fwd        # + input and weight gradients
    assert B.count_flops(lambda: lin(x.detach()).sum().backward())['total'] == 2 * fwd  # no input gradient
    lin.weight.requires_grad_(False)
    assert B.count_flops(lambda: lin(x).sum().backward())['total'] == 2 * fwd        # no weight gradient


def test_batched_linear_flops():
    lin = torch.nn.Linear(6, 10, bias=False)
    x = torch.randn(3, 7, 6)                              # 21 rows
    assert B.count_flops(lambda: lin(x))['total'] == 2 * 21 * 6 * 10


def test_cpu_flash_attention_is_counted():
    from torch.nn.attention import sdpa_kernel, SDPBackend
    b, h, lq, lk, dh = 2, 3, 4, 6, 8
    q = torch.randn(b, h, lq, dh, requires_grad=True)
    k, v = torch.randn(b, h, lk, dh, requires_grad=True), torch.randn(b, h, lk, dh, requires_grad=True)
    one = 2 * b * h * lq * lk * dh                        # one batched product of the attention's size
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):       # the CPU flash kernel, absent from torch's table
        assert B.count_flops(lambda: F.scaled_dot_product_attention(q, k, v))['total'] == 2 * one
        assert B.count_flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward())['total'] == (2 + 5) * one
    with sdpa_kernel([SDPBackend.MATH]):                  # decomposed into bmm: counted by torch itself
        assert B.count_flops(lambda: F.scaled_dot_product_attention(q, k, v))['total'] == 2 * one


def test_flops_by_module_of_the_model():
    torch.manual_seed(0)
    m = ReflectDiffu(toy_config(), 50, toy_refer(), d_reason=16)
    b = toy_batch(B=4, Lc=12, Lt=6, V=50, d_r=16)
    c = B.count_flops(lambda: m(b), 'ReflectDiffu')         # forward only
    assert {'encoder', 'decoder', 'emu', B.OUTSIDE} <= set(c['by_module'])
    assert sum(c['by_module'].values()) == c['total'] and min(c['by_module'].values()) >= 0
    # the tied output projection (T, 16) @ (16, 50) is issued by decoder.vocab_logits, outside any submodule call
    assert c['by_module'][B.OUTSIDE] >= 2 * int((b['tgt_ext'] != 0).sum()) * 16 * 50


def test_by_child_counts_each_product_once():
    counts = {'Global': {'mm': 100}, 'M': {'mm': 100}, 'M.a': {'mm': 30}, 'M.a.x': {'mm': 20}, 'M.b.y': {'mm': 10},
              'M.b.z': {'mm': 5}, 'M.b.y.k': {'mm': 10}}
    assert B._by_child(counts, 'M') == {'a': 30, 'b': 15, B.OUTSIDE: 55}


def test_output_layer_flops():
    torch.manual_seed(0)
    m = ReflectDiffu(toy_config(), 50, toy_refer(), d_reason=16)   # tied output layer: (T, 16) @ (16, 50)
    o = B.time_output_layer(m, 20, bf16=False, reps=1)
    assert o['flop'] == 3 * 2 * 20 * 16 * 50
    assert all(p.grad is None for p in m.parameters())             # leaves no gradients behind


# ---------------------------------------------------------------- GEMM and medians
def test_gemm_rate_counts_and_errors():
    r = B.gemm_rate(3, 5, 7, 'bf16', reps=1)
    assert r['flop'] == 2 * 3 * 5 * 7 and r['shape'] == [3, 5, 7] and r['flop_per_s'] > 0
    assert B.gemm_peak(16, 'fp32', reps=1)['flop'] == 2 * 16 ** 3
    with pytest.raises(ValueError, match="dtype 'fp16' is not one of"): B.gemm_peak(16, 'fp16')
    with pytest.raises(ValueError, match='need positive sizes'): B.gemm_rate(0, 4, 4)


def test_median():
    assert B.median([3, 1, 2]) == 2 and B.median([4, 1, 2, 3]) == 2.5
    with pytest.raises(ValueError, match='empty'): B.median([])


# ---------------------------------------------------------------- batches
def test_padding_and_stratified_sample():
    plan = [[0, 1], [2, 3], [4, 5], [6, 7]]
    cl, tl = [3, 5, 2, 2, 9, 9, 4, 1], [2, 2, 3, 1, 5, 5, 2, 2]
    s = B.batch_sizes(plan, cl, tl)
    assert s == dict(padded=[14, 10, 28, 12], real=[12, 8, 28, 9])
    p = B.padding_stats(plan, cl, tl)
    assert p['mean_padded_tokens'] == 16 and math.isclose(p['padding_fraction'], 1 - 57 / 64)
    assert B.stratified_batches(plan, cl, tl, 1) == [0]          # the median-sized batch (sorted: 10, 12, 14, 28)
    assert B.stratified_batches(plan, cl, tl, 2) == [3, 2]
    with pytest.raises(ValueError, match='need 1 <= n <= 4'): B.stratified_batches(plan, cl, tl, 0)


def test_synthetic_caches_join():
    from reflectdiffu.batches import EDDataset
    from reflectdiffu.text import Vocab
    recs = [dict(id=f'c#{u}', conv_id='c', utt=u, emotion='afraid', intent='questioning', vader=dict(polarity=0),
                 context=[dict(utt=j, role='speaker' if j % 2 == 0 else 'listener', tokens=['w'] * (j + 2)) for j in range(u)],
                 target=dict(utt=u, tokens=['ok'])) for u in (1, 3)]
    era, pint = B.synthetic_era_cache(recs, 8, seed=1), B.synthetic_p_intent(recs, seed=1)
    assert era['keys'] == ['c#0', 'c#1', 'c#2'] and era['offsets'].tolist() == [0, 2, 5, 9]
    assert era['h'].dtype == torch.float16 and set(era['tags'].tolist()) <= {1, 2}
    ds = EDDataset(recs, Vocab.build([['w', 'ok']]), era_cache=era, p_intent=pint)
    b = ds.collate([ds[0], ds[1]])
    assert b['h_tilde'].shape == (2, 10, 8) and b['p_intent'].shape == (2, 9)


# ---------------------------------------------------------------- the timers
@pytest.fixture
def toy():
    torch.manual_seed(0)
    m = ReflectDiffu(toy_config(), 50, toy_refer(), d_reason=16)
    batches = [toy_batch(B=4, Lc=12, Lt=6, V=50, d_r=16, seed=s) for s in range(3)]
    opt, sched = make_optimizer(m, 16, 100)
    return m, batches, opt, sched


def test_time_training_bookkeeping(toy):
    m, batches, opt, sched = toy
    reg = B.wrap_model(m, B.Regions())
    r = B.time_training(m, opt, sched, lambda j: batches[j], n_batches=3, rounds=2, warmup=2, regions=reg)
    assert [len(t) for t in r['all_s']] == [2, 2, 2] and len(r['warmup_s']) == 2
    assert r['per_batch_s'] == [B.median(t) for t in r['all_s']]
    assert math.isclose(r['mean_step_s'], sum(r['per_batch_s']) / 3)
    assert sched.n == 2 + 6                                       # the schedule advanced once per step
    names = {n for n, _, _ in B.MODEL_REGIONS}
    assert names <= set(reg.n) and all(reg.n[n] == 6 for n in ('fwd.encoder', 'fwd.emu.chain', 'fwd.decoder.nll'))
    assert {'collate', 'forward', 'backward', 'optimizer'} <= set(r['phases_s'])
    assert r['phases_s']['fwd.decoder.out_proj'] <= r['phases_s']['fwd.decoder.nll'] <= r['phases_s']['forward']
    with pytest.raises(ValueError, match='need n_batches >= 1'): B.time_training(m, opt, sched, lambda j: batches[j], 3, rounds=0)


def test_wrapped_model_computes_the_same(toy):
    m, batches, _, _ = toy
    m.eval()
    torch.manual_seed(1); before = m(batches[0])['loss'].item()
    B.wrap_model(m, B.Regions())
    torch.manual_seed(1); assert m(batches[0])['loss'].item() == before


def test_top_ops(toy):
    m, batches, opt, sched = toy
    ops = B.top_ops(lambda: B.train_step(m, opt, sched, batches[0]), steps=1, k=4)
    assert len(ops) == 4 and all(0 <= o['share'] <= 1 for o in ops)
    assert ops[0]['self_ms_per_step'] >= ops[-1]['self_ms_per_step']


def test_time_generation_incremental_and_recompute_agree(toy):
    m, _, _, _ = toy

    class DS:
        items = [dict(ctx=[0] * (5 + i), i=i) for i in range(5)]
        def __len__(self): return len(self.items)
        def __getitem__(self, i): return self.items[i]
        def collate(self, items): return toy_batch(B=len(items), Lc=12, Lt=6, V=50, d_r=16, seed=items[0]['i'])
    a = B.time_generation(m, DS(), 5, batch_size=2, max_len=6, incremental=True)
    b = B.time_generation(m, DS(), 5, batch_size=2, max_len=6, incremental=False)
    assert (a['n_responses'], a['batches']) == (5, 3)
    assert a['mean_generated_len'] == b['mean_generated_len'] and a['mean_generated_len'] <= 6
    with pytest.raises(ValueError, match='no examples'): B.time_generation(m, DS(), 0)


# ---------------------------------------------------------------- summary and verdicts
def _train(config, threads, per_batch, flops=None, local=None):
    r = dict(spec=dict(kind='train', config=config, threads=threads), config=B.TRAIN_CONFIGS[config], threads=threads,
             profile='sample', vocab_size=100, n_params=1000, batch_size=32, sources={}, batches=[[0], [1]],
             padded_tokens=[100, 300], real_tokens=[80, 200], target_tokens=[20, 30],
             epoch=dict(batches=10, mean_padded_tokens=150.0, mean_real_tokens=115.0, padding_fraction=0.2),
             timing=dict(per_batch_s=per_batch, mean_step_s=sum(per_batch) / 2, warmup_s=[1.0], final_loss=1.0,
                         phases_s={'forward': 0.2, 'backward': 0.25}),
             output_layer=dict(n_tokens=25, seconds=0.1, flop=10 ** 9, flop_per_s=10 ** 10),
             validation=dict(batches_per_pass=10, sampled=1, mean_batch_s=0.5, pass_s=5.0, valid_every=2000, ckpt_every=500),
             checkpoint_s=0.2, maxrss_gib=1.5)
    if flops: r['flops'] = flops
    if local: r['gemm_local'] = {dt: dict(flop_per_s=v) for dt, v in local.items()}
    return r


def _results():
    gemm = [dict(spec=dict(kind='gemm', threads=t), threads=t, peak=dict(fp32=dict(flop_per_s=4e9, shape=[8, 8, 8]), bf16=dict(flop_per_s=1e10, shape=[8, 8, 8])))
            for t in (1, 2)]
    train = [_train('fp32', 1, [1.0, 2.0], flops=[3e9, 5e9]), _train('bf16', 1, [0.5, 0.7]),
             _train('fp32', 2, [1.2, 1.3]), _train('bf16', 2, [0.4, 0.6], local=dict(bf16=1.6e10, fp32=1e9))]
    gen = [dict(spec=dict(kind='gen', config=c, threads=2), threads=2, incremental=c == 'incremental', bf16=False, n_responses=64,
                seconds=64 / rps, responses_per_s=rps, mean_generated_len=30.0, max_len=30, trained=False, maxrss_gib=0.9)
           for c, rps in (('incremental', 40.0), ('recompute', 20.0))]
    bad = dict(spec=dict(kind='train', config='bf16_ftz', threads=1), error='exit 1: boom')
    return dict(gemm=gemm, train=train + [bad], gen=gen)


def test_summarize_by_hand():
    info = dict(B.machine_info(), load_average=[0.1, 0.2, 0.3])
    S = B.summarize(_results(), info, info, dict(quick=True))
    assert S['fastest'] == dict(config='bf16', threads=2, timing='isolated')   # 0.5 s/step
    T = S['targets']
    assert T['speedup_vs_fp32_twin']['value'] == pytest.approx(1.25 / 0.5)   # the fp32 twin at the same 2 threads
    assert T['speedup_vs_fp32_twin']['verdict'] == 'PASS'
    assert T['train_16k_steps_hours']['value'] == pytest.approx(16000 * 0.5 / 3600) and T['train_16k_steps_hours']['verdict'] == 'MISS'
    assert T['train_16k_with_validation_hours']['value'] == pytest.approx((16000 * 0.5 + 8 * 5.0 + 32 * 0.2) / 3600)
    fast = next(t for t in S['train'] if t['config'] == 'bf16' and t['threads'] == 2)
    assert fast['examples_per_s'] == pytest.approx(64 / 1.0) and fast['real_tokens_per_s'] == pytest.approx(280 / 1.0)
    assert fast['flop_per_s'] == pytest.approx(8e9)                   # FLOPs of the same batches, counted once
    assert fast['peak_flop_per_s'] == dict(fp32=4e9, bf16=1.6e10)     # the best measurement of each precision
    assert T['fraction_of_gemm_peak']['value'] == pytest.approx(0.5) and T['fraction_of_gemm_peak']['verdict'] == 'PASS'
    assert T['generation_test_split_s']['value'] == pytest.approx(5232 / 40) and T['generation_test_split_s']['verdict'] == 'PASS'
    assert S['ratios']['incremental_vs_recompute'] == pytest.approx(2.0)
    assert S['errors'] == [dict(kind='train', config='bf16_ftz', threads=1, error='exit 1: boom')]
    md = B.to_markdown(S)
    assert '| speed-up vs the eager fp32 twin (x) | 2.50 | 2.5 | 1.00 | **PASS** |' in md
    assert 'Fastest configuration: `bf16` at 2 thread(s).' in md and 'boom' in md
    json.dumps(S)                                                     # the report is JSON-able


def test_summarize_prefers_the_interleaved_comparison():
    res = _results()
    t = lambda per: dict(per_batch_s=per, mean_step_s=sum(per) / 2, warmup_s=[1.0], final_loss=1.0, phases_s={'forward': 0.1})
    comp = {k: v for k, v in _train('fp32', 1, [1.0, 1.0]).items() if k not in ('timing', 'spec', 'config', 'flops')}
    comp.update(spec=dict(kind='compare', threads=2), threads=2, flops=[4e9, 4e9], flops_by_module={'decoder': 1e9},
                gemm_local={'2': dict(bf16=dict(flop_per_s=2e10), fp32=dict(flop_per_s=1e9))},
                timings=[dict(config='fp32', threads=1, timing=t([2.0, 2.0])), dict(config='bf16', threads=1, timing=t([0.5, 0.5])),
                         dict(config='fp32', threads=2, timing=t([1.5, 1.5])), dict(config='bf16', threads=2, timing=t([0.75, 0.75]))])
    res['compare'] = [comp]
    info = dict(B.machine_info(), load_average=[0.1, 0.2, 0.3])
    S = B.summarize(res, info, info, {})
    assert S['fastest'] == dict(config='bf16', threads=1, timing='interleaved')   # not the isolated 0.5 s/step at 2 threads
    assert S['targets']['speedup_vs_fp32_twin']['value'] == pytest.approx(2.0 / 0.5)
    fast = next(m for m in S['train'] if m['config'] == 'bf16' and m['threads'] == 1)
    assert fast['isolated_step_s'] == pytest.approx(0.6) and fast['maxrss_gib'] == 1.5    # from its own worker
    assert fast['flop_per_s'] == pytest.approx(8e9 / 1.0)                                # the comparison's FLOP count
    assert S['peaks']['2']['bf16']['flop_per_s'] == 2e10                                  # its GEMM measurement counts too
    assert S['attribution']['phases'] == {'forward': dict(s=0.1, share=0.2)}
    assert S['attribution']['flops_by_module'] == {'decoder': 1e9}
    B.to_markdown(S)


def test_verdict():
    assert B.verdict(1.2, 1.5, False) == dict(value=1.2, target=1.5, ratio=pytest.approx(0.8), verdict='PASS')
    assert B.verdict(0.2, 0.5, True)['verdict'] == 'MISS'
    assert B.verdict(None, 0.5, True)['verdict'] == 'n/a'


# ---------------------------------------------------------------- command line and workers
def test_parse_args():
    a = B.parse_args(['--quick'])
    assert (a.n_batches, a.rounds, a.warmup, a.gen_examples) == (3, 1, 3, 64)
    a = B.parse_args(['--n-batches', '4'])
    assert (a.n_batches, a.rounds) == (4, B.FULL['rounds'])
    with pytest.raises(ValueError, match=r"unknown configuration\(s\) \['fp64'\]"): B.parse_args(['--configs', 'fp64'])
    with pytest.raises(ValueError, match='--threads must be >= 1'): B.parse_args(['--threads', '0'])
    with pytest.raises(SystemExit, match="rd-bench: unknown configuration"): B.main(['--gen-configs', 'beam'])


def test_worker_specs():
    with pytest.raises(ValueError, match="kind must be train, compare, gen or gemm"): B.run_worker(dict(kind='eval', threads=1))
    with pytest.raises(ValueError, match=r"compare worker: configurations \['bf16_compile'\] are unknown or compiled"):
        B.run_worker(dict(kind='compare', configs=['fp32', 'bf16_compile'], threads_list=[1], threads=1))
    with pytest.raises(ValueError, match="threads_list must be thread counts >= 1"):
        B.run_worker(dict(kind='compare', configs=['fp32'], threads_list=[], threads=1))
    with pytest.raises(ValueError, match="unknown training configuration 'fp64'"): B.run_worker(dict(kind='train', config='fp64', threads=1))
    with pytest.raises(ValueError, match="threads must be >= 1"): B.run_worker(dict(kind='gemm', threads=0))


def test_subprocess_worker(tmp_path):
    r = B.run_subprocess(dict(kind='gemm', threads=1, n=32, reps=1, root='.'), timeout=120)
    assert 'error' not in r, r.get('error')
    assert r['peak']['fp32']['flop'] == 2 * 32 ** 3 and r['threads'] == 1 and r['maxrss_gib'] > 0
    bad = B.run_subprocess(dict(kind='train', config='fp64', threads=1, root='.'), timeout=120)
    assert "unknown training configuration 'fp64'" in bad['error']
