"Issue 15 library parts: the EPITOME reader and split on the real files, the hand-labelled patterns file, self-BLEU against nltk."
import hashlib, json, random
from collections import Counter
import pytest
from conftest import ROOT, MIRROR
from reflectdiffu.evaluation.empathy import (MECHANISMS, EPITOME_FILES, EPITOME_PAIRS, LEVELS, read_epitome, split_posts, split_rows,
                                             SCHEMA, check_config)
from reflectdiffu.core.params import load_params
from reflectdiffu.evaluation.patterns import PATTERNS, read_labels, tag
from reflectdiffu.evaluation.diversity import self_bleu, self_bleu_stats

HAS_EPITOME = (MIRROR/'epitome').exists()
DEFAULTS = load_params(ROOT/'params.yaml', profile='full')['empathy']   # the params.yaml section

@pytest.mark.skipif(not HAS_EPITOME, reason='EPITOME mirror absent')
def test_epitome_files_match_the_published_counts_and_checksums():
    stats = json.loads((MIRROR/'stats.json').read_text())
    for f in EPITOME_FILES.values():
        assert hashlib.sha256((MIRROR/'epitome'/f).read_bytes()).hexdigest() == stats['epitome_sha256'][f], f
    ep = read_epitome(MIRROR)
    for m, f in EPITOME_FILES.items():
        assert len(ep[m]) == EPITOME_PAIRS
        assert {str(l): n for l, n in Counter(r['level'] for r in ep[m]).items()} == stats['epitome_levels'][f]
    keys = [(r['sp_id'], r['rp_id']) for r in ep['ER']]
    assert all([(r['sp_id'], r['rp_id']) for r in ep[m]] == keys for m in MECHANISMS)

@pytest.mark.skipif(not HAS_EPITOME, reason='EPITOME mirror absent')
def test_split_is_by_seeker_post_same_for_all_mechanisms_and_about_80_10_10():
    ep = read_epitome(MIRROR)
    a = split_posts([r['sp_id'] for r in ep['ER']], seed=DEFAULTS['split_seed'])
    assert a == split_posts([r['sp_id'] for r in ep['EX']][::-1], seed=DEFAULTS['split_seed'])
    parts = {m: split_rows(ep[m], a) for m in MECHANISMS}
    sizes = {s: len(v) for s, v in parts['ER'].items()}
    assert all({s: len(v) for s, v in parts[m].items()} == sizes for m in MECHANISMS)
    assert abs(sizes['train'] / EPITOME_PAIRS - 0.8) < 0.02 and abs(sizes['test'] / EPITOME_PAIRS - 0.1) < 0.02
    posts = {s: {r['sp_id'] for r in v} for s, v in parts['ER'].items()}
    assert not (posts['train'] & posts['test']) and not (posts['train'] & posts['valid']) and not (posts['valid'] & posts['test'])
    assert all(set(Counter(r['level'] for r in parts[m]['test'])) == set(LEVELS) for m in MECHANISMS)

def test_schema_defaults_are_valid():
    assert set(DEFAULTS) == set(SCHEMA) and check_config(DEFAULTS) == DEFAULTS

LABELS = ROOT/'reports'/'patterns_labels.csv'

def test_patterns_labels_file_is_complete_and_documented():
    head = [l for l in LABELS.read_text(encoding='utf-8').splitlines() if l.startswith('#')]
    assert any('Labelled by' in l for l in head) and any('2026-11-30' in l for l in head)
    lab = read_labels(LABELS)
    assert len(lab) >= 150
    src = Counter(r['source'].split(':')[0] for r in lab)
    assert set(src) == {'gold', 'generated'} and min(src.values()) >= 50
    assert all(set(r['labels']) <= set(PATTERNS) for r in lab)

@pytest.mark.skipif(not (ROOT/'out'/'sample'/'eval').exists(), reason='sample eval outputs absent')
def test_labelled_gold_texts_are_the_records_gold_texts():
    "The gold responses are data and must match; generated ones are a snapshot of runs that may since have been retrained."
    gold = {}
    for f in (ROOT/'out'/'sample'/'eval').glob('*/responses.jsonl'):
        for l in f.read_text().splitlines():
            r = json.loads(l); gold[r['id']] = r['gold']
    lab = [r for r in read_labels(LABELS) if r['source'] == 'gold']
    assert all(gold[r['id']] == r['text'] for r in lab if r['id'] in gold)

def test_tagger_examples():
    assert tag("I'm sorry, but I can't help you with that because I'm not a doctor.") == {'apology', 'direct_refusal', 'explanation', 'boundary_setting'}
    assert tag("I'm so sorry to hear that.") == {'emotional_awareness'}
    assert tag('i am am am am') == frozenset()

def test_self_bleu_equals_the_quadratic_definition_via_nltk():
    from nltk.translate.bleu_score import corpus_bleu
    rng = random.Random(3)
    for _ in range(5):
        C = [[rng.choice('abcdef') for _ in range(rng.randint(4, 10))] for _ in range(15)] + [list('abcd')] * 2
        ours = self_bleu(C)
        for n in range(1, 5):
            ref = corpus_bleu([C[:i] + C[i + 1:] for i in range(len(C))], C, weights=(1 / n,) * n)
            assert abs(ours[f'self_bleu{n}'] - 100 * ref) < 1e-9
    s = self_bleu_stats(C, sample=5, seed=1)
    assert s['n_hyps'] == 5 and s == self_bleu_stats(C, sample=5, seed=1)


def test_sample_empathy_table_has_every_system_and_reproduces_its_rows():
    """The sample's empathy table (stage empathy_table) has the human row, every run of params.yaml and the retrieval floor,
    and each Emp-F1 equals what the committed levels files give."""
    import pandas as pd
    from reflectdiffu.evaluation.empathy import emp_f1
    from reflectdiffu.evaluation.empathy_table import read_levels
    R = ROOT/'reports'/'sample'
    runs = list(load_params(ROOT/'params.yaml', profile='sample')['variants'])
    df = pd.read_csv(R/'empathy.csv')
    assert df['system'].tolist() == ['human', *runs, 'retrieval']
    ids, ref = read_levels(R/'empathy'/'human'/'levels.tsv')
    for name, f1 in zip(df['system'], df['Emp-F1']):
        if name == 'human': assert pd.isna(f1); continue
        ids_n, hyp = read_levels(R/'empathy'/name/'levels.tsv')
        assert ids_n == ids
        assert abs(emp_f1(ref, hyp)['emp_f1'] - f1) < 1e-3, name
