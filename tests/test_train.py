"""Tests of reflectdiffu.engine.train: exact resume (exception and SIGKILL), atomic and validated checkpoints,
fingerprints, early stopping, logs and summary. A small stand-in honouring the Model API keeps them fast."""
import json, math, os, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch
from torch import nn

from reflectdiffu.engine import train as T

V, D = 60, 16


class StandIn(nn.Module):
    "Model API stand-in: dropout and a sampled action (like the policy) consume the torch RNG."
    def __init__(self, V=V, d=D):
        super().__init__()
        self.emb, self.drop = nn.Embedding(V, d), nn.Dropout(0.1)
        self.emo, self.intent, self.out = nn.Linear(d, 32), nn.Linear(d, 9), nn.Linear(d, V)

    def forward(self, b):
        h = self.drop(self.emb(b['ctx'])).mean(1)
        emo, it = self.emo(h), self.intent(h)
        s = torch.multinomial(it.softmax(-1).float(), 1).squeeze(1) if self.training else it.argmax(-1)
        y = self.out(self.drop(self.emb(b['tgt_in'])) + h[:, None])
        tok = nn.functional.cross_entropy(y.transpose(1, 2).float(), b['tgt'], reduction='none', ignore_index=0)
        nt = (b['tgt'] != 0).sum(1)
        terms = dict(L_em=nn.functional.cross_entropy(emo.float(), b['emotion']),
                     L_intent=nn.functional.cross_entropy(it.float(), b['intent']) * (1 + 0.01 * s.float().mean()),
                     L_res=tok.sum() / nt.sum())
        return dict(loss=sum(terms.values()), terms=terms, emo_logits=emo, intent_first=s, intent_twice=s,
                    intent_final=it.argmax(-1), nll_sum=tok.sum(), n_tokens=nt.sum(), nll_per_example=tok.sum(1) / nt)


def data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        lc, lt = int(torch.randint(3, 12, (1,), generator=g)), int(torch.randint(2, 8, (1,), generator=g))
        e = int(torch.randint(0, 32, (1,), generator=g))
        out.append(dict(ctx=torch.randint(4, V, (lc,), generator=g).tolist(),
                        tgt=[(e + k) % (V - 4) + 4 for k in range(lt)], emotion=e, intent=e % 9))
    return out


def collate(exs):
    pad = lambda seqs: nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True)
    return dict(ctx=pad([e['ctx'] for e in exs]), tgt_in=pad([[2] + e['tgt'] for e in exs]),
                tgt=pad([e['tgt'] + [3] for e in exs]), emotion=torch.tensor([e['emotion'] for e in exs]),
                intent=torch.tensor([e['intent'] for e in exs]))


class DS(list):
    "A list with its own collate (as EDDataset has)."
    def collate(self, items): return collate(items)


TRAIN, VALID = DS(data(100)), DS(data(30, seed=1))


def cfg(**kw):
    c = dict(batch_size=8, max_steps=30, warmup=10, noam_factor=1.0, adam_beta1=0.9, adam_beta2=0.98, adam_eps=1e-9,
             clip_norm=2.0, valid_every=10, patience=0, ckpt_every=4, eval_batch_size=16, valid_max_examples=0,
             bf16=False, num_threads=1, device='cpu', fused_adam=False, flush_denormal=False, sdpa_backend='auto',
             keep_freed_memory=False)
    c.update(kw)
    return c


def run(d, on_step=None, resume=True, model_d=D, bucket=True, code=None, **kw):
    torch.manual_seed(99)
    m = StandIn(d=model_d)
    lens = [len(e['ctx']) for e in TRAIN]
    s = T.fit(m, TRAIN, VALID, collate if bucket else None, cfg(**kw), Path(d) / 'out', Path(d) / 'rep', d_model=model_d, seed=5,
              fingerprint_parts=dict(model=dict(d=model_d), vocab_size=V),
              train_lengths=lens if bucket else None, bucket_size=2 if bucket else 0,
              valid_lengths=[len(e['ctx']) for e in VALID], resume=resume, on_step=on_step, progress=False, code=code)
    return m, s


def fail_at(k):
    def f(step):
        if step == k: raise RuntimeError(f'injected failure at step {k}')
    return f


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa: assert torch.equal(sa[k], sb[k]), f'{k} differs'


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp('ref')
    m, s = run(d)
    return d, m, s


# 100 examples / batch 8 = 13 batches per epoch: k=14 crosses an epoch boundary, k=12 is right after a checkpoint
@pytest.mark.parametrize('k', [3, 12, 14, 29])
def test_resume_after_exception_is_bitwise_identical(tmp_path, reference, k):
    rd, m0, s0 = reference
    with pytest.raises(RuntimeError, match='injected failure'): run(tmp_path, on_step=fail_at(k))
    m1, s1 = run(tmp_path)
    assert s1['resumed_from'] == ([k // 4 * 4] if k >= 4 else [])   # checkpoints every 4 steps
    assert_same_weights(m0, m1)
    for f in ('log.tsv', 'valid.tsv'):
        assert (tmp_path / 'rep' / f).read_text() == (rd / 'rep' / f).read_text(), f
    a = torch.load(tmp_path / 'out' / 'latest.pt', weights_only=True)
    b = torch.load(rd / 'out' / 'latest.pt', weights_only=True)
    for i, st in a['optimizer']['state'].items():
        for key in ('exp_avg', 'exp_avg_sq'): assert torch.equal(st[key], b['optimizer']['state'][i][key])
    assert a['state']['best_step'] == b['state']['best_step'] and a['state']['best_ppl'] == b['state']['best_ppl']
    assert s1['best_valid_ppl'] == s0['best_valid_ppl']
    assert s1['best_valid_acc_emo'] == s0['best_valid_acc_emo'] is not None


def test_twice_interrupted(tmp_path, reference):
    _, m0, _ = reference
    for k in (6, 17):
        with pytest.raises(RuntimeError): run(tmp_path, on_step=fail_at(k))
    m1, s1 = run(tmp_path)
    assert s1['resumed_from'] == [4, 16]
    assert_same_weights(m0, m1)


_CHILD = r'''
import sys, time, torch
sys.path.insert(0, {tests!r})
import test_train as t
def slow(step):
    time.sleep(0.15)
t.run({d!r}, on_step=slow)
'''


def test_resume_after_sigkill(tmp_path, reference):
    "A subprocess killed with SIGKILL in the middle of training (possibly mid-write) resumes to the same weights."
    _, m0, _ = reference
    env = dict(os.environ, OMP_NUM_THREADS='1')
    p = subprocess.Popen([sys.executable, '-c', _CHILD.format(tests=str(Path(__file__).parent), d=str(tmp_path))], env=env)
    log = tmp_path / 'rep' / 'log.tsv'
    t0 = time.time()
    while time.time() - t0 < 120:
        if log.exists() and len(log.read_text().splitlines()) > 11: break   # > 10 steps done
        if p.poll() is not None: pytest.fail(f'child exited early with {p.returncode}')
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    ck = T.load_checkpoint(tmp_path / 'out' / 'latest.pt')
    assert not ck['state']['done'] and ck['state']['step'] >= 8
    m1, s1 = run(tmp_path)
    assert s1['resumed_from'] == [ck['state']['step']]
    assert_same_weights(m0, m1)


def test_validation_frequency_does_not_change_weights(tmp_path, reference):
    _, m0, _ = reference
    m1, _ = run(tmp_path, valid_every=3)
    assert_same_weights(m0, m1)


def test_outputs_and_summary(reference):
    d, m, s = reference
    for k in ('steps', 'best_step', 'best_valid_ppl', 'wall_time_s', 's_per_step', 'examples_per_s', 'stopped_early'):
        assert k in s
    assert json.loads((d / 'rep' / 'summary.json').read_text())['steps'] == 30
    rows = T.TSVLog(d / 'rep' / 'log.tsv').read()
    assert [r['step'] for r in rows] == list(range(1, 31))
    assert list(rows[0]) == ['step', 'lr', 'loss', 'L_em', 'L_intent', 'L_res', 'grad_norm']
    assert rows[9]['lr'] == pytest.approx(T.noam_lr(10, D, 10))
    assert [r['step'] for r in T.TSVLog(d / 'rep' / 'valid.tsv').read()] == [10, 20, 30]
    best = torch.load(d / 'out' / 'best.pt', weights_only=True)
    assert best['step'] == s['best_step'] and best['metrics']['ppl'] == s['best_valid_ppl']
    latest = torch.load(d / 'out' / 'latest.pt', weights_only=True)
    assert set(latest['rng']) >= {'torch', 'numpy', 'python'} and latest['state']['done']
    m2 = StandIn(); T.load_weights(m2, d / 'out' / 'best.pt', latest['fingerprint'])
    assert not [f for f in os.listdir(d / 'out') if f.startswith('.')]   # no temp files left


def test_fingerprint_mismatch_is_refused(tmp_path):
    with pytest.raises(RuntimeError): run(tmp_path, on_step=fail_at(6))
    with pytest.raises(T.CheckpointError, match=r"latest.pt: checkpoint was made with different params: .*model.d: checkpoint 16, now 8"):
        run(tmp_path, model_d=8)
    with pytest.raises(T.CheckpointError, match=r"train.batch_size: checkpoint 8, now 4"):
        run(tmp_path, batch_size=4)
    m, s = run(tmp_path, model_d=8, resume=False)   # resume=False starts afresh
    assert s['resumed_from'] == [] and s['steps'] == 30
    m, s = run(tmp_path, model_d=16)                # a finished run of other params: afresh, no error
    assert s['resumed_from'] == [] and s['steps'] == 30


def test_corrupted_checkpoint_names_file(tmp_path):
    with pytest.raises(RuntimeError): run(tmp_path, on_step=fail_at(6))
    p = tmp_path / 'out' / 'latest.pt'
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(T.CheckpointError, match=f'{p}: corrupted or not a checkpoint'): run(tmp_path)
    p.write_bytes(b'')
    with pytest.raises(T.CheckpointError, match='corrupted or not a checkpoint'): run(tmp_path)
    torch.save([1, 2], p)
    with pytest.raises(T.CheckpointError, match='not a checkpoint .a list'): run(tmp_path)
    torch.save(dict(version=T.CKPT_VERSION), p)
    with pytest.raises(T.CheckpointError, match=r"not a training checkpoint \(missing \['model'"): run(tmp_path)
    torch.save(dict(version=99), p)
    with pytest.raises(T.CheckpointError, match='format version 99'): T.load_checkpoint(p)


def test_kill_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError): run(tmp_path, on_step=fail_at(5))   # latest at step 4
    p = tmp_path / 'out' / 'latest.pt'
    before = p.read_bytes()
    real = torch.save
    def broken(obj, f, *a, **k):
        f.write(b'PK\x03\x04 partial'); raise OSError('disk died mid-write')
    monkeypatch.setattr(torch, 'save', broken)
    with pytest.raises(OSError, match='mid-write'): run(tmp_path, on_step=fail_at(20))
    monkeypatch.setattr(torch, 'save', real)
    assert p.read_bytes() == before
    assert not [f for f in os.listdir(tmp_path / 'out') if f.startswith('.')]
    assert T.load_checkpoint(p)['state']['step'] == 4


def test_missing_best_is_reported(tmp_path):
    with pytest.raises(RuntimeError): run(tmp_path, on_step=fail_at(13))   # best at 10, latest at 12
    (tmp_path / 'out' / 'best.pt').unlink()
    with pytest.raises(T.CheckpointError, match=r'best.pt: missing, but .*latest.pt records a best model at step 10'):
        run(tmp_path)


def test_finished_run_restarts_or_extends(tmp_path, reference):
    _, m0, _ = reference
    run(tmp_path, max_steps=20)
    m1, s1 = run(tmp_path, max_steps=30)          # extending a finished run continues from step 20
    assert s1['resumed_from'] == [20] and s1['steps'] == 30
    assert_same_weights(m0, m1)
    m2, s2 = run(tmp_path, max_steps=30, on_step=fail_at(1))   # a run that reached max_steps is reused: nothing trains
    assert s2 == s1
    assert_same_weights(m0, m2)
    m3, s3 = run(tmp_path, max_steps=25)          # max_steps lowered below the finished step: afresh
    assert s3['resumed_from'] == [] and s3['steps'] == 25


def test_early_stopping(tmp_path):
    m, s = run(tmp_path, max_steps=500, noam_factor=30.0, patience=2, valid_every=5)
    assert s['stopped_early'] and s['steps'] < 500
    v = T.TSVLog(tmp_path / 'rep' / 'valid.tsv').read()
    assert v[-1]['ppl'] >= s['best_valid_ppl'] and v[-2]['ppl'] >= s['best_valid_ppl']
    assert s['best_step'] == min(v, key=lambda r: r['ppl'])['step']
    m2, s2 = run(tmp_path, max_steps=600, noam_factor=30.0, patience=2, valid_every=5)   # stopped early: afresh
    assert s2['resumed_from'] == []


def test_bf16_and_plain_shuffle(tmp_path):
    m, s = run(tmp_path, bf16=True, bucket=False, max_steps=8)
    assert s['bf16'] and math.isfinite(s['best_valid_ppl'])


def test_non_finite_loss(tmp_path):
    class Bad(StandIn):
        def forward(self, b):
            o = super().forward(b); o['loss'] = o['loss'] * float('nan'); return o
    with pytest.raises(FloatingPointError, match=r'step 1: non-finite loss nan \(terms: L_em='):
        T.fit(Bad(), TRAIN, VALID, collate, cfg(), tmp_path / 'o', tmp_path / 'r', d_model=D, seed=0, progress=False)


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match='training set is empty'):
        T.fit(StandIn(), [], VALID, collate, cfg(), tmp_path / 'o', tmp_path / 'r', d_model=D, seed=0)
    with pytest.raises(ValueError, match='validation set is empty'):
        T.fit(StandIn(), TRAIN, [], collate, cfg(), tmp_path / 'o', tmp_path / 'r', d_model=D, seed=0)
    with pytest.raises(ValueError, match='no trainable parameters'):
        T.make_optimizer(nn.Module(), 300, 10)
    with pytest.raises(ValueError, match='step must be >= 1'): T.noam_lr(0, 300, 10)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="'cuda' requested but CUDA is not available"):
            T.resolve_device('cuda')


# ---------- the real model on processed examples of the embedded sample, with both caches joined ----------

@pytest.fixture(scope='module')
def real_setup():
    from reflectdiffu.data.corpus import load_examples, INTENTS
    from reflectdiffu.data.text import Vocab
    from reflectdiffu.data.batches import EDDataset, utt_id
    from reflectdiffu.features.intent_refer import counts_from_examples, intent_refer_tensor
    root = Path(__file__).resolve().parents[1]
    ex = load_examples(root / 'sample')
    tr, va = ex['train'][:96], ex['valid'][:32]
    vocab = Vocab.build([t['tokens'] for e in tr for t in e['context'] + [e['target']]])
    g = torch.Generator().manual_seed(0)
    utts = {}
    for e in tr + va:
        for t in e['context']: utts[utt_id(e['conv_id'], t['utt'])] = len(t['tokens'])
    keys = sorted(utts)
    offs = torch.tensor([0] + [utts[k] for k in keys]).cumsum(0)
    era = dict(keys=keys, offsets=offs, tags=torch.randint(1, 3, (int(offs[-1]),), generator=g).to(torch.uint8),
               h=torch.randn(int(offs[-1]), 8, generator=g).half())
    pint = dict(ids=[e['id'] for e in tr + va], p=torch.softmax(torch.randn(len(tr) + len(va), 9, generator=g), -1), intents=list(INTENTS))
    trd, vad = EDDataset(tr, vocab, 60, 20, era, pint), EDDataset(va, vocab, 60, 20, era, pint)
    refer = intent_refer_tensor(counts_from_examples(ex['train']))
    return trd, vad, vocab, refer


def run_real(real_setup, d, on_step=None, **kw):
    from reflectdiffu.systems.reflectdiffu.model import ReflectDiffu, toy_config
    trd, vad, vocab, refer = real_setup
    mc = toy_config(d_model=16, t_star=5, dropout=0.1)
    T.seed_everything(3)
    m = ReflectDiffu(mc, len(vocab), refer, d_reason=8, eval_seed=3)
    s = T.fit(m, trd, vad, None, cfg(max_steps=10, batch_size=16, ckpt_every=3, valid_every=5, **kw), Path(d) / 'out', Path(d) / 'rep',
              d_model=16, seed=3, fingerprint_parts=dict(model=mc, vocab_size=len(vocab), intent_refer=refer, d_reason=8),
              train_lengths=trd.lengths(), valid_lengths=vad.lengths(), bucket_size=2, on_step=on_step, progress=False)
    return m, s


def test_real_model_resume_is_bitwise_identical(tmp_path, real_setup):
    m0, s0 = run_real(real_setup, tmp_path / 'a')
    cols = T.TSVLog(tmp_path / 'a' / 'rep' / 'log.tsv').cols
    assert {'L_em', 'L_ntx', 'L_ce', 'L_kl_pos', 'L_kl_neg', 'L_intent', 'L_pg', 'L_twice', 'L_res'} <= set(cols)
    with pytest.raises(RuntimeError, match='injected'): run_real(real_setup, tmp_path / 'b', on_step=fail_at(8))
    m1, s1 = run_real(real_setup, tmp_path / 'b')
    assert s1['resumed_from'] == [6]
    assert_same_weights(m0, m1)
    assert (tmp_path / 'a' / 'rep' / 'log.tsv').read_text() == (tmp_path / 'b' / 'rep' / 'log.tsv').read_text()
    assert s0['best_valid_ppl'] == s1['best_valid_ppl'] and math.isfinite(s0['best_valid_ppl'])
