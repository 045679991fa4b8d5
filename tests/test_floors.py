"Tests of reflectdiffu.evaluation.floors on hand-computed toy cases, and of the committed floors results of each profile."
import json, math
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from reflectdiffu.evaluation import floors as F
from reflectdiffu.evaluation.metrics import evaluate_responses

NO_SCORERS = dict(bertscore_model='', bertscore_layer=6, bertscore_baseline='', bertscore_batch_size=8,
                  bartscore_model='', bartscore_direction='ref_to_hyp', bartscore_batch_size=8)


def ex(i, emotion, intent, ctx, tgt, split='train'):
    "A processed example (docs/design.md) with one context turn per string of `ctx`."
    turns = [dict(utt=k, role='speaker' if k % 2 == 0 else 'listener', text=t, tokens=t.split()) for k, t in enumerate(ctx)]
    return dict(id=f'c{i}#{len(ctx)}', conv_id=f'c{i}', utt=len(ctx), split=split, emotion=emotion, context=turns,
                target=dict(utt=len(ctx), text=tgt, tokens=tgt.split()), intent=intent)


TRAIN = [ex(1, 'sad', 'consoling', ['my cat died'], 'i am so sorry'),
         ex(2, 'sad', 'questioning', ['i failed my driving test'], 'what happened ?'),
         ex(3, 'joyful', 'questioning', ['i passed my driving test today'], 'congrats ! how do you feel ?'),
         ex(4, 'afraid', 'sympathizing', ['there was a storm last night', 'oh no', 'the power went out'], 'that sounds scary')]
TEST = [ex(5, 'proud', 'questioning', ['i passed my test'], 'nice , was it hard ?', 'test'),
        ex(6, 'afraid', 'sympathizing', ['the storm knocked the power out'], 'that is scary', 'test'),
        ex(7, 'sad', 'consoling', ['my dog died'], 'i am sorry for your loss', 'test')]


def test_majority_class_hand_computed():
    # train emotions: sad x2, joyful, afraid -> 'sad'; test emotions proud, afraid, sad -> 1 of 3 right
    m = F.majority_floor([e['emotion'] for e in TRAIN], [e['emotion'] for e in TEST])
    assert m == dict(label='sad', acc=pytest.approx(100 / 3))
    # train intents: questioning x2 -> 'questioning'; test: questioning, sympathizing, consoling -> 1 of 3
    assert F.majority_floor([e['intent'] for e in TRAIN], [e['intent'] for e in TEST])['label'] == 'questioning'
    assert F.majority_label(['b', 'a', 'b', 'a']) == 'a'        # a tie goes to the first in sorted order, not file order
    with pytest.raises(ValueError, match='no labels'): F.majority_floor([], ['a'])


def test_context_text_is_what_the_models_see():
    assert F.context_text(TRAIN[3]) == 'there was a storm last night oh no the power went out'
    assert F.context_text(TRAIN[3], 4) == 'the power went out'   # encode_example keeps the most recent words
    from reflectdiffu.data.batches import encode_example
    from reflectdiffu.data.text import Vocab
    for n in (1, 5, 100):   # the words the model's encoder gets, recovered from their (utterance, position) ids
        enc = encode_example(TRAIN[3], Vocab.build([]), n, 10)
        toks = {f"c4#{t['utt']}": t['tokens'] for t in TRAIN[3]['context']}
        assert F.context_text(TRAIN[3], n).split() == [toks[u][j] for u, j in enc['where']]


def test_retrieval_picks_the_right_neighbour():
    tr = [F.context_text(e) for e in TRAIN]
    te = [F.context_text(e) for e in TEST]
    idx, sim = F.nearest(tr, te, ngram_max=1)
    # 'i passed my test' shares i/passed/my/test with train 3 (and only i/my/test with train 2);
    # the storm turn shares the/storm/power with train 4; 'my dog died' shares my/died with train 1
    assert list(idx) == [2, 3, 0]
    assert all(0 < s <= 1 for s in sim)
    recs = F.retrieval_records(TRAIN, TEST, idx, sim)
    assert [r['response'] for r in recs] == ['congrats ! how do you feel ?', 'that sounds scary', 'i am so sorry']
    assert [(r['emotion_pred'], r['intent_final']) for r in recs] == [('joyful', 'questioning'), ('afraid', 'sympathizing'), ('sad', 'consoling')]


def test_retrieval_ties_go_to_the_first_train_example():
    idx, sim = F.nearest(['a b', 'c d', 'a b'], ['b a', 'zzz'], ngram_max=1)
    assert list(idx) == [0, 0] and sim[0] == pytest.approx(1.0) and sim[1] == 0.0


def test_retrieval_metrics_are_the_models_metrics():
    idx, sim = F.nearest([F.context_text(e) for e in TRAIN], [F.context_text(e) for e in TEST], ngram_max=1)
    recs = F.retrieval_records(TRAIN, TEST, idx, sim)
    gm = F.generation_metrics(recs, NO_SCORERS)
    em = evaluate_responses([dict(r, nll_sum=1.0, n_tokens=2) for r in recs], None, NO_SCORERS, device='cpu', progress=False)
    for k in ('bleu1', 'bleu2', 'bleu3', 'bleu4', 'dist1', 'dist2', 'acc_emo', 'acc_intent_pred', 'hyp_len_mean'):
        assert gm[k] == em[k], k
    assert gm['ppl'] is None and gm['ppl.status'].startswith('not applicable')   # never a number
    # emotions proud/afraid/sad answered by joyful/afraid/sad neighbours: 2 of 3; intents all three right
    assert gm['acc_emo'] == pytest.approx(200 / 3) and gm['acc_intent_pred'] == 100.0
    # BLEU-1 by hand: clipped unigram matches 'congrats ! how do you feel ?' vs 'nice , was it hard ?' -> '?' = 1;
    # 'that sounds scary' vs 'that is scary' -> 2; 'i am so sorry' vs 'i am sorry for your loss' -> 3: 6 of 14 words;
    # reference length 6 + 3 + 6 = 15 > 14: brevity penalty exp(1 - 15/14)
    assert gm['bleu1'] == pytest.approx(100 * 6 / 14 * math.exp(1 - 15 / 14))


def test_human_row_distinct_n_by_hand():
    gold = [ex(8, 'sad', 'neutral', ['x'], 'i am so so sorry', 'test'), ex(9, 'sad', 'neutral', ['x'], 'so sorry', 'test')]
    h = F.human_row(gold)
    # unigrams: i am so so sorry so sorry -> 7, distinct {i, am, so, sorry} = 4
    # bigrams: (i am)(am so)(so so)(so sorry) + (so sorry) -> 5, distinct 4
    assert h == dict(n_responses=2, hyp_len_mean=3.5, dist1=pytest.approx(100 * 4 / 7), dist2=pytest.approx(100 * 4 / 5))
    with pytest.raises(ValueError, match='no test examples'): F.human_row([])


def test_bag_of_words_learns_and_chooses_c_on_valid():
    tr = ['so happy today', 'happy news', 'a happy day', 'so sad today', 'sad news', 'a sad day']
    y = ['joyful'] * 3 + ['sad'] * 3
    model, info = F.fit_bow(tr, y, ['happy again', 'sad again'], ['joyful', 'sad'], [100, 0.001], ngram_max=1, seed=0)
    assert list(model.predict(['happy', 'sad'])) == ['joyful', 'sad']
    assert info['valid_acc'][100.0] == 100.0
    assert info['C'] == max(info['valid_acc'], key=lambda c: (info['valid_acc'][c], -c))
    with pytest.raises(ValueError, match='every C must be a finite number > 0'): F.fit_bow(tr, y, tr, y, [0])
    with pytest.raises(ValueError, match='3 texts but 6 labels'): F.fit_bow(tr[:3], y, tr, y, [1.0])


def test_compute_floors_blocks_and_responses_frame():
    cfg = dict(c_grid=[1.0], ngram_max=1, min_df=1, max_features=0, max_iter=100)
    m, recs = F.compute_floors(TRAIN, TRAIN[:2], TEST, cfg, NO_SCORERS, max_context_len=100, seed=0)
    assert set(m) >= {'majority', 'bow', 'retrieval', 'human'}
    assert m['majority']['acc_emo'] == pytest.approx(100 / 3) and m['majority']['emotion_label'] == 'sad'
    assert m['human'] == F.human_row(TEST)
    rf = F.responses_frame(recs)
    assert list(rf.columns[:11]) == ['id', 'emotion', 'emotion_pred', 'intent', 'intent_first', 'intent_twice', 'intent_final',
                                     'response', 'gold', 'n_tokens', 'nll_sum']
    assert rf['neighbour'].tolist() == ['c3#1', 'c4#3', 'c1#1']
    with pytest.raises(KeyError, match='floors params: missing keys'): F.compute_floors(TRAIN, TRAIN, TEST, {}, NO_SCORERS)


def test_floors_stage_declares_what_it_imports():
    "The floors stage depends on every reflectdiffu module it uses, directly or through floors.py and metrics.py."
    st = yaml.safe_load((ROOT/'dvc.yaml').read_text())['stages']
    deps = set(st['floors']['deps'])
    assert {'reflectdiffu/core/params.py', 'reflectdiffu/data/corpus.py', 'reflectdiffu/evaluation/metrics.py', 'reflectdiffu/evaluation/floors.py',
            'nbs/stages/floors.ipynb', 'out/${profile}/prepare'} <= deps
    assert {'seed', 'floors', 'data.max_context_len'} <= set(st['floors']['params'])
    from reflectdiffu.evaluation.metrics import EVAL_KEYS   # the eval keys generation_metrics reads, and no other (a new eval key reruns nothing here)
    assert {k for k in st['floors']['params'] if str(k).startswith('eval')} == {f'eval.{k}' for k in EVAL_KEYS}
    assert 'reports/${profile}/floors/metrics.json' in st['report']['deps']
    from test_dvc_deps import missing_deps            # every module the stage runs, followed through its imports
    assert 'floors' not in missing_deps(yaml.safe_load((ROOT/'dvc.yaml').read_text())), missing_deps(yaml.safe_load((ROOT/'dvc.yaml').read_text()))['floors']


@pytest.mark.parametrize('profile', ['sample', 'full'])
def test_committed_floors_results(profile):
    "A committed floors run covers its profile's whole test split, and its responses file matches its metrics."
    d = ROOT/'reports'/profile/'floors'
    if not (d/'metrics.json').exists(): pytest.skip(f'no floors results for profile {profile}')
    m = json.loads((d/'metrics.json').read_text())
    n_test = json.loads((ROOT/'reports'/profile/'prepare.json').read_text())['examples']['test']
    assert m['profile'] == profile and m['n_test'] == n_test == m['retrieval']['n_responses'] == m['human']['n_responses']
    assert m['retrieval']['ppl'] is None
    r = pd.read_csv(d/'responses.tsv', sep='\t', keep_default_na=False)
    assert len(r) == n_test and r['id'].is_unique
    acc = 100 * (r['emotion'] == r['emotion_pred']).mean()
    assert acc == pytest.approx(m['retrieval']['acc_emo'])
    assert 100 * (r['intent'] == r['intent_final']).mean() == pytest.approx(m['retrieval']['acc_intent_pred'])
    assert r['response'].str.split().str.len().mean() == pytest.approx(m['retrieval']['hyp_len_mean'])
    # the floors are below what a classifier of the words can do only if something is wrong: bag of words >= majority (valid-tuned)
    assert m['bow']['acc_emo'] > m['majority']['acc_emo']
