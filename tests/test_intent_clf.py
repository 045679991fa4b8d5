"Intent classifier: label ids against the real data, reader errors, p_intent format and no use of the response."
from collections import Counter
import pytest, torch
from reflectdiffu.data.corpus import INTENTS, EMOTIONS, DataError
from reflectdiffu.features.intent_clf import (EI_LABELS, N_EI_LABELS, INTENT_EI_IDS, MANUAL_TO_INTENT, read_ei_train_file, read_ei_train,
    labels_txt_differences, check_extended_files, read_manual_annotations, intent_proba, p_intent_text, compute_p_intent,
    save_p_intent, load_p_intent, check_p_intent, IntentClassifier)
from conftest import ROOT, MIRROR

EI_ROOTS = [r for r in (MIRROR, ROOT/'sample') if (r/'empatheticintents'/'train_data').exists()]

def test_label_map_layout():
    assert EI_LABELS[:32] == tuple(EMOTIONS) and len(EI_LABELS) == N_EI_LABELS == 41
    assert dict(zip(range(32, 41), EI_LABELS[32:])) == {32: 'agreeing', 33: 'acknowledging', 34: 'encouraging', 35: 'consoling',
        36: 'sympathizing', 37: 'suggesting', 38: 'questioning', 39: 'wishing', 40: 'neutral'}
    assert [EI_LABELS[i] for i in INTENT_EI_IDS] == INTENTS

@pytest.mark.parametrize('root', EI_ROOTS, ids=lambda r: r.name)
def test_every_id_in_the_data_maps_to_a_name(root):
    ei = read_ei_train(root)
    for split, (labels, texts) in ei.items():
        assert len(labels) == len(texts) > 0
        ids = Counter(labels)
        assert set(ids) <= set(range(41)), split
        assert {EI_LABELS[i] for i in ids} == set(EI_LABELS), f"{split}: not all 41 labels occur"
    # upstream labels.txt agrees with our mapping except its known neutral,38 bug
    assert labels_txt_differences(root/'empatheticintents'/'train_data'/'labels.txt') == ['neutral: labels.txt says 38, the data use 40']

@pytest.mark.skipif(not (MIRROR/'empatheticintents').exists(), reason='full mirror absent')
def test_full_data_counts_and_extended_files_confirm_ids():
    ei = read_ei_train(MIRROR)
    assert {s: len(v[0]) for s, v in ei.items()} == {'train': 25023, 'valid': 3544, 'test': 3225}
    assert all(Counter(ei['train'][0])[i] == 610 for i in range(32, 41))
    for split in ('train', 'validation', 'test'):
        got = check_extended_files(MIRROR/'empatheticintents'/'lexically_extended_intent_data'/split)
        assert set(got) == set(INTENTS)
        assert got['neutral'].keys() == {40} and got['questioning'].keys() == {38} and got['wishing'].keys() == {39}

@pytest.mark.parametrize('root', EI_ROOTS, ids=lambda r: r.name)
def test_manual_annotations_mapping_counts_everything(root):
    d = root/'empatheticintents'/'manual_annotations'
    if not d.exists(): pytest.skip('no manual annotations')
    m = read_manual_annotations(d)
    total = sum(len([l for l in f.read_text(encoding='utf-8').splitlines() if l.strip()]) for f in d.glob('*.txt'))
    assert len(m['texts']) + sum(m['excluded'].values()) == total
    assert set(m['excluded']) == {k for k, v in MANUAL_TO_INTENT.items() if v is None}
    assert set(m['intents']) <= set(INTENTS) and 'neutral' not in m['intents']
    assert {f.stem for f in d.glob('*.txt')} == set(MANUAL_TO_INTENT)

@pytest.mark.parametrize('content, msg', [
    ('12 <SEP> ok\n12 no separator\n', "x.txt:2: expected 'LABEL_ID <SEP> text', found no ' <SEP> ' separator"),
    ('12 <SEP> ok\n\n99 <SEP> big\n', "x.txt:3: expected an integer label id in 0..40 before ' <SEP> ', got '99'"),
    ('neutral <SEP> words\n', "x.txt:1: expected an integer label id in 0..40 before ' <SEP> ', got 'neutral'"),
    ('3.5 <SEP> words\n', "got '3.5'"),
    ('40 <SEP> \n', "x.txt:1: expected a text after ' <SEP> ', got nothing"),
])
def test_reader_errors_name_file_line_and_expectation(tmp_path, content, msg):
    (tmp_path/'x.txt').write_text(content)
    with pytest.raises(DataError) as e: read_ei_train_file(tmp_path/'x.txt')
    assert msg in str(e.value)
    skips = []
    read_ei_train_file(tmp_path/'x.txt', strict=False, skips=skips)
    assert len(skips) == 1 and msg in str(skips[0])

def test_missing_split_file_names_path(tmp_path):
    with pytest.raises(DataError, match=r'train_data/train.txt: file not found'): read_ei_train(tmp_path)

def test_manual_annotations_errors(tmp_path):
    with pytest.raises(DataError, match='folder not found'): read_manual_annotations(tmp_path/'none')
    (tmp_path/'m').mkdir()
    with pytest.raises(DataError, match='no <fine_intent>.txt files'): read_manual_annotations(tmp_path/'m')
    (tmp_path/'m'/'Questioning.txt').write_text('Why?\n')
    with pytest.raises(DataError, match="Questioning.txt: unknown fine intent 'Questioning'"): read_manual_annotations(tmp_path/'m')

def test_intent_proba_rules():
    torch.manual_seed(0); lg = torch.randn(50, 41) * 3
    for rule in ('neutral', 'renorm'):
        p = intent_proba(lg, rule)
        assert p.shape == (50, 9) and torch.allclose(p.sum(-1), torch.ones(50), atol=1e-5) and (p >= 0).all()
    # renorm keeps the ratios of the intent probabilities
    full = lg.softmax(-1)[:, list(INTENT_EI_IDS)]
    assert torch.allclose(intent_proba(lg, 'renorm'), full / full.sum(-1, keepdim=True), atol=1e-5)
    # neutral: only the neutral column changes
    q, n = intent_proba(lg, 'neutral'), INTENTS.index('neutral')
    keep = [j for j in range(9) if j != n]
    assert torch.allclose(q[:, keep], full[:, keep], atol=1e-6) and (q[:, n] >= full[:, n]).all()

@pytest.fixture(scope='module')
def clf():
    return IntentClassifier.from_encoder(max_len=32, seed=0)

def test_p_intent_ignores_the_response(clf):
    ex = dict(id='c#1', context=[dict(text='I lost my job today.')], target=dict(text='Oh no, I am so sorry!'))
    ex2 = {**ex, 'target': dict(text='Congratulations, good luck!')}
    a, _ = compute_p_intent(clf, [ex], progress=False)
    b, _ = compute_p_intent(clf, [ex2], progress=False)
    assert torch.equal(a['p'], b['p'])
    # and it does depend on the context
    c, _ = compute_p_intent(clf, [{**ex, 'context': [dict(text='Where do you live?')]}], progress=False)
    assert not torch.equal(a['p'], c['p'])

def test_p_intent_text_errors():
    with pytest.raises(ValueError, match='example z#1: no context turns'): p_intent_text(dict(id='z#1', context=[]))
    with pytest.raises(ValueError, match='context_turns must be >= 0'): p_intent_text(dict(id='z#1', context=[dict(text='a')]), -1)

def test_cache_format_errors(tmp_path):
    good = dict(ids=['a', 'b'], p=torch.full((2, 9), 1 / 9), intents=list(INTENTS))
    save_p_intent(tmp_path/'p.pt', good)
    assert torch.load(tmp_path/'p.pt', weights_only=True)['intents'] == INTENTS
    with pytest.raises(ValueError, match="missing key 'p'"): check_p_intent(dict(ids=[], intents=INTENTS))
    with pytest.raises(ValueError, match='differ from INTENTS'): check_p_intent({**good, 'intents': INTENTS[::-1]})
    with pytest.raises(ValueError, match='duplicate example ids'): check_p_intent({**good, 'ids': ['a', 'a']})
    with pytest.raises(FileNotFoundError, match='dvc repro intent_clf'): load_p_intent(tmp_path/'none.pt')
    with pytest.raises(KeyError, match="example ids not in the cache, e.g. \\['c'\\]"): load_p_intent(tmp_path/'p.pt', ['a', 'c'])

@pytest.mark.skipif(not (ROOT/'out'/'sample'/'intent_clf'/'p_intent.pt').exists(), reason='intent_clf stage not run on the sample')
def test_sample_stage_outputs_cover_every_example():
    from reflectdiffu.data.corpus import read_jsonl
    ids = [e['id'] for s in ('train', 'valid', 'test') for e in read_jsonl(ROOT/'out'/'sample'/'prepare'/f'{s}.jsonl')]
    c = load_p_intent(ROOT/'out'/'sample'/'intent_clf'/'p_intent.pt')
    assert sorted(c['ids']) == sorted(ids)
    assert c['p'].dtype == torch.float32 and torch.allclose(c['p'].sum(-1), torch.ones(len(ids)), atol=1e-4)
    clf = IntentClassifier.load(ROOT/'out'/'sample'/'intent_clf'/'model.pt')
    assert len(clf.predict(['What happened next?', 'Good luck!'])) == 2
