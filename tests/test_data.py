"Readers, bad-input messages, fetch/verify and the full-mirror split counts."
import csv, shutil
from pathlib import Path
import pytest
from reflectdiffu.data.corpus import (EMOTIONS, EI_COLUMNS, ED_COLUMNS, DataError, Skips, load_examples, read_splits,
                               read_ed_csv, read_jsonl)
from reflectdiffu.data.fetch import fetch, verify, MANIFEST, SPLITS_FILE, splits_from_ed, verify_tree
from reflectdiffu.data.prepare import verify_inputs
from conftest import ROOT, MIRROR

HEAD = ','.join(EI_COLUMNS) + '\n'
GOOD = ('c1,situation,none,I heard a noise,afraid\n'
        'c1,utterance,speaker,"I heard sounds outside, scary",afraid\n'
        'c1,utterance,listener,Did you check?,questioning\n')

def ei_tree(tmp, afraid=GOOD, splits='Dialog_ID,split\nc1,train\nc2,valid\n', extra_files=()):
    ann = tmp/'empatheticdialogues/annotated'; ann.mkdir(parents=True)
    for e in EMOTIONS: (ann/f'{e}.csv').write_text(HEAD)
    (ann/'afraid.csv').write_text(HEAD + afraid)
    for name, text in extra_files: (ann/name).write_text(text)
    (tmp/'empatheticdialogues/splits.csv').write_text(splits)
    return tmp

def test_good_tree(tmp_path):
    ex = load_examples(ei_tree(tmp_path))
    assert [len(ex[s]) for s in ('train', 'valid', 'test')] == [1, 0, 0]
    assert ex['train'][0]['target']['tokens'] == ['did', 'you', 'check', '?']

@pytest.mark.parametrize('rows, msg', [
    ('c2,situation,none,x,afraid\nc2,utterance,speaker,only four fields\n', 'afraid.csv:6: expected 5 fields (Dialog_ID,Type,Actor,Text,Label), got 4'),
    ('c2,situation,none,x,afraid\nc2,utterance,listener,hi,questioning\n', 'afraid.csv:6: non-alternating turns in c2: expected a speaker turn (turn 0)'),
    ('c2,situation,none,x,afraid\nc2,utterance,speaker,   ,afraid\n', 'afraid.csv:6: empty speaker text in c2'),
    ('c2,situation,none,x,afraid\nc2,utterance,speaker,hi,afraid\nc2,utterance,listener,yo,happy\n', "afraid.csv:7: unknown listener label 'happy'"),
    ('c2,utterance,speaker,hi,afraid\n', 'afraid.csv:5: conversation c2 does not start with a situation row'),
    ('c2,situation,none,x,afraid\n', 'afraid.csv:5: conversation c2 has no utterances'),
])
def test_bad_rows_strict_and_lenient(tmp_path, rows, msg):
    root = ei_tree(tmp_path, GOOD + rows)
    with pytest.raises(DataError) as e: load_examples(root)
    assert msg in str(e.value)
    sk = Skips()
    ex = load_examples(root, strict=False, skips=sk)
    assert len(sk) == 1 and sk[0].conv == 'c2' and msg.split(': ', 1)[1][:20] in str(sk[0])
    assert len(ex['train']) == 1          # the good conversation survives, the bad one is counted

def test_unknown_emotion_file(tmp_path):
    root = ei_tree(tmp_path, extra_files=[('happy.csv', HEAD)])
    with pytest.raises(DataError, match=r"happy.csv: unknown emotion 'happy' \(the file name is the emotion label\)"): load_examples(root)

def test_missing_emotion_file(tmp_path):
    root = ei_tree(tmp_path); (root/'empatheticdialogues/annotated/sad.csv').unlink()
    with pytest.raises(DataError, match='missing emotion files: sad.csv'): load_examples(root)

def test_bad_header(tmp_path):
    root = ei_tree(tmp_path); (root/'empatheticdialogues/annotated/sad.csv').write_text('a,b\n')
    with pytest.raises(DataError, match=r"sad.csv:1: expected header Dialog_ID,Type,Actor,Text,Label"): load_examples(root)

def test_id_missing_from_split_file(tmp_path):
    root = ei_tree(tmp_path, splits='Dialog_ID,split\nc9,train\n')
    with pytest.raises(DataError, match=r'afraid.csv:2: conversation c1 is missing from the split file'): load_examples(root)
    sk = Skips(); load_examples(root, strict=False, skips=sk)
    assert [e.conv for e in sk] == ['c1']

def test_bad_split_file(tmp_path):
    p = tmp_path/'s.csv'; p.write_text('Dialog_ID,split\nc1,dev\n')
    with pytest.raises(DataError, match=r"s.csv:2: split 'dev' is not one of"): read_splits(p)

def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match=r'annotated: directory not found'): load_examples(tmp_path/'nowhere')

def test_duplicate_conversation(tmp_path):
    root = ei_tree(tmp_path, extra_files=[])
    (root/'empatheticdialogues/annotated/sad.csv').write_text(HEAD + GOOD)
    with pytest.raises(DataError, match='conversation c1 also appears in'): load_examples(root)

# --- layout (b): the official ED tarball -------------------------------------------------
EDH = ','.join(ED_COLUMNS) + '\n'

def test_ed_layout(tmp_path):
    p = tmp_path/'train.csv'
    p.write_text(EDH + 'hit:1_conv:2,1,sad,my dog died_comma_ sadly,0,my dog died_comma_ so sad,,\n'
                       'hit:1_conv:2,2,sad,my dog died_comma_ sadly,1,so sorry,,\n')
    (c,) = read_ed_csv(p)
    assert c['emotion'] == 'sad' and c['situation'] == 'my dog died, sadly'
    assert [t['role'] for t in c['turns']] == ['speaker', 'listener'] and c['turns'][0]['text'] == 'my dog died, so sad'

@pytest.mark.parametrize('row, msg', [
    ('hit:1_conv:2,1,sad,x,0,a,b,c,d,e\n', 'train.csv:2: malformed row: expected 8 or 9 comma-separated fields, got 10'),
    ('hit:1_conv:2,1,happy,x,0,a,,\n', "train.csv:2: unknown emotion 'happy'"),
    ('hit:1_conv:2,2,sad,x,0,a,,\n', 'train.csv:2: utterance_idx 2 out of order in hit:1_conv:2: expected 1'),
    ('hit:1_conv:2,1,sad,x,0, ,,\n', 'train.csv:2: empty utterance in hit:1_conv:2'),
])
def test_ed_bad_rows(tmp_path, row, msg):
    p = tmp_path/'train.csv'; p.write_text(EDH + row)
    with pytest.raises(DataError) as e: read_ed_csv(p)
    assert msg in str(e.value)
    sk = Skips(); assert read_ed_csv(p, strict=False, skips=sk) == [] and len(sk) == 1

def test_splits_from_ed(tmp_path):
    (tmp_path/'valid.csv').write_text(EDH + 'hit:1_conv:2,1,sad,x,0,a,,\n')
    (tmp_path/'test.csv').write_text(EDH + 'hit:3_conv:4,1,sad,x,0,a,,\n')
    assert splits_from_ed(tmp_path, ['hit:1_conv:2', 'hit:3_conv:4', 'hit:5_conv:6']) == {
        'hit:1_conv:2': 'valid', 'hit:3_conv:4': 'test', 'hit:5_conv:6': 'train'}

# --- fetch and verification --------------------------------------------------------------
def test_checksum_mismatch(tmp_path):
    p = tmp_path/'f'; p.write_text('x')
    with pytest.raises(DataError, match='checksum mismatch for rel/f: expected sha256 ' + '0' * 64): verify(p, '0' * 64, 'rel/f')

def test_mirror_missing(tmp_path):
    with pytest.raises(DataError, match='mirror directory not found'): fetch(tmp_path/'d', mirror=tmp_path/'nope')

def test_sample_verifies_and_tamper_is_caught(tmp_path):
    assert verify_inputs(ROOT/'sample') > 30
    shutil.copytree(ROOT/'sample', tmp_path/'s')
    with open(tmp_path/'s/empatheticdialogues/annotated/sad.csv', 'a') as f: f.write('x\n')
    with pytest.raises(DataError, match='checksum mismatch for empatheticdialogues/annotated/sad.csv'): verify_inputs(tmp_path/'s')

needs_mirror = pytest.mark.skipif(not (MIRROR/'empatheticdialogues').is_dir(), reason=f'no full-data mirror at {MIRROR}')

@needs_mirror
def test_fetch_from_mirror(tmp_path):
    r = fetch(tmp_path/'data', mirror=MIRROR)
    assert r['all_pinned'] and len(r['files']) == len(MANIFEST) and verify_tree(tmp_path/'data') == len(MANIFEST)
    (tmp_path/'data'/SPLITS_FILE).write_text('Dialog_ID,split\n')   # a corrupted copy is replaced on the next fetch
    assert fetch(tmp_path/'data', mirror=MIRROR)['files'][SPLITS_FILE] == 'verified'

@needs_mirror
def test_full_mirror_split_counts():
    ex = load_examples(MIRROR)
    assert {s: len(v) for s, v in ex.items()} == dict(train=40341, valid=5690, test=5232)
    assert all(len({e['emotion'] for e in v}) == 32 for v in ex.values())
    first = ex['test'][0]
    assert first['context'][0]['text'].startswith('Yeah about 10 years ago I had a horrifying experience')
    assert first['target']['text'] == 'Did you suffer any injuries?'

def test_read_jsonl_bad_line(tmp_path):
    p = tmp_path/'x.jsonl'; p.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(DataError, match=r'x.jsonl:2: not valid JSON'): read_jsonl(p)
