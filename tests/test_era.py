"ERA (eqs. 13-16): CRF decoding worked out by hand, WordPiece-to-word alignment on tricky words, cache and checkpoint I/O."
import itertools, math, os
from pathlib import Path
import numpy as np
import pytest
import torch
from torchcrf import CRF
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from reflectdiffu.features.annotator import EM, NOEM, LexiconAnnotator
from reflectdiffu.features.era import (ERA, ERAHead, ERAError, align_pieces, collate_aligned, pool_words, load_tokenizer,
                              train_era, predict_era, em_prf, build_cache, save_era_cache, load_era_cache, lookup,
                              save_era, load_era)
from reflectdiffu.data.text import tokenize

torch.set_num_threads(1)

@pytest.fixture(scope='module')
def tok(): return load_tokenizer()

@pytest.fixture(scope='module')
def era():
    torch.manual_seed(0)
    return ERA(d_r=8, d_att=8, finetune_layers=1).eval()

# --- CRF (eq. 16) ----------------------------------------------------------------------------
def hand_crf(trans, start=(0., 0.), end=(0., 0.)):
    crf = CRF(2, batch_first=True)
    with torch.no_grad():
        crf.transitions.copy_(torch.tensor(trans)); crf.start_transitions.copy_(torch.tensor(start)); crf.end_transitions.copy_(torch.tensor(end))
    return crf

def path_score(em, path, trans, start, end):
    s = start[path[0]] + end[path[-1]] + sum(em[i][t] for i, t in enumerate(path))
    return s + sum(trans[a][b] for a, b in zip(path, path[1:]))

def test_crf_viterbi_by_hand():
    # tags: 0 = em, 1 = noem. Emissions prefer em, noem, em word by word; switching costs 3.
    # em em em: 2 + 0 + 2 = 4 ; noem noem noem: 0 + 1 + 0 = 1 ; em noem em: 2 + 1 + 2 - 6 = -1
    trans, em = [[0., -3.], [-3., 0.]], [[2., 0.], [0., 1.], [2., 0.]]
    crf = hand_crf(trans)
    assert crf.decode(torch.tensor([em])) == [[0, 0, 0]]
    # a cheaper switch (0.4 each): em noem em = 2 + 1 + 2 - 0.8 = 4.2 > em em em = 4
    crf2 = hand_crf([[0., -0.4], [-0.4, 0.]])
    assert crf2.decode(torch.tensor([em])) == [[0, 1, 0]]
    # start score -10 for em: noem noem noem = 1 beats noem em em = 0 + 0 + 2 - 3 = -1 and every path starting with em
    crf3 = hand_crf(trans, start=(-10., 0.))
    assert crf3.decode(torch.tensor([em])) == [[1, 1, 1]]

def test_crf_likelihood_matches_brute_force():
    trans, start, end = [[0.5, -1.], [-2., 0.3]], (0.2, -0.1), (-0.3, 0.4)
    em = [[1., -0.5], [0.2, 0.7], [-1., 1.5], [0.3, 0.3]]
    crf = hand_crf(trans, start, end)
    paths = list(itertools.product((0, 1), repeat=4))
    scores = {p: path_score(em, p, trans, start, end) for p in paths}
    logz = math.log(sum(math.exp(s) for s in scores.values()))
    gold = (0, 1, 1, 0)
    ll = crf(torch.tensor([em]), torch.tensor([gold]), reduction='sum').item()
    assert abs(ll - (scores[gold] - logz)) < 1e-5
    assert crf.decode(torch.tensor([em]))[0] == list(max(scores, key=scores.get))

def test_crf_with_padding_mask():
    crf = hand_crf([[0., -3.], [-3., 0.]])
    em = torch.tensor([[[2., 0.], [0., 1.], [2., 0.]], [[0., 1.], [5., 0.], [0., 0.]]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]]).bool()
    assert crf.decode(em, mask=mask) == [[0, 0, 0], [1]]

def test_head_decode_returns_tags_1_2():
    head = ERAHead(d_in=4, d_att=2, d_r=3)
    with torch.no_grad():
        head.crf.transitions.zero_(); head.crf.start_transitions.zero_(); head.crf.end_transitions.zero_()
        head.emit.weight.zero_(); head.emit.bias.copy_(torch.tensor([1., 0.]))   # em always wins
    h, m = torch.randn(1, 3, 4), torch.ones(1, 3, dtype=torch.bool)
    ht, _ = head.compose(h, m)
    assert head.decode(ht, m) == [[EM, EM, EM]]

# --- alignment --------------------------------------------------------------------------------
def pieces_of(a, tok, w):
    return [tok.convert_ids_to_tokens(i) for i, x in zip(a.ids, a.piece_word) if x == w]

def test_alignment_tricky_words(tok):
    words = tokenize("I mightn't go -- it's John's café!!! 😀 naïve ZOË...") + ['\u200b', 'e\u0301', '\x00']
    a = align_pieces([words], tok)[0]
    assert a.ids[0] == tok.cls_token_id and a.ids[-1] == tok.sep_token_id and a.piece_word[0] == a.piece_word[-1] == -1
    assert sorted(set(a.piece_word) - {-1}) == list(range(len(words)))      # every word >= 1 piece
    assert a.piece_word[1:-1] == sorted(a.piece_word[1:-1])                 # monotone
    assert pieces_of(a, tok, words.index("n't")) == ['n', "'", 't']
    assert pieces_of(a, tok, words.index("'s")) == ["'", 's']
    assert pieces_of(a, tok, words.index('café')) == ['cafe']
    assert pieces_of(a, tok, words.index('naïve')) == ['naive']
    assert pieces_of(a, tok, words.index('😀')) == ['[UNK]']
    assert pieces_of(a, tok, words.index('\u200b')) == ['[UNK]'] and a.n_unk == 2   # zero-piece words: \u200b, \x00
    assert (a.n_words, a.n_kept) == (len(words), len(words))

def test_alignment_empty_and_truncation(tok):
    e, t, f = align_pieces([[], ['hello', "n't", 'world'], ["n't", 'a']], tok, max_pieces=5)
    assert (e.n_words, e.n_kept, len(e.ids)) == (0, 0, 2)
    assert (t.n_words, t.n_kept, len(t.ids)) == (3, 1, 3)     # budget 3: hello (1) fits, n't (3) does not
    assert (f.n_words, f.n_kept, len(f.ids)) == (2, 1, 5)
    with pytest.raises(ERAError, match='turn 1 is a string'): align_pieces([['a'], 'b c'], tok)

def test_pooling_first_and_mean(tok):
    a = align_pieces([["n't", 'ok']], tok)[0]
    b = collate_aligned([a])
    st = torch.arange(len(a.ids), dtype=torch.float)[None, :, None]
    assert pool_words(st, b['piece_word'], 2, 'first')[0, :, 0].tolist() == [1., 4.]
    assert pool_words(st, b['piece_word'], 2, 'mean')[0, :, 0].tolist() == [2., 4.]

# --- prediction, truncation, roles --------------------------------------------------------------
def test_predict_roles_truncation_and_shapes(era, tok):
    turns = [tokenize("I am so happy today"), tokenize("Oh that is great"), [], ['x'] * 10]
    out = predict_era(era, turns, ['speaker', 'listener', 'speaker', 'speaker'], tok, max_pieces=8, progress=False)
    assert [len(t) for t in out.tags] == [len(t) for t in turns]
    assert [tuple(h.shape) for h in out.h] == [(len(t), 8) for t in turns]
    assert set(out.tags[1]) == {NOEM}                                     # listener
    assert set(out.tags[3][6:]) == {NOEM} and out.h[3][6:].abs().sum() == 0 and out.h[3][:6].abs().sum() > 0
    assert out.stats['truncated_words'] == 4 and out.stats['truncated_turns'] == 1 and out.stats['empty_turns'] == 1
    with pytest.raises(ERAError, match='2 turns but 1 roles'): predict_era(era, turns[:2], ['speaker'], tok)

def test_predict_is_batch_invariant(era, tok):
    turns = [tokenize(s) for s in ["I lost my job and I am scared", "we went to the beach", "my dog died , i am devastated"]]
    roles = ['speaker'] * 3
    a = predict_era(era, turns, roles, tok, batch_size=1, progress=False)
    b = predict_era(era, turns, roles, tok, batch_size=3, progress=False)
    for x, y in zip(a.h, b.h): assert torch.allclose(x.float(), y.float(), atol=2e-2)

def test_train_errors(era, tok):
    with pytest.raises(ERAError, match='turn 0 has 2 words but 1 tags'): train_era(era, [['a', 'b']], [[EM]], tok, progress=False)
    with pytest.raises(ERAError, match='tags other than 1 \\(em\\) / 2 \\(noem\\)'): train_era(era, [['a']], [[0]], tok, progress=False)
    with pytest.raises(ERAError, match='no non-empty turn'): train_era(era, [[]], [[]], tok, progress=False)

def test_em_prf_edge_cases():
    r = em_prf([[NOEM, NOEM]], [[NOEM, NOEM]])
    assert (r['precision'], r['recall'], r['f1']) == (0.0, 0.0, 0.0) and r['accuracy'] == 1.0
    r = em_prf([[EM, NOEM, EM]], [[EM, EM, NOEM]])
    assert (r['tp'], r['fp'], r['fn'], r['tn']) == (1, 1, 1, 0) and abs(r['f1'] - 0.5) < 1e-9
    with pytest.raises(ERAError, match='2 predicted turns but 1 gold'): em_prf([[1], [1]], [[1]])

# --- cache and checkpoint -------------------------------------------------------------------
def test_cache_roundtrip_and_errors(era, tok, tmp_path):
    turns = [tokenize("I was so scared"), [], tokenize("oh no")]
    out = predict_era(era, turns, ['speaker', 'speaker', 'listener'], tok, progress=False)
    keys = ['hit:1_conv:2#0', 'hit:1_conv:2#1', 'hit:1_conv:2#2']
    p = save_era_cache(build_cache(keys, out.tags, out.h), tmp_path/'era'/'cache.pt')
    raw = torch.load(p, weights_only=True)                                 # design.md: weights_only loadable
    assert set(raw) == {'keys', 'offsets', 'tags', 'h'}
    assert raw['tags'].dtype == torch.uint8 and raw['h'].dtype == torch.float16 and raw['offsets'].tolist() == [0, 4, 4, 6]
    c = load_era_cache(p)
    for k, t, h in zip(keys, out.tags, out.h):
        tg, hh = lookup(c, k)
        assert tg.tolist() == t.tolist() and torch.equal(hh, h)
    with pytest.raises(KeyError, match=r"utterance 'hit:9_conv:9#0' is not in the cache \(3 utterances"): lookup(c, 'hit:9_conv:9#0')
    with pytest.raises(FileNotFoundError, match='ERA cache not found'): load_era_cache(tmp_path/'missing.pt')
    torch.save({'keys': keys, 'offsets': raw['offsets'], 'tags': raw['tags'][:-1], 'h': raw['h']}, tmp_path/'bad.pt')
    with pytest.raises(ERAError, match='inconsistent ERA cache'): load_era_cache(tmp_path/'bad.pt')
    torch.save({'keys': keys}, tmp_path/'bad2.pt')
    with pytest.raises(ERAError, match='not an ERA cache'): load_era_cache(tmp_path/'bad2.pt')
    with pytest.raises(ERAError, match='has 4 tags but 3 h rows'): build_cache(keys[:1], out.tags[:1], [out.h[0][:3]])

def test_checkpoint_roundtrip(era, tok, tmp_path):
    b = collate_aligned(align_pieces([tokenize("what a lovely day"), tokenize("i am upset")], tok))
    p = save_era(era, tmp_path/'model.pt', seed=1)
    ck = torch.load(p, weights_only=True)
    assert ck['encoder'] and all(k.startswith('encoder.layer.5.') for k in ck['encoder'])   # only the trained top layer
    m = load_era(p)
    with torch.no_grad(): assert torch.allclose(m(b), era(b), atol=1e-5)
    with pytest.raises(FileNotFoundError, match='ERA checkpoint not found'): load_era(tmp_path/'none.pt')

def test_distillation_learns_lexicon_tags(tok):
    "ERA (frozen MiniLM) fits lexicon tags of a few turns and generalises to an unseen emotion word in context."
    ann = LexiconAnnotator()
    tr = [tokenize(s) for s in ["I was so scared last night", "I am happy for you", "that made me sad",
                                "I felt angry at him", "we had a great time", "the car was red"]] * 4
    torch.manual_seed(0)
    m = ERA(d_r=16, d_att=16)
    hist = train_era(m, tr, [ann(t) for t in tr], tok, epochs=25, batch_size=8, lr=5e-3, progress=False)
    assert hist[-1]['loss'] < 0.5 * hist[0]['loss']
    out = predict_era(m, tr[:6], ['speaker'] * 6, tok, progress=False)
    assert em_prf(out.tags, [ann(t) for t in tr[:6]])['f1'] == 1.0
