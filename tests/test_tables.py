"Tests of reflectdiffu.evaluation.tables: the paper's Table 2 data, bad inputs, and the written files."
import io, json, math, re, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import pandas as pd
import pytest

from reflectdiffu.evaluation import tables as T
from reflectdiffu.core.params import load_params

PAPER_MD = ROOT.parent / 'shared' / 'paper' / 'reflectdiffu.md'  # the paper text beside the checkout, where present
CSV = ROOT / 'reports/paper_table2.csv'


@pytest.mark.skipif(not PAPER_MD.exists(), reason='paper text not available')
def test_paper_csv_matches_the_printed_table():
    "Every number of reports/paper_table2.csv equals the paper's Table 2 cell ('-' = empty)."
    lines = PAPER_MD.read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith('Models\tRelevance'))
    printed = [[re.sub(r'</?b>', '', c).strip() for c in l.split('\t')] for l in lines[start + 2:start + 18]]
    raw = pd.read_csv(CSV, comment='#', dtype=str, keep_default_na=False)
    assert len(raw) == len(printed) == 16
    for (_, row), cells in zip(raw.iterrows(), printed):
        assert row.model == cells[0]
        assert [row[c] for c in T.PAPER_COLS] == ['' if x == '-' else x for x in cells[1:]], row.model


def test_read_paper_table_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match='paper table not found'):
        T.read_paper_table(tmp_path / 'nope.csv')
    bad = tmp_path / 'bad.csv'
    bad.write_text(CSV.read_text().replace(',0.98,4.35,', ',0.98,4.35x,'))
    # 2 comment lines + header: the ReflectDiffu row (12th) is line 15 of the file
    with pytest.raises(ValueError, match=r"bad.csv:15: row 'ReflectDiffu', column D-2: not a number: '4.35x'"):
        T.read_paper_table(bad)
    bad.write_text(CSV.read_text().replace('Acc_intent', 'AccIntent'))
    with pytest.raises(ValueError, match='expected columns'):
        T.read_paper_table(bad)


def _metrics(b1=20.0, rel_key='bertscore_f1[all-MiniLM-L6-v2,L6]', rel=0.6):
    m = dict(bleu1=b1, bleu2=10.0, bleu3=5.0, bleu4=3.0, dist1=1.0, dist2=4.0, ppl=30.0, ppl_token=28.0,
             acc_emo=40.0, acc_intent_pred=70.0, acc_intent_gen_vs_gold=55.0, acc_intent_realised=60.0)
    m[rel_key] = rel; m[rel_key + '.status'] = 'ok'
    return m


ROWS = T.paper_rows(load_params(ROOT/'params.yaml'))   # run -> paper row, from params.yaml


def test_build_table2_runs_and_diffs():
    paper = T.read_paper_table(CSV)
    ours = {v: _metrics(b1=20.0 + i) for i, v in enumerate(ROWS)}
    tab, legend = T.build_table2(paper, ours, 'sample', paper_rows=ROWS)
    assert len(tab) == 16 + len(ROWS) + sum(1 for m in ROWS.values() if m)   # a diff row only where the paper prints the run
    assert 'diff: trs - None' not in set(tab.row) and 'diff: mtrs - MTRS' in set(tab.row)
    t = tab.set_index('row')
    # diff: wo_twice - w/o Intent twice: B-1 (20 + 3) - 20.91; Acc_intent 70 - 66.44
    assert t.loc['diff: wo_twice - w/o Intent twice', 'B-1 / bleu1'] == pytest.approx(23.0 - 20.91)
    assert t.loc['diff: wo_twice - w/o Intent twice', 'Acc_intent / acc_intent_pred'] == pytest.approx(70 - 66.44)
    assert t.loc['ours (sample): wo_emu', 'acc_intent_realised'] == 60.0
    assert math.isnan(t.loc['diff: full - ReflectDiffu', 'BARTScore / bertscore_f1[all-MiniLM-L6-v2,L6]'])
    assert 'not BARTScore' in legend['BARTScore / bertscore_f1[all-MiniLM-L6-v2,L6]']


def test_relevance_difference_shown_for_an_mnli_checkpoint():
    paper = T.read_paper_table(CSV)
    key = 'bertscore_f1[deberta-xlarge-mnli,L40]'
    tab, _ = T.build_table2(paper, {'full': _metrics(rel_key=key, rel=0.55)}, paper_rows=ROWS)
    t = tab.set_index('row')
    assert t.loc['diff: full - ReflectDiffu', f'BARTScore / {key}'] == pytest.approx(0.55 - 0.5630)


def test_build_table2_bad_input(tmp_path):
    paper = T.read_paper_table(CSV)
    with pytest.raises(ValueError, match='variants disagree on the relevance metric'):
        T.build_table2(paper, {'full': _metrics(), 'wo_era': _metrics(rel_key='bertscore_f1[x,L3]')})
    m = _metrics(); del m['ppl']
    with pytest.raises(KeyError, match=r"metrics of variant 'full' \(f.json\) lack \['ppl'\]"):
        T.build_table2(paper, {'full': m}, sources={'full': 'f.json'})
    (tmp_path / 'full.json').write_text('{not json')
    with pytest.raises(ValueError, match='full.json: not valid JSON'):
        T.read_our_metrics({'full': tmp_path / 'full.json'})
    with pytest.raises(FileNotFoundError, match="metrics of variant 'wo_emu' not found"):
        T.read_our_metrics({'wo_emu': tmp_path / 'wo_emu.json'})


def test_write_table2_files(tmp_path):
    paper = T.read_paper_table(CSV)
    (tmp_path / 'full.json').write_text(json.dumps(_metrics()))
    ours = T.read_our_metrics({'full': tmp_path / 'full.json', 'wo_era': tmp_path / 'wo_era.json'}, allow_missing=True)
    tab, legend = T.build_table2(paper, ours, 'sample')
    paths = T.write_table2(tab, legend, tmp_path / 'out', title='Table 2')
    md, csv_text, tex = (paths[k].read_text() for k in ('md', 'csv', 'tex'))
    assert '| ours (sample): full |  | 20.00 | 10.00 |' in md
    back = pd.read_csv(io.StringIO(csv_text), comment='#')
    assert back.set_index('row').loc['CAB', 'D-2 / dist2'] == pytest.approx(2.95)
    assert back.set_index('row').loc['ours (sample): wo_era', 'source'] == 'missing: '
    assert tex.startswith(r'\begin{table*}') and tex.count(r' \\') == 1 + len(tab)


def test_seed_replicates_are_one_row_with_their_spread(tmp_path):
    "A base run and its replicates: one Table 2 row (their mean, `seeds` evaluated), the spread beside it; one seed: no spread."
    paper = T.read_paper_table(CSV)
    groups = {'full': ['full', 'full_s2', 'full_s3'], 'mime': ['mime']}
    ours = {'full': _metrics(), 'full_s2': {**_metrics(), 'bleu1': 22.0}, 'full_s3': None, 'mime': _metrics()}
    rows, src, n = T.group_rows(ours, groups, {r: f'{r}.json' for r in ours})
    assert n == {'full': 2, 'mime': 1} and 'not evaluated: full_s3' in src['full']
    tab, legend = T.build_table2(paper, rows, 'sample', src, paper_rows={'full': 'ReflectDiffu', 'mime': 'MIME'}, n_seeds=n)
    (tmp_path/'table2.csv').write_text(T.to_csv(tab, legend))
    back = T.read_table2_csv(tmp_path/'table2.csv').set_index('row')
    assert back.loc['ours (sample): full', 'seeds'] == 2 and back.loc['ours (sample): full', 'B-1 / bleu1'] == pytest.approx((_metrics()['bleu1'] + 22.0) / 2, abs=0.006)
    hl = T.headline_markdown(back.reset_index(), 'sample', {'full': 'ReflectDiffu', 'mime': 'MIME'})
    assert '**ours: full** (mean of 2 seeds)' in hl and '| **ours: mime** |' in hl
    sp = T.seed_spread(ours, groups, {'full': 1, 'full_s2': 2, 'full_s3': 3, 'mime': 1}).set_index(['group', 'metric'])
    assert sp.loc[('full', 'B-1'), 'n_seeds'] == 2 and sp.loc[('full', 'B-1'), 'max'] == 22.0 and sp.loc[('full', 'B-1'), 'not_evaluated'] == 'full_s3'
    assert sp.loc[('mime', 'B-1'), 'note'] == '1 seed' and pd.isna(sp.loc[('mime', 'B-1'), 'sd'])


def test_replicates_are_not_rows_of_their_own():
    P = load_params(ROOT/'params.yaml')
    reps = [r for r, v in P['variants'].items() if 'replicate_of' in v]
    assert reps and not set(reps) & set(T.paper_rows(P))
