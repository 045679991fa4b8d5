"Bad-input and integration tests of reflectdiffu.evaluation.metrics (golden cases live in nbs/30_metrics.ipynb)."
import json, math, os, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import pytest
import torch
from nltk.translate.bleu_score import corpus_bleu as nltk_corpus_bleu

from reflectdiffu.evaluation import metrics as M
from reflectdiffu.data.corpus import EMOTIONS, INTENTS
from reflectdiffu.core.params import load_params

torch.set_num_threads(1)


# ---------------------------------------------------------------- BLEU
def test_bleu_short_hypothesis_differs_from_nltk_as_documented():
    # ours: "a b c d" + "a" vs identical refs: every n-gram matches; the 1-token hypothesis has no
    # n-grams for n >= 2, so p2 = 3/3, p3 = 2/2, p4 = 1/1 and BLEU-4 = 100.
    # nltk counts max(1, 0) = 1 n-gram for it: p2 = 3/4, p3 = 2/3, p4 = 1/2 -> (1/4)^(1/4) = 70.71.
    H = [['a', 'b', 'c', 'd'], ['a']]
    ours = M.corpus_bleu(H, H)
    assert ours['bleu4'] == pytest.approx(100.0)
    nl = 100 * nltk_corpus_bleu([[h] for h in H], H, weights=(0.25,) * 4)
    assert nl == pytest.approx(100 * 0.25 ** 0.25)
    assert ours['bleu1'] == pytest.approx(100 * nltk_corpus_bleu([[h] for h in H], H, weights=(1.0,)))


def test_bleu_zero_matches_is_zero_not_nan():
    # no unigram in common: all BLEU-n are 0; an empty hypothesis set of tokens gives BP = 0
    assert M.corpus_bleu([['x', 'y']], [['a', 'b']]) == dict(bleu1=0.0, bleu2=0.0, bleu3=0.0, bleu4=0.0)
    assert M.corpus_bleu([[]], [['a']])['bleu1'] == 0.0


def test_bleu_brevity_penalty_hand_case():
    # h = "a b" vs r = "a b c d": p1 = 1, p2 = 1, c = 2, r = 4, BP = exp(1 - 2) -> BLEU-2 = 100/e
    assert M.corpus_bleu([['a', 'b']], [list('abcd')])['bleu2'] == pytest.approx(100 / math.e)


@pytest.mark.parametrize('hyps,refs,msg', [
    ('the cat', [['the']], 'hyps: expected a list of token lists, got str'),
    ([['the']], [['the', 1]], 'refs[0]: expected a list of str tokens'),
    ([], [], 'hyps: empty corpus'),
    ([['a'], ['b']], [['a']], 'hyps and refs differ in length: 2 vs 1'),
])
def test_bleu_bad_input(hyps, refs, msg):
    with pytest.raises((TypeError, ValueError), match=msg.replace('[', r'\[').replace(']', r'\]')):
        M.corpus_bleu(hyps, refs)


# ---------------------------------------------------------------- Distinct, PPL
def test_distinct_counts_across_responses_not_within():
    # "a a" + "a a": unigrams 4, distinct 1 -> 25; per-response averaging would give 50
    assert M.distinct_n([['a', 'a'], ['a', 'a']], 1) == 25.0
    with pytest.raises(TypeError, match=r"hyps\[1\]: expected a list of word tokens"):
        M.distinct_n([['a'], 'b c'], 1)


def test_perplexity_bad_input():
    with pytest.raises(ValueError, match='differ in length: 2 vs 1'):
        M.perplexity([1.0, 2.0], [3])
    with pytest.raises(ValueError, match=r'nll_sums\[0\]: expected a finite NLL >= 0, got -1.0'):
        M.perplexity([-1.0], [3])
    with pytest.raises(ValueError, match='no responses'):
        M.perplexity([], [])


# ---------------------------------------------------------------- BERTScore
def _manual_bertscore_f1(hyp, ref, layer):
    "Independent BERTScore-F1: greedy cosine matching of layer-`layer` token embeddings, idf 0 on [CLS]/[SEP]."
    from transformers import AutoModel, AutoTokenizer
    path, _ = M.resolve_checkpoint('minilm')
    tok, model = AutoTokenizer.from_pretrained(str(path)), AutoModel.from_pretrained(str(path)).eval()

    def emb(s):
        ids = tok(s, return_tensors='pt')['input_ids']
        with torch.no_grad(): h = model(input_ids=ids, output_hidden_states=True).hidden_states[layer][0]
        return torch.nn.functional.normalize(h, dim=-1)
    h, r = emb(hyp), emb(ref)
    sim = h @ r.T                                  # special tokens may be matched, but carry weight 0
    P = sim.max(1).values[1:-1].mean()
    R = sim.max(0).values[1:-1].mean()
    return (2 * P * R / (P + R)).item()


def test_bertscore_matches_independent_implementation():
    hyps = [['i', 'am', 'so', 'sorry', 'to', 'hear', 'that', '.'], ['that', 'sounds', 'fun', '!']]
    refs = [['oh', 'no', ',', 'that', 'is', 'awful', '.'], ['wow', ',', 'i', 'hope', 'you', 'had', 'fun', '!']]
    for layer in (3, 6):
        res = M.bertscore_f1(hyps, refs, 'minilm', layer)
        assert res['status'] == 'ok' and res['name'] == f'bertscore_f1[all-MiniLM-L6-v2,L{layer}]'
        for i in range(2):
            assert res['f1'][i] == pytest.approx(_manual_bertscore_f1(' '.join(hyps[i]), ' '.join(refs[i]), layer), abs=1e-4)
        assert res['value'] == pytest.approx(sum(res['f1']) / 2)


def test_bertscore_runs_with_networking_disabled():
    # a subprocess in which every socket connection raises: bert-score must load the local folder only
    code = r'''
import socket, sys
def _no_net(*a, **k): raise OSError('network disabled in this test')
socket.socket.connect = _no_net; socket.create_connection = _no_net
sys.path.insert(0, sys.argv[1])
import torch; torch.set_num_threads(1)
from reflectdiffu.evaluation.metrics import bertscore_f1
r = bertscore_f1([['hello', 'there']], [['hi', 'there']], 'minilm', 6)
assert r['status'] == 'ok' and 0 < r['value'] < 1, r
print('OK', r['value'])
'''
    env = {k: v for k, v in os.environ.items() if k not in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')}
    p = subprocess.run([sys.executable, '-c', code, str(ROOT)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0 and 'OK' in p.stdout, p.stderr[-2000:]


def test_bertscore_bad_settings():
    with pytest.raises(ValueError, match='bertscore num_layers=0'):
        M.bertscore_f1([['a']], [['a']], 'minilm', 0)
    with pytest.raises(FileNotFoundError, match='bertscore baseline file not found: /nope.tsv'):
        M.bertscore_f1([['a']], [['a']], 'minilm', 6, baseline='/nope.tsv')
    d = tempfile.mkdtemp()
    assert M.bertscore_f1([['a']], [['a']], d, 6)['status'] == f'unavailable: no config.json in {d}'


# ---------------------------------------------------------------- BARTScore
def _tiny_bart(folder):
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer
    d = Path(tempfile.mkdtemp())
    vocab = {t: i for i, t in enumerate(['<s>', '<pad>', '</s>', '<unk>', 'Ġ'] + list('abcdefghijklmnopqrstuvwxyz') + ['<mask>'])}
    (d / 'vocab.json').write_text(json.dumps(vocab)); (d / 'merges.txt').write_text('#version: 0.2\n')
    torch.manual_seed(0)
    BartForConditionalGeneration(BartConfig(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_position_embeddings=64)).save_pretrained(folder)
    BartTokenizer(str(d / 'vocab.json'), str(d / 'merges.txt')).save_pretrained(folder)


@pytest.fixture(scope='module')
def bart_dir():
    d = Path(tempfile.mkdtemp()) / 'tiny-bart'
    _tiny_bart(d)
    return d


def test_bartscore_directions_and_batching(bart_dir):
    hyps = [['i', 'am', 'sorry'], ['great'], ['what', 'happened', 'then']]
    refs = [['so', 'sad'], ['that', 'is', 'great', 'news'], ['oh', 'no']]
    p = M.bartscore(hyps, refs, str(bart_dir), 'ref_to_hyp', batch_size=2)
    r = M.bartscore(hyps, refs, str(bart_dir), 'hyp_to_ref', batch_size=3)
    f = M.bartscore(hyps, refs, str(bart_dir), 'f', batch_size=1)
    assert (p['name'], r['name'], f['name']) == ('bartscore[tiny-bart,ref->hyp]', 'bartscore[tiny-bart,hyp->ref]', 'bartscore[tiny-bart,F]')
    assert all(s < 0 for s in p['scores'] + r['scores'])
    # batch size must not change the scores (padding is ignored)
    p1 = M.bartscore(hyps, refs, str(bart_dir), 'ref_to_hyp', batch_size=1)
    assert p1['scores'] == pytest.approx(p['scores'], abs=1e-5)
    assert f['scores'] == pytest.approx([(a + b) / 2 for a, b in zip(p['scores'], r['scores'])], abs=1e-5)
    assert p['value'] == pytest.approx(sum(p['scores']) / 3)


def test_bartscore_unavailable_is_explicit():
    res = M.bartscore([['a']], [['a']], '/nonexistent/bart-large-cnn')
    assert res['value'] is None and res['status'] == 'unavailable: no checkpoint at /nonexistent/bart-large-cnn'


# ---------------------------------------------------------------- evaluate_responses
class Stub:
    "Intent 'questioning' if the response has '?', else 'neutral'."
    def __init__(self, as_ids=False, drop=0): self.as_ids, self.drop = as_ids, drop
    def predict(self, texts):
        out = ['questioning' if '?' in t else 'neutral' for t in texts]
        out = [INTENTS.index(x) for x in out] if self.as_ids else out
        return out[self.drop:]


def _records():
    # 1: gold questioning, final questioning, generated "what happened ?"  -> clf questioning
    # 2: gold neutral,     final consoling (id), generated "i see ."        -> clf neutral
    # 3: gold consoling,   final consoling,  generated "oh no ?"           -> clf questioning
    c = INTENTS.index('consoling')
    return [
        dict(id='x#1', hyp_tokens=['what', 'happened', '?'], ref_tokens=['what', 'happened', 'next', '?'],
             emotion='afraid', emotion_pred='afraid', intent='questioning', intent_final='questioning', nll_sum=8.0, n_tokens=5),
        dict(id='x#3', hyp_tokens=['i', 'see', '.'], ref_tokens=['i', 'see', '.'],
             emotion=EMOTIONS.index('sad'), emotion_pred=EMOTIONS.index('lonely'), intent='neutral', intent_final=c, nll_sum=3.0, n_tokens=4),
        dict(id='x#5', hyp_tokens=['oh', 'no', '?'], ref_tokens=['i', 'am', 'so', 'sorry', '.'],
             emotion='sad', emotion_pred='sad', intent='consoling', intent_final='consoling', nll_sum=12.0, n_tokens=6),
    ]


def _cfg(**kw):
    return dict(dict(bertscore_model='', bertscore_layer=6, bertscore_baseline='', bertscore_batch_size=64,
                     bartscore_model='', bartscore_direction='ref_to_hyp', bartscore_batch_size=16), **kw)


def test_evaluate_responses_hand_case(bart_dir):
    recs = json.loads(json.dumps(_records()))     # records survive a JSON round trip
    out = M.evaluate_responses(recs, Stub(as_ids=True), _cfg(bertscore_model='minilm', bartscore_model=str(bart_dir)), device='cpu', progress=False)
    json.dumps(out, allow_nan=False)
    assert out['n_responses'] == 3 and out['hyp_len_mean'] == 3.0
    assert out['acc_emo'] == pytest.approx(200 / 3)                 # rows 1, 3
    assert out['acc_intent_pred'] == pytest.approx(200 / 3)         # rows 1, 3
    assert out['acc_intent_gen_vs_gold'] == pytest.approx(200 / 3)  # clf: q, n, q vs gold q, n, c -> rows 1, 2
    assert out['acc_intent_realised'] == pytest.approx(100 / 3)     # clf vs final q, c, c -> row 1
    assert out['ppl'] == pytest.approx(math.exp((8 / 5 + 3 / 4 + 12 / 6) / 3))
    assert out['ppl_token'] == pytest.approx(math.exp(23 / 15))
    # Distinct-1: 9 unigrams (what happened ? i see . oh no ?), 8 distinct
    assert out['dist1'] == pytest.approx(800 / 9)
    assert out['bleu1'] == pytest.approx(M.corpus_bleu([r['hyp_tokens'] for r in recs], [r['ref_tokens'] for r in recs])['bleu1'])
    assert out['bertscore_f1[all-MiniLM-L6-v2,L6].status'] == 'ok'
    assert out['bartscore[tiny-bart,ref->hyp]'] < 0


def test_evaluate_responses_unavailable_and_skipped_are_explicit():
    out = M.evaluate_responses(_records(), None, _cfg(bartscore_model='/nonexistent/bart-large-cnn'), device='cpu', progress=False)
    assert out['bartscore[bart-large-cnn,ref->hyp]'] is None
    assert out['bartscore[bart-large-cnn,ref->hyp].status'] == 'unavailable: no checkpoint at /nonexistent/bart-large-cnn'
    assert out['bertscore_f1'] is None and out['bertscore_f1.status'] == 'skipped: eval.bertscore_model is empty'
    assert out['acc_intent_gen_vs_gold'] is None
    assert out['acc_intent_gen_vs_gold.status'] == 'unavailable: no intent classifier given'


def test_evaluate_responses_bad_records():
    recs = _records()
    del recs[1]['nll_sum']
    with pytest.raises(ValueError, match=r"records\[1\] \(id x#3\): missing field 'nll_sum'"):
        M.evaluate_responses(recs, None, _cfg())
    recs = _records(); recs[2]['hyp_tokens'] = 'oh no ?'
    with pytest.raises(TypeError, match=r"records\[2\] \(id x#5\): field 'hyp_tokens' has type str"):
        M.evaluate_responses(recs, None, _cfg())
    recs = _records(); recs[0]['emotion'] = 99
    with pytest.raises(ValueError, match=r'emotion\[0\]: id 99 out of range for 32 labels'):
        M.evaluate_responses(recs, None, _cfg())
    with pytest.raises(ValueError, match='classifier.predict returned 2 labels for 3 texts'):
        M.evaluate_responses(_records(), Stub(drop=1), _cfg())
    with pytest.raises(ValueError, match='non-empty list'):
        M.evaluate_responses([], None, _cfg())
    with pytest.raises(KeyError, match='eval.bartscore_direction'):
        cfg = _cfg(); del cfg['bartscore_direction']
        M.evaluate_responses(_records(), None, cfg)


def test_params_eval_section_drives_evaluate_responses():
    p = load_params(ROOT / 'params.yaml')
    assert set(M.EVAL_KEYS) <= set(p['eval'])
    out = M.evaluate_responses(_records(), None, dict(p['eval'], bertscore_model='', bartscore_model=''), device='cpu', progress=False)
    assert out['bleu1'] > 0
