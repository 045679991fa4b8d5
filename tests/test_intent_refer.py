"Intent_refer: Table 1 as printed, top-n with hand-worked ties, comparison, sample integration."
import warnings
import pytest, torch
from reflectdiffu.data.corpus import EMOTIONS, INTENTS, EMO2ID, INTENT2ID
from reflectdiffu.features.intent_refer import (PRINTED_TABLE1, TABLE1_SOURCE, table1_issues, printed_intent_refer, intent_counts,
    counts_from_examples, top_n_intents, intent_scores, intent_refer_tensor, refer_names, comparison_table, comparison_summary)
from conftest import ROOT

def row(**kw):
    "(32, 9) counts with one row `angry` given by intent=count."
    c = torch.zeros(32, 9, dtype=torch.long)
    for t, k in kw.items(): c[EMO2ID['angry'], INTENT2ID[t]] = k
    for e in EMOTIONS:  # every other emotion: one questioning example, so no empty-row warning
        if e != 'angry': c[EMO2ID[e], INTENT2ID['questioning']] = 1
    return c

def test_printed_table_is_verbatim_with_its_flaws():
    assert len(PRINTED_TABLE1) == 6 and 'Table 1' in TABLE1_SOURCE
    assert sum(len(e) for e, _ in PRINTED_TABLE1) == 30
    assert PRINTED_TABLE1[3] == PRINTED_TABLE1[5] == (('hopeful', 'sentimental'), ('encouraging', 'wishing', 'consoling'))
    iss = table1_issues()
    assert iss == dict(missing=['annoyed', 'ashamed', 'devastated', 'disgusted', 'furious'], in_several_rows={'faithful': [0, 1]}, repeated_rows=[(3, 5)])
    assert not any('questioning' in ts for _, ts in PRINTED_TABLE1)  # the printed table never uses questioning
    p = printed_intent_refer()
    assert len(p) == 27 and set(p) | set(iss['missing']) == set(EMOTIONS)

@pytest.mark.parametrize('counts, n, want', [
    (dict(questioning=10, neutral=7, acknowledging=7, agreeing=1), 3, ['questioning', 'acknowledging', 'neutral']),  # tie 7/7 -> alphabetical
    (dict(wishing=4, suggesting=4, consoling=4, neutral=4), 2, ['consoling', 'neutral']),                          # four-way tie
    (dict(wishing=1), 3, ['wishing', 'acknowledging', 'agreeing']),                                                # zeros tie: alphabetical fill
    (dict(sympathizing=2, consoling=3, encouraging=3), 1, ['consoling']),
])
def test_top_n_frequency_ties_by_hand(counts, n, want):
    assert refer_names(top_n_intents(row(**counts), n))['angry'] == want

def test_lift_by_hand():
    # angry: consoling 2, questioning 2 (4 examples); 31 other emotions: questioning 1 each. Total 35.
    # lift consoling = (2/4) / (2/35) = 8.75; questioning = (2/4) / (33/35) = 35/66; others 0
    c = row(consoling=2, questioning=2)
    s = intent_scores(c, 'lift')
    assert s[EMO2ID['angry'], INTENT2ID['consoling']].item() == pytest.approx(8.75)
    assert s[EMO2ID['angry'], INTENT2ID['questioning']].item() == pytest.approx(35 / 66)
    assert refer_names(top_n_intents(c, 3, 'lift'))['angry'] == ['consoling', 'questioning', 'acknowledging']
    # sad: only questioning -> lift 35/33 for questioning, then alphabetical zeros
    assert refer_names(top_n_intents(c, 2, 'lift'))['sad'] == ['questioning', 'acknowledging']

def test_empty_emotion_warns():
    with pytest.warns(UserWarning, match=r"no examples for \['afraid'"): top_n_intents(torch.zeros(32, 9, dtype=torch.long))

def test_tensor_for_the_model():
    c = row(consoling=5, suggesting=3, sympathizing=1)
    t = intent_refer_tensor(c, 3)
    assert t.dtype == torch.long and t.shape == (32, 3)
    assert t[EMO2ID['angry']].tolist() == [INTENT2ID['consoling'], INTENT2ID['suggesting'], INTENT2ID['sympathizing']]
    p = intent_refer_tensor(c, 3, source='printed')
    assert refer_names(p)['angry'] == ['consoling', 'suggesting', 'encouraging']          # printed row 3
    assert refer_names(p)['annoyed'] == refer_names(t)['annoyed']                        # missing in print -> derived
    assert refer_names(p)['faithful'] == ['acknowledging', 'encouraging', 'neutral']     # first of its two rows
    with pytest.raises(ValueError, match="needs n = 3"): intent_refer_tensor(c, 4, source='printed')
    with pytest.raises(ValueError, match="source must be one of"): intent_refer_tensor(c, 3, source='table')

def test_comparison_overlap_by_hand():
    c = row(consoling=5, suggesting=3, sympathizing=1)  # printed angry: consoling, suggesting, encouraging -> overlap 2
    df = comparison_table(c, 3).set_index('emotion')
    assert df.loc['angry', 'overlap'] == 2 and df.loc['angry', 'derived_share'] == '56%, 33%, 11%'
    assert df.loc['sad', 'overlap'] == 0  # derived questioning, acknowledging, agreeing vs consoling, encouraging, neutral
    assert df['overlap'].isna().sum() == 5
    s = comparison_summary(df.reset_index())
    assert s['emotions_printed'] == 27 and s['emotions_missing_in_print'] == 5

def test_bad_inputs():
    with pytest.raises(ValueError, match="pair 1: unknown emotion 'happy'"): intent_counts([('sad', 'wishing'), ('happy', 'wishing')])
    with pytest.raises(ValueError, match="example x#1: unknown emotion 'Sad'"): counts_from_examples([dict(id='x#1', emotion='Sad', intent='wishing')])
    with pytest.raises(ValueError, match=r'counts must be \(32, 9\)'): top_n_intents(torch.zeros(9, 32, dtype=torch.long))
    with pytest.raises(ValueError, match='n must be in 1..9'): top_n_intents(row(wishing=1), 10)

@pytest.mark.skipif(not (ROOT/'out'/'sample'/'prepare'/'train.jsonl').exists(), reason='prepare stage not run on the sample')
def test_sample_train_split():
    from reflectdiffu.data.corpus import read_jsonl
    train = read_jsonl(ROOT/'out'/'sample'/'prepare'/'train.jsonl')
    c = counts_from_examples(train)
    assert c.sum().item() == len(train)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # every emotion has train examples in the sample
        t = intent_refer_tensor(c, 3)
    assert t.shape == (32, 3) and (t[:, 0] != t[:, 1]).all()
