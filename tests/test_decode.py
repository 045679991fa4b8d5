"""Decoding (reflectdiffu.engine.decode): the defining properties of each method, on the reference
toy model and on the real ReflectDiffu model (its `toy_batch`), plus bad inputs."""
import itertools, math
import pytest
import torch

from reflectdiffu.engine.decode import (ToyCopyModel, toy_copy_batch, greedy, beam_search, sample, generate, select,
                                 filter_logits, ids_to_words, decode_dataset, PAD, SOS, EOS)

torch.set_num_threads(1)
MAX_LEN = 12


def _real():
    "(model, batch) of the real ReflectDiffu (toy config, random weights) in eval mode, or skip."
    m = pytest.importorskip('reflectdiffu.systems.reflectdiffu.model', reason='reflectdiffu.systems.reflectdiffu.model not available yet')
    torch.manual_seed(0)
    batch = m.toy_batch(B=4, Lc=12, Lt=6, V=50, d_r=16, n_oov=2, seed=0)
    model = m.ReflectDiffu(m.toy_config(), 50, m.toy_refer(), d_reason=16)
    return model.eval(), batch


@pytest.fixture(params=['toy', 'real'])
def model_batch(request):
    if request.param == 'toy':
        return ToyCopyModel(), toy_copy_batch()
    return _real()


def _encode(model, batch, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad(): return model.encode(batch)


def _after_eos(out):
    e = (out == EOS).long()
    return e.cumsum(1) - e > 0


def test_greedy_is_argmax_of_teacher_forced_pass(model_batch):
    model, batch = model_batch
    state, B = _encode(model, batch), batch['ctx'].size(0)
    with torch.no_grad():
        g = greedy(model, state, B, MAX_LEN)
        ys = torch.cat([torch.full((B, 1), SOS), g], 1)
        am = torch.stack([model.decode_step(state, ys[:, :t + 1])[0].argmax(-1) for t in range(g.size(1))], 1)
    assert torch.equal(am.masked_fill(_after_eos(g), PAD), g)


def test_incremental_equals_recompute(model_batch):
    model, batch = model_batch
    state, B = _encode(model, batch), batch['ctx'].size(0)
    with torch.no_grad():
        assert torch.equal(greedy(model, state, B, MAX_LEN), greedy(model, state, B, MAX_LEN, incremental=False))
        assert torch.equal(beam_search(model, state, B, 3, MAX_LEN), beam_search(model, state, B, 3, MAX_LEN, incremental=False))
        assert torch.equal(sample(model, state, B, MAX_LEN, top_p=0.9, seed=4),
                           sample(model, state, B, MAX_LEN, top_p=0.9, seed=4, incremental=False))


def test_beam_one_and_top_k_one_equal_greedy(model_batch):
    model, batch = model_batch
    state, B = _encode(model, batch), batch['ctx'].size(0)
    with torch.no_grad():
        g = greedy(model, state, B, MAX_LEN)
        assert torch.equal(beam_search(model, state, B, 1, MAX_LEN), g)
        assert torch.equal(sample(model, state, B, MAX_LEN, top_k=1, seed=11), g)


def test_sampling_is_seeded(model_batch):
    model, batch = model_batch
    state, B = _encode(model, batch), batch['ctx'].size(0)
    with torch.no_grad():
        a = sample(model, state, B, MAX_LEN, seed=1)
        assert torch.equal(a, sample(model, state, B, MAX_LEN, seed=1))
        assert any(not torch.equal(a, sample(model, state, B, MAX_LEN, seed=s)) for s in range(2, 6))


def test_teacher_forced_nll_equals_decoding_log_probs(model_batch):
    "The training pass (model(batch)) and the decoding steps give the gold response the same NLL."
    model, batch = model_batch
    state = _encode(model, batch)
    with torch.no_grad():
        torch.manual_seed(0)
        out = model(batch)
        tgt_in, tgt = batch['tgt_in'], batch['tgt_ext']
        nll = torch.stack([-model.decode_step(state, tgt_in[:, :t + 1])[0].gather(1, tgt[:, t:t + 1]).squeeze(1)
                           for t in range(tgt.size(1))], 1) * (tgt != PAD)
    per = nll.sum(1) / (tgt != PAD).sum(1)
    assert torch.allclose(per, out['nll_per_example'].float(), atol=1e-4), (per, out['nll_per_example'])
    for k in ('intent_first', 'intent_twice', 'intent_final'):
        if k in state: assert torch.equal(state[k], out[k]), k


def _seq_score(model, state, hyp, lp):
    "Length-normalised log-probability of one hypothesis (list of ids, EOS included if finished)."
    ys = torch.tensor([[SOS] + hyp])
    tot = sum(model.decode_step(state, ys[:, :t + 1])[0][0, hyp[t]].item() for t in range(len(hyp)))
    return tot / len(hyp) ** lp


def test_beam_finds_the_best_sequence_by_exhaustive_search():
    "With a beam as wide as the vocabulary, beam search is exact on a 3-word horizon."
    V, L = 8, 3
    model = ToyCopyModel(vocab_size=V, d=8, seed=2)
    batch = toy_copy_batch(B=1, Lc=5, V=V, n_oov=1, seed=1)
    state = _encode(model, batch)
    Vx = V + 1
    for lp in (0.0, 1.0):
        best, best_s = None, -math.inf
        cands = [list(p) + [EOS] for n in range(L) for p in itertools.product(range(Vx), repeat=n) if EOS not in p]
        cands += [list(p) for p in itertools.product(range(Vx), repeat=L) if EOS not in p]
        with torch.no_grad():
            for h in cands:
                s = _seq_score(model, state, h, lp)
                if s > best_s: best, best_s = h, s
            got = beam_search(model, state, 1, beam_size=Vx * 2, max_len=L, length_penalty=lp)[0].tolist()
        got = got[:got.index(EOS) + 1] if EOS in got else [x for x in got if x != PAD]
        assert abs(_seq_score(model, state, got, lp) - best_s) < 1e-5, (lp, got, best)


def test_select_reorders_batch_major_tensors_only():
    obj = dict(a=torch.arange(4).view(2, 2), n=3, l=[(torch.tensor([5, 6]), torch.zeros(3))])
    out = select(obj, torch.tensor([1, 1, 0]), 2)
    assert out['a'].tolist() == [[2, 3], [2, 3], [0, 1]] and out['n'] == 3
    assert out['l'][0][0].tolist() == [6, 6, 5] and out['l'][0][1].shape == (3,)


def test_model_reorder_hook_is_used():
    class M(ToyCopyModel):
        calls = 0
        def reorder(self, obj, index):
            M.calls += 1
            return select(obj, index, obj['mask'].size(0) if isinstance(obj, dict) and 'mask' in obj else index.numel())
    m, b = M(), toy_copy_batch()
    state = _encode(m, b)
    with torch.no_grad(): beam_search(m, state, 3, 2, 5)
    assert M.calls > 1


def test_extended_ids_map_to_context_words():
    itos = ['<pad>', '<unk>', '<sos>', '<eos>', '<ctx>', 'so', 'sorry']
    assert ids_to_words(torch.tensor([5, 7, 6, EOS, 5]), itos, ['zebra']) == ['so', 'zebra', 'sorry']
    with pytest.raises(ValueError, match='id 8 is beyond the vocabulary'):
        ids_to_words([8], itos, ['zebra'])


def test_bad_arguments_are_named():
    m, b = ToyCopyModel(), toy_copy_batch()
    state = _encode(m, b)
    with pytest.raises(ValueError, match='max_len must be a positive int'): greedy(m, state, 3, 0)
    with pytest.raises(ValueError, match='beam_size must be a positive int'): beam_search(m, state, 3, 0)
    with pytest.raises(ValueError, match='temperature must be > 0'): sample(m, state, 3, temperature=0)
    with pytest.raises(ValueError, match='0 < top_p <= 1'): filter_logits(torch.zeros(1, 3), top_p=1.5)
    with pytest.raises(ValueError, match="'topk' is not one of"): generate(m, b, method='topk')


def test_contract_violation_is_reported():
    class Bad(ToyCopyModel):
        def decode_step(self, state, prev, cache=None):
            lp, c = super().decode_step(state, prev, cache)
            return lp[:1], c
    m, b = Bad(), toy_copy_batch()
    with pytest.raises(ValueError, match=r'decode_step returned log-probs of shape \(1, 42\); expected \(3, V \+ n_oov\)'):
        generate(m, b)


def test_generate_restores_training_mode():
    m, b = ToyCopyModel(), toy_copy_batch()
    m.train()
    generate(m, b, max_len=3)
    assert m.training


def _dataset():
    from reflectdiffu.data.text import Vocab, SPECIALS
    from reflectdiffu.data.batches import EDDataset
    def ex(i, ctx, tgt, emo='sad', intent='consoling'):
        return dict(id=f'c{i}#1', conv_id=f'c{i}', utt=1, split='test', emotion=emo, situation='s',
                    context=[dict(utt=0, role='speaker', text=' '.join(ctx), tokens=ctx)],
                    target=dict(utt=1, text=' '.join(tgt), tokens=tgt), intent=intent, intent_label=intent,
                    vader=dict(compound=0.0, polarity=0))
    vocab = Vocab(SPECIALS + 'i lost my dog today so sorry to hear that what happened ?'.split())
    exs = [ex(i, ('i lost my zebra today' if i % 2 else 'my dog').split(), 'so sorry to hear that'.split()[:1 + i % 5])
           for i in range(7)]
    return EDDataset(exs, vocab)


def test_decode_dataset_records_in_file_order_and_batch_size_invariant():
    ds = _dataset()
    m = ToyCopyModel(len(ds.vocab), seed=1)
    r1, s1 = decode_dataset(m, ds, batch_size=2, decode_kw=dict(max_len=6), progress=False)
    r7, _ = decode_dataset(m, ds, batch_size=7, decode_kw=dict(max_len=6), progress=False)
    assert [r['id'] for r in r1] == [f'c{i}#1' for i in range(7)]
    assert [r['hyp_tokens'] for r in r1] == [r['hyp_tokens'] for r in r7]
    for a, b in zip(r1, r7): assert abs(a['nll_sum'] - b['nll_sum']) < 1e-4
    assert s1['n_responses'] == 7 and s1['batches'] == 4 and s1['responses_per_s'] > 0
    assert any('zebra' in r['hyp_tokens'] for r in r1 + r7) or all(r['hyp_tokens'] is not None for r in r1)


def test_decode_dataset_empty_is_an_error():
    ds = _dataset()
    ds.items, ds.records = [], []
    with pytest.raises(ValueError, match='the dataset is empty'):
        decode_dataset(ToyCopyModel(len(ds.vocab)), ds, progress=False)
