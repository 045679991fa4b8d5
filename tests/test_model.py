"""ReflectDiffu model (reflectdiffu.systems.reflectdiffu.model and the component modules of nbs/20-26): shapes on the batch
contract, ablations, incremental decoding, an overfit run, bad input, and the params.yaml `model` section."""
from pathlib import Path
import pytest
import torch
from reflectdiffu.systems.reflectdiffu.model import ReflectDiffu, toy_batch, toy_config, toy_refer, MODEL_KEYS
from reflectdiffu.systems.reflectdiffu.experts import N_EMOTIONS
from reflectdiffu.systems.reflectdiffu.exploring import N_INTENTS
from reflectdiffu.engine.encoder import load_glove, embedding_init
from reflectdiffu.core.params import load_params
from reflectdiffu.systems.registry import load_run
from reflectdiffu.data.text import PAD, SPECIALS

ROOT = Path(__file__).resolve().parents[1]
V, DR = 50, 8
FLAGS = ('use_era', 'use_experts', 'use_twice', 'use_emu')
ALL_TERMS = {'L_em', 'L_ntx', 'L_ce', 'L_kl_pos', 'L_kl_neg', 'L_intent', 'L_pg', 'L_twice', 'L_res'}
REMOVED_TERMS = {'use_era': set(), 'use_experts': {'L_ntx'}, 'use_twice': {'L_pg'}, 'use_emu': {'L_kl_pos', 'L_kl_neg'}}
REMOVED_MODULES = {'use_era': ('encoder.reason_emb',), 'use_experts': ('experts.w_pos', 'experts.w_neg'),
                   'use_twice': ('twice.',), 'use_emu': ('emu.denoiser.',)}


@pytest.fixture(autouse=True)
def _threads():
    n = torch.get_num_threads(); torch.set_num_threads(1); torch.manual_seed(0)
    yield
    torch.set_num_threads(n)


def make(**kw):
    cfg = toy_config(**kw)
    return ReflectDiffu(cfg, V, toy_refer(), d_reason=DR if cfg['use_era'] else None)


def grads(m):
    return {n: (0.0 if p.grad is None else float(p.grad.abs().sum())) for n, p in m.named_parameters()}


def test_toy_batch_follows_contract():
    b = toy_batch(B=5, Lc=11, Lt=7, V=V, d_r=DR)
    B, Lc = b['ctx'].shape
    assert (B, Lc) == (5, 11) and b['tgt'].shape == (5, 7)
    for k in ('ctx', 'ctx_ext', 'ctx_role', 'reason', 'tgt_in', 'tgt', 'tgt_ext', 'emotion', 'intent', 'polarity', 'index'):
        assert b[k].dtype == torch.long, k
    assert b['ctx_mask'].dtype == torch.bool and b['h_tilde'].shape == (5, 11, DR) and b['p_intent'].shape == (5, N_INTENTS)
    assert isinstance(b['n_oov'], int) and int(b['ctx_ext'].max()) < V + b['n_oov']
    assert set(b['polarity'].tolist()) <= {-1, 0, 1}
    assert torch.equal(b['ctx_mask'], b['ctx'] != PAD)


def test_full_model_outputs():
    m, b = make(), toy_batch(B=4, V=V, d_r=DR)
    out = m(b)
    assert out['loss'].dim() == 0 and torch.isfinite(out['loss'])
    assert set(out['terms']) == ALL_TERMS
    assert out['emo_logits'].shape == (4, N_EMOTIONS)
    for k in ('intent_first', 'intent_twice', 'intent_final'):
        assert out[k].shape == (4,) and out[k].dtype == torch.long and int(out[k].max()) < N_INTENTS
    assert out['nll_per_example'].shape == (4,) and int(out['n_tokens']) == int((b['tgt_ext'] != PAD).sum())
    torch.testing.assert_close(out['nll_sum'] / out['n_tokens'], out['terms']['L_res'].detach())


@pytest.mark.parametrize('flag', FLAGS)
def test_ablation_removes_parameters_and_terms(flag):
    full = {n for n, _ in make().named_parameters()}
    m = make(**{flag: False})
    names = {n for n, _ in m.named_parameters()}
    gone = full - names
    for prefix in REMOVED_MODULES[flag]:
        assert any(n.startswith(prefix) for n in gone), (flag, prefix)
        assert not any(n.startswith(prefix) for n in names), (flag, prefix)
    b = toy_batch(B=4, V=V, d_r=DR, seed=3)
    if flag == 'use_era': b = {k: v for k, v in b.items() if k not in ('reason', 'h_tilde')}   # not needed any more
    out = m(b)
    assert set(out['terms']) == ALL_TERMS - REMOVED_TERMS[flag]
    out['loss'].backward()
    assert all(g > 0 for n, g in grads(m).items() if n.startswith(('encoder.layers', 'decoder.layers', 'reason_att')))
    if flag == 'use_era': assert m.reason_att.att.k.in_features == m.cfg['d_model']         # Attention(H, H)
    if flag == 'use_twice': assert torch.equal(out['intent_final'], out['intent_first']) and torch.equal(out['intent_twice'], out['intent_first'])
    if flag == 'use_emu':                                                                    # Emo_pos/neg = projections
        f = m.eval()._front(b, with_loss=False)
        assert f['kl'] is None


def test_era_inputs_do_not_matter_without_era():
    m = make(use_era=False).eval()
    b = toy_batch(B=4, V=V, d_r=DR)
    b2 = dict(b, reason=torch.zeros_like(b['reason']), h_tilde=torch.randn_like(b['h_tilde']))
    torch.testing.assert_close(m(b)['nll_sum'], m(b2)['nll_sum'])
    full = make().eval()
    assert not torch.allclose(full(b)['nll_sum'], full(b2)['nll_sum'])      # the full model does read them


def test_routing_per_example():
    m = make(routing='example')
    assert m(toy_batch(B=4, V=V, d_r=DR))['emo_logits'].shape == (4, N_EMOTIONS)


@pytest.mark.parametrize('kw', [{}, {'use_twice': False}, {'dec_layers': 2, 'use_emu': False}])
def test_decode_step_matches_teacher_forcing(kw):
    m, b = make(**kw).eval(), toy_batch(B=5, Lc=12, Lt=8, V=V, d_r=DR, seed=7)
    out, st = m(b), m.encode(b)
    cache, lps = None, []
    for t in range(b['tgt_in'].shape[1]):
        lp, cache = m.decode_step(st, b['tgt_in'][:, t:t + 1], cache)
        assert lp.shape == (5, V + b['n_oov'])
        lps.append(lp)
    lps = torch.stack(lps, 1)
    keep = b['tgt_ext'] != PAD
    nll = -lps.gather(2, b['tgt_ext'][..., None]).squeeze(-1) * keep
    torch.testing.assert_close(nll.sum(1) / keep.sum(1), out['nll_per_example'], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(lps.exp().sum(-1), torch.ones(5, lps.shape[1]), atol=1e-4, rtol=1e-4)
    for k in ('intent_first', 'intent_twice', 'intent_final'): assert torch.equal(st[k], out[k])


def test_bf16_autocast_matches_fp32():
    m, b = make().eval(), toy_batch(B=6, V=V, d_r=DR)
    b['emotion'] = torch.tensor([0, 0, 1, 1, 2, 2])
    ref = m(b)['terms']
    with torch.autocast('cpu', dtype=torch.bfloat16): out = m(b)
    assert out['loss'].dtype == torch.float32
    for k in ('L_res', 'L_ntx', 'L_ce', 'L_intent'):
        torch.testing.assert_close(out['terms'][k], ref[k], atol=0.05, rtol=0.02)
    out['loss'].backward()


def test_overfit_eight_examples_reaches_every_component():
    torch.manual_seed(0)
    b = toy_batch(B=8, Lc=12, Lt=7, V=60, d_r=DR, seed=1)
    b['emotion'] = torch.tensor([0, 0, 5, 5, 17, 17, 30, 30])      # pairs: NT-Xent has positives
    b['polarity'] = torch.tensor([0, 0, 0, 1, 1, -1, -1, 0])       # batch majority neutral: both experts vote
    m = ReflectDiffu(toy_config(d_model=32, d_ff=64, emu_hidden=64, policy_hidden=32), 60, toy_refer(), d_reason=DR)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    seen = {n: 0.0 for n, _ in m.named_parameters()}
    assert float(m(b)['terms']['L_ntx'].detach()) > 0
    for _ in range(250):
        m.train(); out = m(b)
        opt.zero_grad(); out['loss'].backward()
        for n, g in grads(m).items(): seen[n] += g
        opt.step()
    assert [n for n, g in seen.items() if g == 0] == []             # every component got a gradient
    for comp in ('encoder.', 'reason_att.', 'experts.w_pos', 'experts.w_neg', 'scorer.', 'emu.proj_pos', 'emu.denoiser.',
                 'fusion.', 'twice.policy.', 'decoder.layers', 'decoder.gen', 'word_emb'):
        assert any(n.startswith(comp) for n in seen), comp
    m.eval()
    with torch.no_grad(): e = m(b)
    assert float(e['terms']['L_res']) < 0.1, float(e['terms']['L_res'])
    assert torch.equal(e['emo_logits'].argmax(-1), b['emotion'])
    assert torch.equal(e['intent_final'], b['intent'])
    assert out['terms']['L_kl_pos'].item() < 0.6 and out['terms']['L_kl_neg'].item() < 0.6   # the DDPMs learn


def test_bad_input_errors():
    with pytest.raises(ValueError, match='needs d_reason'): ReflectDiffu(toy_config(), V, toy_refer())
    with pytest.raises(ValueError, match=r"missing keys \['t_star'\]"):
        ReflectDiffu({k: v for k, v in toy_config().items() if k != 't_star'}, V, toy_refer(), d_reason=DR)
    with pytest.raises(ValueError, match=r'emb_init has shape \(50, 3\), expected \(50, 16\)'):
        ReflectDiffu(toy_config(), V, toy_refer(), emb_init=torch.zeros(V, 3), d_reason=DR)
    with pytest.raises(ValueError, match='intent_refer ids must be in'): ReflectDiffu(toy_config(), V, toy_refer() + 9, d_reason=DR)
    m, b = make(), toy_batch(B=3, V=V, d_r=DR)
    with pytest.raises(ValueError, match='polarity'): m({k: v for k, v in b.items() if k != 'polarity'})
    with pytest.raises(ValueError, match='h_tilde'): m({k: v for k, v in b.items() if k != 'h_tilde'})
    with pytest.raises(ValueError, match=r'p_intent has shape \(3, 4\)'): m(dict(b, p_intent=torch.zeros(3, 4)))
    long = toy_batch(B=2, Lc=80, V=V, d_r=DR)
    with pytest.raises(ValueError, match='context length 80 exceeds reflectdiffu.max_positions=64'): m(long)
    with pytest.raises(ValueError, match="routing must be 'batch' or 'example'"): make(routing='vote')


def test_without_p_intent_and_emotion_at_eval():
    m, b = make().eval(), toy_batch(B=3, V=V, d_r=DR)
    st = m.encode({k: v for k, v in b.items() if k not in ('p_intent', 'emotion', 'intent', 'tgt', 'tgt_in', 'tgt_ext')})
    assert st['intent_final'].shape == (3,)
    with pytest.raises(ValueError, match="gold `emotion`"): make().train()({k: v for k, v in b.items() if k != 'emotion'})


def test_glove_loader_errors(tmp_path):
    f = tmp_path / 'glove.txt'
    f.write_text('hello 0.1 0.2\nworld 0.3\n')
    with pytest.raises(ValueError, match=r'glove.txt:2: expected a word followed by 2 numbers'): load_glove(f, ['hello'], 2)
    with pytest.raises(FileNotFoundError, match='missing.txt: GloVe file not found'): embedding_init(['a'], 2, glove_path=tmp_path / 'missing.txt')
    f.write_text('hello 0.1 0.2\nworld 0.3 0.4\n')
    E = embedding_init(SPECIALS + ['world', 'other'], 2, glove_path=f)
    torch.testing.assert_close(E[len(SPECIALS)], torch.tensor([0.3, 0.4]))
    assert E.shape == (len(SPECIALS) + 2, 2) and float(E[PAD].abs().sum()) == 0


def test_params_yaml_model_section_and_variants():
    P = load_run(ROOT / 'params.yaml')
    assert set(P['reflectdiffu']) == set(MODEL_KEYS)
    assert {'full', 'wo_era', 'wo_experts', 'wo_twice', 'wo_emu'} <= set(P['variants'])
    for var, flag in (('full', None), ('wo_era', 'use_era'), ('wo_experts', 'use_experts'), ('wo_twice', 'use_twice'), ('wo_emu', 'use_emu')):
        run = load_run(ROOT / 'params.yaml', run=var)
        assert run['system'] == 'reflectdiffu'
        cfg = run['reflectdiffu']
        assert all(cfg[f] == (f != flag) for f in FLAGS), var
        small = dict(cfg, d_model=16, d_ff=32, emu_hidden=16, policy_hidden=16, t_star=5)
        m = ReflectDiffu(small, V, toy_refer(), d_reason=DR if cfg['use_era'] else None)
        assert torch.isfinite(m(toy_batch(B=3, V=V, d_r=DR))['loss'])
