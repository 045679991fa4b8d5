"The README's two commands are what CI runs, and the executable paper's index shows the same text."
import json, re
import yaml
from conftest import ROOT

# ReflectDiffu's rows (the runs of params.yaml that train the reflectdiffu system); baselines are read separately
RD_RUNS = [r for r, v in yaml.safe_load((ROOT/'params.yaml').read_text())['variants'].items()
           if v['system'] == 'reflectdiffu' and 'replicate_of' not in v]   # seed replicates are not rows of their own

def section(text, title):
    return text.split(f'## {title}\n', 1)[1].split('\n## ', 1)[0].strip()

def commands(text):
    return re.findall(r'```bash\n(.*?)\n```', section(text, 'Get started'), re.S)

def test_two_commands_and_ci_runs_them():
    cmds = commands((ROOT/'README.md').read_text())
    assert len(cmds) == 2, 'README: "Get started" must hold exactly two commands (setup + main job, tests)'
    ci = (ROOT/'.ci/run').read_text()
    for c in cmds: assert c in ci, f'.ci/run does not run the README command: {c}'
    assert 'dvc repro' in cmds[0] and 'pytest' in cmds[1]

def test_index_notebook_matches_readme():
    nb = json.loads((ROOT/'nbs/index.ipynb').read_text())
    cell = next(''.join(c['source']) for c in nb['cells'] if ''.join(c['source']).startswith('## Get started'))
    readme = (ROOT/'README.md').read_text()
    assert section(readme, 'Get started') in cell
    assert section(readme, 'The full data') in cell

def test_headline_table_is_generated_from_the_report():
    "The README's full-profile Table 2 block is exactly what `rd-readme-table` makes of reports/full/table2.csv."
    from reflectdiffu.evaluation.tables import readme_block, headline_markdown, read_table2_csv, paper_rows
    from reflectdiffu.core.params import load_params
    block = readme_block((ROOT/'README.md').read_text(), 'full')
    csv = ROOT/'reports/full/table2.csv'
    assert block == headline_markdown(read_table2_csv(csv), 'full', paper_rows(load_params(ROOT/'params.yaml'))), \
        'README is stale: run `rd-readme-table --profile full`'

def test_full_profile_rows_cover_the_whole_test_split():
    "Each committed full-profile evaluation scored all 5,232 test turns and kept its responses."
    import pandas as pd
    for m in sorted((ROOT/'reports/full/eval').glob('*/metrics.json')):
        d = json.loads(m.read_text())
        assert (d['profile'], d['n_responses']) == ('full', 5232), m
        r = pd.read_csv(m.parent/'responses.tsv', sep='\t', keep_default_na=False)
        assert len(r) == 5232 and r['id'].is_unique, m.parent/'responses.tsv'

def _reading_context():
    "What the README's reading of the full-profile rows is checked against: Table 2, the rows' files and the previous rows."
    import pandas as pd
    from reflectdiffu.evaluation.tables import read_table2_csv
    rep = ROOT/'reports/full'
    df = read_table2_csv(rep/'table2.csv').set_index('row')
    col = {c.split(' / ')[0]: c for c in df.columns if c not in ('row', 'source')}
    ran = [v for v in RD_RUNS if f'ours (full): {v}' in df.index and not str(df.loc[f'ours (full): {v}', 'source']).startswith('missing')]
    load = lambda p: json.loads(p.read_text())
    return dict(df=df, col=col, ran=ran, text=' '.join((ROOT/'README.md').read_text().split()),
                new={v: load(rep/'eval'/v/'metrics.json') for v in ran},
                old={v: load(rep/'previous/eval'/v/'metrics.json') for v in RD_RUNS},
                control={v: load(rep/'eval'/v/'control.json') for v in ran},
                oracle={v: load(rep/'eval'/v/'oracle_metrics.json') for v in ran},
                summary={v: load(rep/'train'/v/'summary.json') for v in ran})

def _claim(text, pattern):
    "The numbers of a README sentence; the sentence must be there (rewording it means updating this test)."
    m = re.search(pattern, text)
    assert m, f'README "Reading the rows" no longer says: {pattern!r}; update tests/test_readme.py with the prose'
    return [float(g) if re.fullmatch(r'-?[\d.]+', g) else g for g in m.groups()]

def _reading():
    "(README as one line, reports/full, the pattern of a 2-decimal number, claim -> floats, round to 2) for the readings' tests."
    t = ' '.join((ROOT/'README.md').read_text().split())
    return t, ROOT/'reports/full', r'([+-]?\d+\.\d+)', (lambda pattern: [float(g) for g in _claim(t, pattern)]), (lambda x: round(x, 2))


def _seed_spans(rep):
    "max - min over `full` and its seed replicates of each seed_spread.csv metric key, and of Emp-F1 ('emp_f1', from empathy.csv)."
    import pandas as pd
    v = yaml.safe_load((ROOT/'params.yaml').read_text())['variants']
    seeds = ['full'] + [k for k, x in v.items() if x.get('replicate_of') == 'full']
    ss = pd.read_csv(rep/'seed_spread.csv').query("group == 'full'").set_index('key')
    assert (ss['n_seeds'] == len(seeds)).all(), (ss['n_seeds'], seeds)
    span = {k: float(ss.loc[k, 'max'] - ss.loc[k, 'min']) for k in ss.index}
    ef1 = pd.read_csv(rep/'empathy.csv').set_index('system').loc[seeds, 'Emp-F1'].astype(float)
    return dict(span, emp_f1=float(ef1.max() - ef1.min()))


def test_reading_the_rows_matches_the_files():
    "Each number of the prose under the headline table is the one in the files it names (2 decimals)."
    C = _reading_context(); t, new, old = C['text'], C['new'], C['old']
    said = {1: 'One of the five rows', 2: 'Two of the five rows', 3: 'Three of the five rows', 4: 'Four of the five rows', 5: 'All five rows'}
    assert said[len(C['ran'])] in t and all(f'`{v}`' in t for v in C['ran']), C['ran']
    for v in C['ran']:
        s = C['summary'][v]
        assert (s['steps'], s['num_threads']) == (16000, 1), (v, s['steps'], s['num_threads'])
        assert new[v]['n_responses'] == 5232
    close = lambda a, b: abs(a - b) < 0.0051
    pairs = [('BLEU-1', 'bleu1'), ('PPL', 'ppl'), ('Distinct-2', 'dist2'), ('Acc_emo', 'acc_emo'), ('final-intent accuracy', 'acc_intent_pred')]
    for name, key in pairs:
        a, b = _claim(t, rf'{re.escape(name)} ([\d.]+) → ([\d.]+)')
        assert close(a, old['full'][key]) and close(b, new['full'][key]), (name, a, b, old['full'][key], new['full'][key])
    assert "Steering doubles the diversity and raises the final-intent accuracy, and costs about 4 PPL points" in t
    n, o = new['full'], old['full']
    assert all(1.8 < n[k] / o[k] < 2.2 for k in ('dist1', 'dist2')) and n['acc_intent_pred'] > o['acc_intent_pred'], (n, o)
    assert 3.5 <= n['ppl'] - o['ppl'] < 4.5 and 'which is right for about two turns in five' in t and 35 <= n['acc_intent_pred'] < 45
    x, y = _claim(t, r'for ([\d.]+)% of test turns \(`acc_intent_realised`; ([\d.]+)% before')
    assert close(x, new['full']['acc_intent_realised']) and close(y, old['full']['acc_intent_realised'])
    z, = _claim(t, r'([\d.]+)% of the responses realise the forced intent')
    assert close(z, C['control']['full']['control_success']) and C['control']['full']['n_contexts'] == 300
    o1, o2 = _claim(t, r'with the gold response intent instead .{0,400}?BLEU-1 is ([\d.]+) and PPL ([\d.]+)')
    assert close(o1, C['oracle']['full']['bleu1']) and close(o2, C['oracle']['full']['ppl'])
    e, f = _claim(t, r'Acc_emo of `full` is ([\d.]+), (?:below|above) the bag-of-words floor \(([\d.]+)\)')
    assert close(e, new['full']['acc_emo'])
    assert close(f, float(C['df'].loc['floor: bag-of-words', C['col']['Acc_emo']]))
    side = 'below' if e < f else 'above'
    assert f'Acc_emo of `full` is {e:.2f}, {side} the bag-of-words floor' in t


def test_floors_reading_matches_the_table():
    "The README's reading of the floor rows holds in reports/full/table2.csv; each row's side of the bag-of-words floor is said."
    from reflectdiffu.evaluation.tables import read_table2_csv
    csv = ROOT/'reports/full/table2.csv'
    df = read_table2_csv(csv).set_index('row')
    text = ' '.join((ROOT/'README.md').read_text().split())
    col = {c.split(' / ')[0]: c for c in df.columns if c not in ('row', 'source')}
    ran = [v for v in RD_RUNS if f'ours (full): {v}' in df.index and not str(df.loc[f'ours (full): {v}', 'source']).startswith('missing')]
    ours = lambda v, c: float(df.loc[f'ours (full): {v}', col[c]])
    fl = lambda f, c: float(df.loc[f'floor: {f}', col[c]])
    for v in ran:      # the rule: the README says on which side of the bag-of-words floor every row is
        for c in ('Acc_emo', 'Acc_intent'):
            side = 'below' if ours(v, c) < fl('bag-of-words', c) else 'above'
            assert re.search(rf'`{v}`[^.]*{side} the bag-of-words floor on [^.]*{c}', text), (v, c, side)
    base = [v for v, e in yaml.safe_load((ROOT/'params.yaml').read_text())['variants'].items()
            if e['system'] != 'reflectdiffu' and 'replicate_of' not in e and f'ours (full): {v}' in df.index]
    num = lambda x: isinstance(x, (int, float)) and x == x
    emo = [v for v in base if num(df.loc[f'ours (full): {v}', col['Acc_emo']])]   # the baselines that predict the emotion and ran
    assert emo, 'no baseline with an Acc_emo on the full data'
    for v in emo:      # the same rule for the baselines that predict the emotion
        side = 'below' if ours(v, 'Acc_emo') < fl('bag-of-words', 'Acc_emo') else 'above'
        assert re.search(rf'`{v}`[^.]*{side} the bag-of-words floor on [^.]*Acc_emo', text), (v, side)
    claim = 'scores lower than every row of ours on BLEU-1..4 and the relevance column, and far higher on Distinct-1/2'
    assert claim in text, 'README floors paragraph reworded: update tests/test_readme.py'
    for c in ['B-1', 'B-2', 'B-3', 'B-4', 'BARTScore']: assert all(fl('retrieval', c) < ours(v, c) for v in ran), c
    for c in ['D-1', 'D-2']: assert all(fl('retrieval', c) > 2 * ours(v, c) for v in ran), c
    assert "the gold responses' Distinct-1/2 are higher still" in text
    for c in ['D-1', 'D-2']: assert fl('human', c) > fl('retrieval', c), c
    assert 'All five previous rows were below it on both.' in text
    prev = {v: json.loads((ROOT/f'reports/full/previous/eval/{v}/metrics.json').read_text()) for v in RD_RUNS}
    assert all(m['acc_emo'] < fl('bag-of-words', 'Acc_emo') and m['acc_intent_pred'] < fl('bag-of-words', 'Acc_intent') for m in prev.values())


def test_intent_twice_and_baseline_reading_matches_the_files():
    "The README's reading of wo_twice and trs against full: every number is the one in significance.csv / metrics.json."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    sig = pd.read_csv(ROOT/'reports/full/significance.csv').set_index(['system', 'metric'])
    paper = pd.read_csv(ROOT/'reports/paper_table2.csv', comment='#').set_index('model')
    m = {v: json.loads((ROOT/f'reports/full/eval/{v}/metrics.json').read_text()) for v in ('full', 'wo_twice', 'trs')}
    close = lambda a, b: abs(a - b) < 0.0051
    _num = lambda text, pattern: [float(g) for g in _claim(text, pattern)]   # signed numbers ("+0.21") as floats
    def ci(system, metric):
        r = sig.loc[(system, metric)]
        return [round(float(r[k]), 2) for k in ('diff', 'lo', 'hi')]
    d, lo, hi = _num(t, r'BLEU-1 ([+-]?[\d.]+) \[([+-]?[\d.]+), ([+-]?[\d.]+)\] and final-intent accuracy')
    assert [d, lo, hi] == ci('wo_twice', 'bleu1'), (d, lo, hi, ci('wo_twice', 'bleu1'))
    d, lo, hi = _num(t, r'final-intent accuracy ([+-]?[\d.]+) \[([+-]?[\d.]+), ([+-]?[\d.]+)\] points without it')
    assert [d, lo, hi] == ci('wo_twice', 'acc_intent_pred')
    pb, pa = _num(t, r"by less than the paper's ([+-]?[\d.]+) BLEU-1 and ([+-]?[\d.]+) Acc_intent")
    P = lambda row, c: float(paper.loc[row, c])
    assert close(pb, P('w/o Intent twice', 'B-1') - P('ReflectDiffu', 'B-1')) and close(pa, P('w/o Intent twice', 'Acc_intent') - P('ReflectDiffu', 'Acc_intent'))
    assert ci('wo_twice', 'bleu1')[2] < 0 and ci('wo_twice', 'acc_intent_pred')[2] < 0      # "the mechanism does help here"
    d, lo, hi, pp = _num(t, r'PPL does not move \(([+-]?[\d.]+) \[([+-]?[\d.]+), ([+-]?[\d.]+)\], the paper: \+([\d.]+)\)')
    assert [d, lo, hi] == ci('wo_twice', 'ppl') and lo < 0 < hi and close(pp, P('w/o Intent twice', 'PPL') - P('ReflectDiffu', 'PPL'))
    a, b, pv = _num(t, r'Distinct-2 is higher without it \(([\d.]+) against ([\d.]+), randomisation p ([\d.]+)\)')
    assert close(a, m['wo_twice']['dist2']) and close(b, m['full']['dist2']) and pv == round(float(sig.loc[('wo_twice', 'dist2'), 'p']), 3)
    b1, b0, d, lo, hi = _num(t, r'BLEU-1 ([\d.]+) against ([\d.]+) \(([+-]?[\d.]+) \[([+-]?[\d.]+), ([+-]?[\d.]+)\]\) and PPL')
    assert close(b1, m['trs']['bleu1']) and close(b0, m['full']['bleu1']) and [d, lo, hi] == ci('trs', 'bleu1')
    p1, p0, d, lo, hi = _num(t, r'PPL ([\d.]+) against ([\d.]+) \(([+-]?[\d.]+) \[([+-]?[\d.]+), ([+-]?[\d.]+)\]\), with lower')
    assert close(p1, m['trs']['ppl']) and close(p0, m['full']['ppl']) and [d, lo, hi] == ci('trs', 'ppl')
    x, y = _num(t, r'lower Distinct-2 \(([\d.]+) against ([\d.]+)\)')
    assert close(x, m['trs']['dist2']) and close(y, m['full']['dist2']) and x < y
    assert 'scores higher than our `full` on every BLEU and on PPL' in t
    assert all(m['trs'][f'bleu{n}'] > m['full'][f'bleu{n}'] for n in (1, 2, 3, 4)) and m['trs']['ppl'] < m['full']['ppl']


def test_emu_reading_matches_the_files():
    "The README's reading of wo_emu against full: every number is the one in significance.csv or the paper's table."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    sig = pd.read_csv(ROOT/'reports/full/significance.csv').set_index(['system', 'metric'])
    paper = pd.read_csv(ROOT/'reports/paper_table2.csv', comment='#').set_index('model')
    P = lambda c: float(paper.loc['w/o EMU', c]) - float(paper.loc['ReflectDiffu', c])
    ci = lambda metric: [round(float(sig.loc[('wo_emu', metric), k]), 2) for k in ('diff', 'lo', 'hi')]
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    n = r'([+-]?[\d.]+)'
    d, lo, hi, d2, p2 = num(rf'Against `full` \(\[`significance.md`\]\(reports/full/significance.md\)\): BLEU-1 {n} \[{n}, {n}\] and Distinct-2 {n} \(randomisation p {n}\) without it')
    assert [d, lo, hi] == ci('bleu1') and hi < 0
    assert d2 == round(float(sig.loc[('wo_emu', 'dist2'), 'diff']), 2) and p2 == round(float(sig.loc[('wo_emu', 'dist2'), 'p']), 3) and p2 < 0.05
    pb, pd2 = num(rf"about the size of the paper's {n} BLEU-1 and {n} Distinct-2")
    assert abs(pb - P('B-1')) < 0.0051 and abs(pd2 - P('D-2')) < 0.0051 and (d < 0) == (pb < 0) and (d2 < 0) == (pd2 < 0)
    d, lo, hi, pp = num(rf'PPL does not move \({n} \[{n}, {n}\], the paper: {n}\), and Acc_emo')
    assert [d, lo, hi] == ci('ppl') and lo < 0 < hi and abs(pp - P('PPL')) < 0.0051
    d, lo, hi, pe = num(rf'Acc_emo is lower by {n} \[{n}, {n}\], an interval that includes 0 \(the paper: {n}\)')
    assert [d, lo, hi] == ci('acc_emo') and d < 0 and lo < 0 < hi and abs(pe - P('Acc_emo')) < 0.0051


def test_answer_so_far_matches_the_files():
    "'The answer so far': the seed spans, the rule's verdicts and every range it quotes come from the files."
    import pandas as pd
    t, rep, n, num, r2 = _reading()
    v = yaml.safe_load((ROOT/'params.yaml').read_text())['variants']
    base = [k for k, e in v.items() if e['system'] != 'reflectdiffu' and 'replicate_of' not in e]
    abl = [k for k in RD_RUNS if k != 'full']
    sig = pd.read_csv(rep/'significance.csv').set_index(['system', 'metric'])
    emp = pd.read_csv(rep/'empathy_significance.csv').set_index(['system', 'metric'])
    span = _seed_spans(rep)
    got = num(rf'the three seeds of `full` span {n} BLEU-1, {n} PPL, {n} Acc_emo and {n} final-intent points')
    assert got == [r2(span[k]) for k in ('bleu1', 'ppl', 'acc_emo', 'acc_intent_pred')], (got, span)
    def counts(system, metric):                  # the rule: the paired interval excludes 0 and |diff| exceeds the seeds' span
        r = sig.loc[(system, metric)]
        return (r['lo'] > 0 or r['hi'] < 0) and abs(r['diff']) > span[metric]
    diff = lambda system, metric: float(sig.loc[(system, metric), 'diff'])
    assert sorted(base) == ['mime', 'moel', 'mtrs', 'trs'] and '(`trs`, `mtrs`, `moel`, `mime`)' in t
    # baselines: PPL (every one lower than full's), Acc_emo (those that predict it), BLEU-1 (none counts)
    lo, hi = num(rf'`full` has the higher PPL, by {n} to {n} points')
    assert all(counts(b, 'ppl') and diff(b, 'ppl') < 0 for b in base)
    assert [lo, hi] == [r2(min(-diff(b, 'ppl') for b in base)), r2(max(-diff(b, 'ppl') for b in base))]
    emo = [b for b in base if (b, 'acc_emo') in sig.index]
    assert sorted(emo) == ['mime', 'moel', 'mtrs'] and all(counts(b, 'acc_emo') and diff(b, 'acc_emo') < 0 for b in emo)
    lo, hi = num(rf'reads the emotion better than the three that predict it, by {n} to {n} points')
    assert [lo, hi] == [r2(min(-diff(b, 'acc_emo') for b in emo)), r2(max(-diff(b, 'acc_emo') for b in emo))]
    (mx,) = num(rf'no BLEU-1 difference to them \(at most {n}\) is larger than the seed')
    assert mx == r2(max(abs(diff(b, 'bleu1')) for b in base)) and not any(counts(b, 'bleu1') for b in base)
    # ablations: which ones count, on which column
    named = {'intent twice': 'wo_twice', 'the experts': 'wo_experts', 'the ERA': 'wo_era'}
    a1, a2, a3 = _claim(t, r'removing (intent twice|the experts|the ERA), (intent twice|the experts|the ERA) or (intent twice|the experts|the ERA) lowers the final-intent accuracy')
    d = num(rf'lowers the final-intent accuracy, by {n}, {n} and {n} points, and removing the ERA lowers Acc_emo, by {n};')
    assert sorted(a for a in abl if counts(a, 'acc_intent_pred')) == sorted(named[x] for x in (a1, a2, a3))
    assert d[:3] == [r2(-diff(named[x], 'acc_intent_pred')) for x in (a1, a2, a3)]
    assert [a for a in abl if counts(a, 'acc_emo')] == ['wo_era'] and d[3] == r2(-diff('wo_era', 'acc_emo'))
    assert 'removing the EMU passes the rule on none of these four columns' in t
    assert not any(counts('wo_emu', m) for m in ('bleu1', 'ppl', 'acc_emo', 'acc_intent_pred'))
    assert 'no ablation moves BLEU-1 or PPL by more than the seed does' in t
    assert all(abs(diff(a, m)) < span[m] for a in abl for m in ('bleu1', 'ppl'))
    # Emp-F1: above every baseline, intervals excluding 0, by more than the seeds' span; no ablation moves it by more
    lo, hi = num(rf"`full`'s Emp-F1 is above the four baselines', by {n} to {n} with intervals that exclude 0")
    e = {b: emp.loc[(b, 'emp_f1')] for b in base}
    assert all(r['hi'] < 0 for r in e.values())
    assert [lo, hi] == [r2(min(-r['diff'] for r in e.values())), r2(max(-r['diff'] for r in e.values()))]
    (es,) = num(rf'more than the {n} points its three seeds span')
    assert es == r2(span['emp_f1']) and min(-r['diff'] for r in e.values()) > span['emp_f1']
    assert all(abs(float(emp.loc[(a, 'emp_f1'), 'diff'])) < span['emp_f1'] for a in abl)
    # the closing sentence: PPL reversed against the paper's three printed baselines, BLEU-1 not reproduced; under the floor
    tab = pd.read_csv(ROOT/'reports/paper_table2.csv', comment='#').set_index('model')
    m = json.loads((rep/'eval/full/metrics.json').read_text())
    for b, row in (('mtrs', 'MTRS'), ('moel', 'MOEL'), ('mime', 'MIME')):
        mb = json.loads((rep/f'eval/{b}/metrics.json').read_text())
        assert tab.loc['ReflectDiffu', 'PPL'] < tab.loc[row, 'PPL'] and m['ppl'] > mb['ppl']          # reversed
        assert tab.loc['ReflectDiffu', 'B-1'] > tab.loc[row, 'B-1'] and not counts(b, 'bleu1')       # not reproduced
    assert "the paper's PPL gains over MTRS, MoEL and MIME are reversed here and its BLEU-1 gains are not reproduced" in t
    C = _reading_context(); df, col = C['df'], C['col']
    floor = float(df.loc['floor: bag-of-words', col['Acc_emo']])
    (f,) = num(rf'stays below the bag-of-words floor on Acc_emo \({n}\)')
    ours = [r for r in df.index if r.startswith('ours (full): ') and pd.notna(df.loc[r, col['Acc_emo']])]
    assert f == r2(floor) and len(ours) == 8 and all(float(df.loc[r, col['Acc_emo']]) < floor for r in ours)
    # the ablation paragraphs read against the same spans
    assert num(rf'`full`\'s three seeds span {n} final-intent and {n} Distinct-2 points\); the BLEU-1 loss is not \({n}\)') == \
        [r2(span['acc_intent_pred']), r2(span['dist2']), r2(span['bleu1'])]
    assert counts('wo_twice', 'acc_intent_pred') and not counts('wo_twice', 'bleu1')
    assert abs(diff('wo_twice', 'dist2')) > span['dist2'] and sig.loc[('wo_twice', 'dist2'), 'p'] < 0.05
    assert num(rf'within what the seed alone moves \(`full`\'s three seeds span {n} BLEU-1 and {n} Distinct-2 points\)') == [r2(span['bleu1']), r2(span['dist2'])]
    assert abs(diff('wo_emu', 'bleu1')) < span['bleu1'] and abs(diff('wo_emu', 'dist2')) < span['dist2']


def test_era_and_experts_readings_against_the_seed_span():
    "'Does ERA help?' and 'Do the contrastive experts help?' say which differences exceed the span of full's three seeds."
    import pandas as pd
    t, rep, n, num, r2 = _reading()
    sig = pd.read_csv(rep/'significance.csv').set_index(['system', 'metric'])
    span = _seed_spans(rep)
    esig = pd.read_csv(rep/'empathy_significance.csv').set_index(['system', 'metric'])
    d = lambda s, m: abs(float((esig if m == 'emp_f1' else sig).loc[(s, m), 'diff']))
    a, b, c, e = num(rf"larger than what the seed alone moves \({n} and {n} points across `full`'s three seeds\), the Distinct-2 and Emp-F1 ones are not \({n} and {n}\)")
    assert [a, b, c, e] == [r2(span[k]) for k in ('acc_emo', 'acc_intent_pred', 'dist2', 'emp_f1')]
    assert d('wo_era', 'acc_emo') > span['acc_emo'] and d('wo_era', 'acc_intent_pred') > span['acc_intent_pred']
    assert d('wo_era', 'dist2') < span['dist2'] and d('wo_era', 'emp_f1') < span['emp_f1']
    a, b, c, e = num(rf"Of these only the final-intent loss is larger than what the seed alone moves \({n} points across `full`'s three seeds; BLEU-1 {n}, PPL {n}, Distinct-2 {n}\)")
    assert [a, b, c, e] == [r2(span[k]) for k in ('acc_intent_pred', 'bleu1', 'ppl', 'dist2')]
    assert d('wo_experts', 'acc_intent_pred') > span['acc_intent_pred'] and all(d('wo_experts', k) < span[k] for k in ('bleu1', 'ppl', 'dist2'))


def test_empathy_block_and_reading_match_the_files():
    "The README's empathy table is the one of reports/full/empathy.md, and every number of its reading is in the files."
    import pandas as pd
    raw = (ROOT/'README.md').read_text()
    b, e = '<!-- empathy:full:begin -->\n', '<!-- empathy:full:end -->'
    assert raw.count(b) == 1 and raw.count(e) == 1
    block = raw.split(b, 1)[1].split(e, 1)[0]
    assert block.startswith('| system |') and block in (ROOT/'reports/full/empathy.md').read_text()
    t = ' '.join(raw.split())
    R = ROOT/'reports/full'
    ident = json.loads((R/'empathy/identifiers.json').read_text())
    for m in ('ER', 'IP', 'EX'):
        a, f = _claim(t, rf'\b{m} ([\d.]+) / ([\d.]+)')
        assert (a, f) == (round(ident[m]['test']['accuracy'], 2), round(ident[m]['test']['macro_f1'], 2)), m
    sig = pd.read_csv(R/'empathy_significance.csv').set_index(['system', 'metric'])
    main = pd.read_csv(R/'empathy.csv').set_index('system')
    ci = lambda s: [round(float(sig.loc[(s, 'emp_f1'), k]), 2) for k in ('diff', 'lo', 'hi')]
    n = r'([+-]?[\d.]+)'
    for s, pat in (('trs', rf'\(`trs` {n} \[{n}, {n}\]'), ('wo_emu', rf'than `wo_emu` \({n} \[{n}, {n}\]\)'),
                   ('retrieval', rf'retrieval floor \({n} \[{n}, {n}\]\)'), ('wo_twice', rf'`wo_twice` is higher than `full` \({n} \[{n}, {n}\]\)')):
        got = [float(x) for x in _claim(t, pat)]
        assert got == ci(s), (s, got, ci(s))
        assert (got[2] < 0) if s != 'wo_twice' else (got[1] > 0), s      # the direction the prose states, beyond test noise
    share = lambda s, m: round(float(main.loc[s, f'{m} ≥1 %']), 2)
    x, y, z = [float(v) for v in _claim(t, r"EX at level 1 or 2: ([\d.]+)% of `full`'s responses, ([\d.]+)% of `trs`'s, ([\d.]+)% of the gold")]
    assert (x, y, z) == (share('full', 'EX'), share('trs', 'EX'), share('human', 'EX'))
    x, y, z = [float(v) for v in _claim(t, r'ER at level 1 or 2: ([\d.]+)% for `full`, ([\d.]+)% for `trs`, ([\d.]+)% for the gold')]
    assert (x, y, z) == (share('full', 'ER'), share('trs', 'ER'), share('human', 'ER')) and z < x < y   # "`trs` most"
    f1 = lambda s, m: round(float(main.loc[s, f'F1 {m}']), 2)
    a, b = [float(v) for v in _claim(t, r'the gain is in emotional reactions \(F1 ER ([\d.]+) against ([\d.]+); the other two mechanisms within about a point\)')]
    assert (a, b) == (f1('full', 'ER'), f1('trs', 'ER')) and all(abs(f1('full', m) - f1('trs', m)) < 1.5 for m in ('IP', 'EX'))
    a, b = [float(v) for v in _claim(t, r'without a higher EX F1 \(([\d.]+) against ([\d.]+)\)')]
    assert (a, b) == (f1('full', 'EX'), f1('trs', 'EX')) and sig.loc[('trs', 'f1.EX'), 'lo'] < 0 < sig.loc[('trs', 'f1.EX'), 'hi']
    x, y = [float(v) for v in _claim(t, r'rarely interprets \(IP: ([\d.]+)% for `full`, ([\d.]+)% for the gold')]
    assert (x, y) == (share('full', 'IP'), share('human', 'IP')) and x < y
    # the seeds: how far Emp-F1 moves with the seed alone, against the ablations', the retrieval floor's and the baselines' differences
    e2, e3, *d = _claim(t, rf'Seeds 2 and 3 of `full` score Emp-F1 {n} and {n}, {n} \[{n}, {n}\] and {n} \[{n}, {n}\] above seed 1234')
    assert [e2, e3] == [round(float(main.loc[s, 'Emp-F1']), 2) for s in ('full_s2', 'full_s3')]
    assert [float(x) for x in d] == ci('full_s2') + ci('full_s3') and sig.loc[('full_s2', 'emp_f1'), 'lo'] > 0 and sig.loc[('full_s3', 'emp_f1'), 'lo'] > 0
    span = _seed_spans(R)['emp_f1']
    got = [float(x) for x in _claim(t, rf'by more than `wo_twice` \({n}\), `wo_emu` \({n}\), `wo_era` \({n}\) or the retrieval floor \({n}\) differ from `full`')]
    assert got == [ci(s)[0] for s in ('wo_twice', 'wo_emu', 'wo_era', 'retrieval')] and all(abs(g) < span for g in got)
    lo, hi = [float(x) for x in _claim(t, rf'those of the four baselines \({n} to {n}\) are larger than the seeds\' span')]
    bd = [ci(s)[0] for s in ('trs', 'mtrs', 'moel', 'mime')]
    assert [lo, hi] == [max(bd), min(bd)] and all(-x > span for x in bd)


def _baseline(run):
    """What a README baseline reading is checked against: the text, reports/full, the paired intervals of `run` vs full
    (metrics, empathy), the empathy table, the paper's Table 2, a closeness test and a matcher of the sentence's numbers."""
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    R = ROOT/'reports/full'
    sig = pd.read_csv(R/'significance.csv').set_index(['system', 'metric'])
    esig = pd.read_csv(R/'empathy_significance.csv').set_index(['system', 'metric'])
    emp = pd.read_csv(R/'empathy.csv').set_index('system')
    paper = pd.read_csv(ROOT/'reports/paper_table2.csv', comment='#').set_index('model')
    close = lambda a, b: abs(a - b) < 0.0051
    ci = lambda s, metric: [round(float(s.loc[(run, metric), k]), 2) for k in ('diff', 'lo', 'hi')]
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    return t, R, sig, esig, emp, paper, close, ci, r'([+-]?[\d.]+)', num


def test_trs_reading_against_the_seed_span():
    "The TRS paragraph: the PPL cost exceeds the span of full's seeds, the BLEU-1 and Distinct-2 differences do not."
    t, R, sig, esig, emp, paper, close, ci, n, num = _baseline('trs')
    span = _seed_spans(R)
    a, b, c = num(rf"cost PPL against the plain baseline, by more than the seed of `full` moves it \({n}\), while the BLEU-1 and Distinct-2 differences lie within the seed's span \({n} and {n}\)")
    assert [a, b, c] == [round(span[k], 2) for k in ('ppl', 'bleu1', 'dist2')]
    assert ci(sig, 'ppl')[2] < 0 and abs(float(sig.loc[('trs', 'ppl'), 'diff'])) > span['ppl']
    assert all(abs(float(sig.loc[('trs', k), 'diff'])) < span[k] for k in ('bleu1', 'dist2'))


def test_mime_ranking_against_the_seed_span():
    "The MIME paragraph's last sentence: which of the paper's rankings hold, are reversed or are within the seed's span."
    t, R, sig, esig, emp, paper, close, ci, n, num = _baseline('mime')
    span = _seed_spans(R)
    assert "ranking of ReflectDiffu above MIME holds here for Acc_emo and Emp-F1 and is reversed for PPL, each by more than the seed of `full` moves it" in t
    P = lambda c: float(paper.loc['ReflectDiffu', c]) - float(paper.loc['MIME', c])
    assert P('Acc_emo') > 0 and ci(sig, 'acc_emo')[2] < 0 and -ci(sig, 'acc_emo')[0] > span['acc_emo']    # holds
    assert ci(esig, 'emp_f1')[2] < 0 and -ci(esig, 'emp_f1')[0] > span['emp_f1']                         # holds (no paper value: EmpRL's metric)
    assert P('PPL') < 0 and ci(sig, 'ppl')[2] < 0 and -ci(sig, 'ppl')[0] > span['ppl']                    # reversed: MIME's PPL is lower here
    lead, sp = num(rf"MIME's BLEU-1 lead \({n}\) is within that seed's span \({n}\)")
    assert lead == ci(sig, 'bleu1')[0] and sp == round(span['bleu1'], 2) and abs(lead) < span['bleu1'] and P('B-1') > 0


def test_mime_reading_matches_the_files():
    "The README's reading of mime against full and against the paper's MIME row: every number is in the files it names."
    t, R, sig, esig, emp, paper, close, ci, n, num = _baseline('mime')
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in ('full', 'mime')}
    for name, key in (('BLEU-1', 'bleu1'), ('PPL', 'ppl'), ('Acc_emo', 'acc_emo')):
        a, b, d, lo, hi = num(rf'on {name}, {n} against {n} \({n} \[{n}, {n}\]\)')
        assert close(a, m['mime'][key]) and close(b, m['full'][key]) and [d, lo, hi] == ci(sig, key), name
        assert hi < 0 or lo > 0, f'{name}: the README reads it as a difference, the interval must exclude 0'
    assert m['mime']['bleu1'] > m['full']['bleu1'] and m['mime']['ppl'] < m['full']['ppl'] and m['mime']['acc_emo'] < m['full']['acc_emo']
    a, b, p = num(rf'on Distinct-2, {n} against {n} \(randomisation p {n}\)')
    assert close(a, m['mime']['dist2']) and close(b, m['full']['dist2']) and p == round(float(sig.loc[('mime', 'dist2'), 'p']), 3) and p < 0.05
    a, b, d, lo, hi = num(rf'on Emp-F1, {n} against {n} \({n} \[{n}, {n}\]\)')
    assert close(a, emp.loc['mime', 'Emp-F1']) and close(b, emp.loc['full', 'Emp-F1']) and [d, lo, hi] == ci(esig, 'emp_f1') and hi < 0
    a, b = num(rf'\(F1 ER {n} against {n}\)\. Our MIME')
    assert close(a, emp.loc['mime', 'F1 ER']) and close(b, emp.loc['full', 'F1 ER'])
    b1, pp, acc = num(rf"near the paper's printed MIME row on BLEU-1 \({n}\) and better than it on PPL \({n}\) and Acc_emo \({n}\)")
    assert (b1, pp, acc) == tuple(float(paper.loc['MIME', c]) for c in ('B-1', 'PPL', 'Acc_emo'))
    assert abs(m['mime']['bleu1'] - b1) < 0.5 and m['mime']['ppl'] < pp and m['mime']['acc_emo'] > acc
    rb, rp = num(rf"far from the paper's ReflectDiffu \(BLEU-1 {n}, PPL {n}\)")
    assert (rb, rp) == (float(paper.loc['ReflectDiffu', 'B-1']), float(paper.loc['ReflectDiffu', 'PPL']))
    assert rb - m['full']['bleu1'] > 3 and m['full']['ppl'] - rp > 5


def test_mtrs_reading_matches_the_files():
    "The README's reading of mtrs against full, the paper's MTRS row and trs: every number is in the files it names."
    import pandas as pd
    t, R, sig, esig, emp, paper, close, ci, n, num = _baseline('mtrs')
    cmp = pd.read_csv(R/'compare/mtrs_vs_trs/compare.csv').set_index(['system', 'metric'])
    m = json.loads((R/'eval/mtrs/metrics.json').read_text())
    b1, pp, acc, d2 = num(rf'the paper\'s MTRS row\), scores BLEU-1 {n}, PPL {n}, Acc_emo {n} and Distinct-2 {n}\.')
    assert [b1, pp, acc, d2] == [round(m[k], 2) for k in ('bleu1', 'ppl', 'acc_emo', 'dist2')]
    got = num(rf'BLEU-1 {n} \[{n}, {n}\], PPL {n} \[{n}, {n}\], Acc_emo {n} \[{n}, {n}\], Distinct-2 {n} \(randomisation p {n}\) '
              rf'and Emp-F1 {n} \[{n}, {n}\] \(F1 ER {n} against {n}\)')
    assert got[:9] == ci(sig, 'bleu1') + ci(sig, 'ppl') + ci(sig, 'acc_emo')
    assert got[9:11] == [round(float(sig.loc[('mtrs', 'dist2'), 'diff']), 2), round(float(sig.loc[('mtrs', 'dist2'), 'p']), 3)]
    assert got[11:14] == ci(esig, 'emp_f1') and close(got[14], emp.loc['mtrs', 'F1 ER']) and close(got[15], emp.loc['full', 'F1 ER'])
    assert got[1] > 0 and got[5] < 0 and got[8] < 0 and got[10] >= 0.05 and got[13] < 0   # read as differences / as no difference
    pr = num(rf'printed MTRS row \(BLEU-1 {n}, PPL {n}, Acc_emo {n}, Distinct-2 {n}\) ours is better on all four')
    assert pr == [float(paper.loc['MTRS', c]) for c in ('B-1', 'PPL', 'Acc_emo', 'D-2')]
    assert m['bleu1'] > pr[0] and m['ppl'] < pr[1] and m['acc_emo'] > pr[2] and m['dist2'] > pr[3]
    c = num(rf'costs BLEU-1 {n} \[{n}, {n}\] and PPL {n} \[{n}, {n}\] and adds Distinct-2 {n} \(p {n}\)')
    r = lambda metric, cols: [round(float(cmp.loc[('mtrs', metric), k]), 3 if k == 'p' else 2) for k in cols]
    assert c == r('bleu1', ('diff', 'lo', 'hi')) + r('ppl', ('diff', 'lo', 'hi')) + r('dist2', ('diff', 'p'))
    assert c[2] < 0 and c[4] > 0 and c[7] < 0.05
    floor = num(rf'below the bag-of-words floor \({n}\)\. \*\*Against MIME')
    bow = json.loads((R/'floors/metrics.json').read_text())['bow']['acc_emo']
    assert close(floor[0], bow) and floor[0] > m['acc_emo']


def test_e_w_init_probe_reading_matches_the_files():
    "The README's reading of the GloVe-50d probe: every number is the one in reports/full/levers/e_w_init_probe/emotion_probe.json."
    t = ' '.join((ROOT/'README.md').read_text().split())
    rec = json.loads((ROOT/'reports/full/levers/e_w_init_probe/emotion_probe.json').read_text())
    B = {k: round(v['test_acc'], 2) for k, v in rec['blocks'].items()}
    C = {(c['a'], c['b']): [round(c[k], 2) for k in ('diff', 'lo', 'hi')] for c in rec['comparisons']}
    n = r'([+-]?[\d.]+)'
    got = [float(g) for g in _claim(t, rf'\(6B, 50-d; {n}% of the context tokens found\) gives a mean-of-words probe of {n}, below the '
                                       rf'MiniLM-derived init we use \({n} \[{n}, {n}\]\) and below that init cut to its top 50 principal '
                                       rf'directions \({n} \[{n}, {n}\]\)')]
    assert got[0] == round(min(rec['glove50_coverage'][s]['coverage_pct'] for s in ('train', 'valid', 'test')))   # the lowest split, rounded
    assert got[1] == B['glove50'] and got[2:5] == C[('glove50', 'emb_init')] and got[5:8] == C[('glove50', 'emb_init_pca50')]
    assert got[4] < 0 and got[7] < 0   # read as "below": both intervals exclude 0
    assert B['emb_init'] == json.loads((ROOT/'reports/full/emotion_probe.json').read_text())['blocks']['emb_init']['test_acc'].__round__(2)


def test_era_d_r_lever_reading_matches_the_files():
    "The README's reading of the era.d_r = 384 lever: every number is in reports/full/levers/era_d_r_384 (rd-compare, control.json)."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    L = ROOT/'reports/full/levers/era_d_r_384'
    cmp = pd.read_csv(L/'compare.csv').set_index(['system', 'metric'])
    assert '\n+  d_r: 384 ' in (L/'params.diff').read_text()   # the lever's only change besides the profile
    assert json.loads((L/'era_metrics.json').read_text())['cache']['d_r'] == 384
    ci = lambda metric: [round(float(cmp.loc[('era_d_r_384', metric), k]), 2) for k in ('diff', 'lo', 'hi')]
    n = r'([+-]?[\d.]+)'
    got = [float(g) for g in _claim(t, rf'Acc_emo does not rise: {n} \[{n}, {n}\] against `full`\. BLEU-1 falls, {n} \[{n}, {n}\], '
                                       rf'PPL rises, {n} \[{n}, {n}\], the final-intent accuracy falls, {n} \[{n}, {n}\], and so does '
                                       rf'Distinct-2, {n} \(p {n}\); the forced-intent control is {n}% \({n}% for `full`\)')]
    assert got[:12] == ci('acc_emo') + ci('bleu1') + ci('ppl') + ci('acc_intent_pred')
    assert got[1] < 0 < got[2]                                  # "does not rise": the interval includes 0
    assert got[5] < 0 and got[7] > 0 and got[11] < 0            # falls / rises / falls: the intervals exclude 0
    d2 = cmp.loc[('era_d_r_384', 'dist2')]
    assert got[12:14] == [round(float(d2['diff']), 2), round(float(d2['p']), 3)] and got[12] < 0 and got[13] < 0.05
    ctl = lambda p: round(json.loads(p.read_text())['control_success'], 2)
    assert got[14:] == [ctl(L/'eval/control.json'), ctl(ROOT/'reports/full/eval/full/control.json')]
    base = json.loads((ROOT/'reports/full/eval/full/metrics.json').read_text())
    assert abs(float(cmp.loc[('era_d_r_384', 'acc_emo'), 'a']) - base['acc_emo']) < 1e-6   # the base of the comparison is the committed full row


def test_emotion_probe_reading_matches_the_files():
    "The README's reading of the emotion probes: every number is the one in reports/full/emotion_probe.json."
    t = ' '.join((ROOT/'README.md').read_text().split())
    rec = json.loads((ROOT/'reports/full/emotion_probe.json').read_text())
    B = {k: round(v['test_acc'], 2) for k, v in rec['blocks'].items()}
    C = {(c['a'], c['b']): [round(c[k], 2) for k in ('diff', 'lo', 'hi')] for c in rec['comparisons']}
    n = r'([+-]?[\d.]+)'
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    assert num(rf'The Acc_emo of `full` is {n}, below the bag-of-words floor \({n}\)\. Linear probes') == [B['head_batch'], B['bow']]
    assert rec['checks']['head_vs_evaluate']['equal'] and rec['checks']['bow_vs_floors']['equal']
    q, d, lo, hi = num(rf'a probe on Q scores {n}, {n} \[{n}, {n}\] over the head')
    assert q == B['Q'] and [d, lo, hi] == C[('Q', 'head_batch')] and lo < 0 < hi
    assert num(rf'the mean of the word embeddings before any training holds \({n}\)') == [B['emb_init']] and abs(B['Q'] - B['emb_init']) < 1
    s, c, h, d, lo, hi = num(rf"word states reach {n} and its composed states {n}, but the projection to `era.d_r` = 64 dimensions that eq. 3 receives leaves {n}, {n} \[{n}, {n}\] points lost")
    assert (s, c, h) == (B['era_states'], B['era_composed'], B['era_h']) and [d, lo, hi] == C[('era_composed', 'era_h')] and lo > 0
    assert rec['blocks']['era_h']['dim'] == 64 and B['era_states'] < B['bow']
    assert num(rf'the attention over h~ adds {n} \[{n}, {n}\] to Q over H') == C[('Q', 'H')]
    d, lo, hi = num(rf'per example instead of per batch changes nothing \({n} \[{n}, {n}\]\)')
    assert [d, lo, hi] == C[('head_example', 'head_batch')] and lo < 0 < hi


def test_era_reading_matches_the_files():
    "The README's reading of wo_era against full: every number is the one in significance.csv, empathy_significance.csv or the paper's table."
    t, sig, esig, P, ci, n, num = _ablation('wo_era', 'w/o ERA')
    v = num(rf'Acc_emo {n} \[{n}, {n}\] and final-intent accuracy {n} \[{n}, {n}\] without it')
    assert v[:3] == ci(sig, 'acc_emo') and v[3:] == ci(sig, 'acc_intent_pred') and v[2] < 0 and v[5] < 0
    pe, pi = num(rf"the direction of the paper's {n} and {n} and a quarter of its emotion effect")
    assert (pe, pi) == (P('Acc_emo'), P('Acc_intent')) and 0.2 <= v[0] / pe <= 0.3
    d, lo, hi, pb = num(rf'BLEU-1 does not move \({n} \[{n}, {n}\], the paper: {n}\)')
    assert [d, lo, hi] == ci(sig, 'bleu1') and lo < 0 < hi and pb == P('B-1')
    d, lo, hi = num(rf'nor does PPL \({n} \[{n}, {n}\]\)')
    assert [d, lo, hi] == ci(sig, 'ppl') and lo < 0 < hi
    d, p = num(rf'Distinct-2 is lower \({n}, randomisation p {n}\) and Emp-F1 too')
    assert d == round(float(sig.loc[('wo_era', 'dist2'), 'diff']), 2) and p == round(float(sig.loc[('wo_era', 'dist2'), 'p']), 3) and d < 0 and p < 0.05
    assert num(rf'and Emp-F1 too \({n} \[{n}, {n}\]\)') == ci(esig, 'emp_f1') and ci(esig, 'emp_f1')[2] < 0


def test_performance_reading_matches_the_bench():
    "The README's reading of the committed benchmark: each verdict and miss is the one in reports/bench/bench.json."
    t = ' '.join((ROOT/'README.md').read_text().split())
    T = json.loads((ROOT/'reports/bench/bench.json').read_text())['targets']
    one, = _claim(t, r'the one-thread step misses its target by (\d+)%')
    two, = _claim(t, r'two runs side by side miss theirs by (\d+)%')
    assert T['one_thread_hours']['verdict'] == 'MISS' and one == round((T['one_thread_hours']['ratio'] - 1) * 100)
    assert T['side_by_side_hours']['verdict'] == 'MISS' and two == round((T['side_by_side_hours']['ratio'] - 1) * 100)
    assert 'memory, generation of the test split and the equivalence meet their targets' in t
    assert all(T[k]['verdict'] == 'PASS' for k in ('train_peak_rss_gib', 'generation_test_split_s', 'equivalence'))


def test_experts_reading_matches_the_files():
    "The README's reading of wo_experts against full: every number is the one in significance.csv, empathy_significance.csv or the paper's table."
    t, sig, esig, P, ci, n, num = _ablation('wo_experts', 'w/o C-Experts')
    for name, key, col in (('BLEU-1', 'bleu1', 'B-1'), ('PPL', 'ppl', 'PPL'), ('final-intent accuracy', 'acc_intent_pred', 'Acc_intent')):
        d, lo, hi, p = num(rf'{name} {n} \[{n}, {n}\] \(the paper: {n}\)')
        assert [d, lo, hi] == ci(sig, key) and p == P(col) and (lo > 0 or hi < 0) and (d > 0) == (p > 0), name
    d, p = num(rf'Distinct-2 {n} \(randomisation p {n}\) without them')
    assert d == round(float(sig.loc[('wo_experts', 'dist2'), 'diff']), 2) and p == round(float(sig.loc[('wo_experts', 'dist2'), 'p']), 3) and p < 0.05 and (d < 0) == (P('D-2') < 0)
    d, lo, hi, p = num(rf'Acc_emo {n} \[{n}, {n}\], an interval that includes 0, where the paper reports {n}')
    assert [d, lo, hi] == ci(sig, 'acc_emo') and lo < 0 < hi and p == P('Acc_emo')
    d, lo, hi = num(rf'Emp-F1 does not move either \({n} \[{n}, {n}\]\)')
    assert [d, lo, hi] == ci(esig, 'emp_f1') and lo < 0 < hi


def _ablation(run, paper_row):
    """What a README ablation reading is checked against: the text, the paired intervals of `run` vs full (metrics, empathy),
    the paper's difference of `paper_row` from ReflectDiffu, and a matcher of the sentence's numbers."""
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    sig = pd.read_csv(ROOT/'reports/full/significance.csv').set_index(['system', 'metric'])
    esig = pd.read_csv(ROOT/'reports/full/empathy_significance.csv').set_index(['system', 'metric'])
    paper = pd.read_csv(ROOT/'reports/paper_table2.csv', comment='#').set_index('model')
    P = lambda c: round(float(paper.loc[paper_row, c]) - float(paper.loc['ReflectDiffu', c]), 2)
    ci = lambda s, metric: [round(float(s.loc[(run, metric), k]), 2) for k in ('diff', 'lo', 'hi')]
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    return t, sig, esig, P, ci, r'([+-]?[\d.]+)', num


def test_seed_reading_matches_the_files():
    "The README's reading of full_s2 against full: every number is in eval/<run>/, compare/full_s2_vs_full and the other rows' metrics."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    R, n = ROOT/'reports/full', r'([+-]?[\d.]+)'
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in ('full', 'full_s2')}
    cmp = pd.read_csv(R/'compare/full_s2_vs_full/compare.csv').set_index(['system', 'metric'])
    ci = lambda metric: [round(float(cmp.loc[('full_s2', metric), k]), 2) for k in ('diff', 'lo', 'hi')]
    got = num(rf'It scores BLEU-1 {n} against {n} \({n} \[{n}, {n}\]\), PPL {n} against {n} \({n} \[{n}, {n}\]\), '
              rf'Acc_emo {n} against {n} \({n} \[{n}, {n}\]\) and Distinct-2 {n} against {n} \(randomisation p {n}\)')
    for i, key in ((0, 'bleu1'), (5, 'ppl'), (10, 'acc_emo')):
        assert got[i:i + 2] == [round(m['full_s2'][key], 2), round(m['full'][key], 2)] and got[i + 2:i + 5] == ci(key), key
    assert got[15:17] == [round(m['full_s2']['dist2'], 2), round(m['full']['dist2'], 2)]
    assert got[17] == round(float(cmp.loc[('full_s2', 'dist2'), 'p']), 3)
    assert got[4] < 0 and got[9] > 0 and got[14] > 0   # BLEU-1 read as a difference; the PPL and Acc_emo intervals include 0
    l2, l1 = num(rf'its responses are shorter \({n} words on average against {n}\)')
    assert [l2, l1] == [round(m['full_s2']['hyp_len_mean'], 2), round(m['full']['hyp_len_mean'], 2)] and l2 < l1
    rows = [v for v in ('full', 'wo_era', 'wo_experts', 'wo_twice', 'wo_emu', 'trs', 'mtrs', 'mime', 'moel') if (R/f'eval/{v}/metrics.json').exists()]
    b1 = {v: json.loads((R/f'eval/{v}/metrics.json').read_text())['bleu1'] for v in rows}
    (gap,) = num(rf'between any two of our rows \(at most {n}, `mime` against `wo_twice`\)')
    assert gap == round(max(b1.values()) - min(b1.values()), 2) and max(b1, key=b1.get) == 'mime' and min(b1, key=b1.get) == 'wo_twice'
    assert abs(got[2]) > gap
    lo, hi, d = num(rf'the PPL differences to the baselines \({n} to {n}\) are more than seventeen times the seed difference \({n}\)')
    sig = pd.read_csv(R/'significance.csv').set_index(['system', 'metric'])
    base = [round(float(sig.loc[(v, 'ppl'), 'diff']), 2) for v in ('trs', 'mtrs', 'mime')]
    assert [lo, hi] == [max(base), min(base)] and d == abs(got[7]) and min(abs(x) for x in base) > 17 * d
    r2, r1, c2, c1 = num(rf'final intent for {n}% of test turns \({n}% for seed 1234\), and forced intents are realised in {n}% \({n}%;')
    assert [r2, r1] == [round(m['full_s2']['acc_intent_realised'], 2), round(m['full']['acc_intent_realised'], 2)]
    ctl = {v: json.loads((R/f'eval/{v}/control.json').read_text()) for v in ('full', 'full_s2')}
    assert [c2, c1] == [round(ctl['full_s2']['control_success'], 2), round(ctl['full']['control_success'], 2)]
    assert 'the same 300 contexts' in t and ctl['full_s2']['seed'] == ctl['full']['seed'] and ctl['full']['n_contexts'] == 300


def test_encoder_probe_reading_matches_the_files():
    "The README's reading of the frozen-encoder probes: every number is in reports/full/levers/encoder_probe and the files it names."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    R, n = ROOT/'reports/full', r'([+-]?[\d.]+)'
    num = lambda pattern: [float(str(g).replace(',', '')) for g in _claim(t, pattern)]
    rec = json.loads((R/'levers/encoder_probe/emotion_probe.json').read_text())
    B = {k: round(v['test_acc'], 2) for k, v in rec['blocks'].items()}
    C = {(c['a'], c['b']): [round(c[k], 2) for k in ('diff', 'lo', 'hi')] for c in rec['comparisons']}
    sub, of = num(r'fit on the same seeded ([\d,]+) of the ([\d,]+) training examples')
    assert [sub, of] == [rec['train_subset']['max_train'], rec['train_subset']['of']] == [rec['n']['train'], rec['train_subset']['of']]
    got = num(rf'Its test accuracy is {n}, against {n} for frozen all-MiniLM-L6-v2 \({n} \[{n}, {n}\]\) and {n} for the bag of words '
              rf'fit on the same subset \({n} \[{n}, {n}\]\)')
    assert got[0] == B['mpnet_mean'] and got[1] == B['minilm_mean'] and got[5] == B['bow']
    assert got[2:5] == C[('mpnet_mean', 'minilm_mean')] and got[6:9] == C[('mpnet_mean', 'bow')] and got[3] > 0 and got[7] > 0
    floor, paper_acc = num(rf'floor fit on all of it \({n}\) and close to the paper\'s Acc_emo \({n}\)')
    assert floor == round(json.loads((R/'floors/metrics.json').read_text())['bow']['acc_emo'], 2) and got[0] > floor
    paper = pd.read_csv(ROOT/'reports/paper_table2.csv', comment='#').set_index('model')
    assert paper_acc == float(paper.loc['ReflectDiffu', 'Acc_emo']) and abs(paper_acc - got[0]) < 2.5
    (head,) = num(rf'even frozen MiniLM is above our trained head \({n}\)')
    assert head == round(json.loads((R/'eval/full/metrics.json').read_text())['acc_emo'], 2) and got[1] > head
    assert sub * 4 <= of * 1.01   # "a quarter of the training data"


def test_moel_reading_matches_the_files():
    "The README's reading of moel against full and the paper's MoEL row: every number is in the files it names."
    t, R, sig, esig, emp, paper, close, ci, n, num = _baseline('moel')
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in ('full', 'moel')}
    b1, pp, acc, d2 = num(rf'steps, seed and decoding, scores BLEU-1 {n}, PPL {n}, Acc_emo {n} and Distinct-2 {n}\. Against our `full`')
    assert [b1, pp, acc, d2] == [round(m['moel'][k], 2) for k in ('bleu1', 'ppl', 'acc_emo', 'dist2')]
    got = num(rf'seed 1234\): BLEU-1 {n} \[{n}, {n}\], PPL {n} \[{n}, {n}\], Acc_emo {n} \[{n}, {n}\], Distinct-2 {n} '
              rf'\(randomisation p {n}\) and Emp-F1 {n} \[{n}, {n}\]\. Against the paper\'s printed MoEL')
    assert got[:9] == ci(sig, 'bleu1') + ci(sig, 'ppl') + ci(sig, 'acc_emo')
    assert got[9:11] == [round(float(sig.loc[('moel', 'dist2'), 'diff']), 2), round(float(sig.loc[('moel', 'dist2'), 'p']), 3)]
    assert got[11:14] == ci(esig, 'emp_f1')
    pr = num(rf'printed MoEL row \(BLEU-1 {n}, PPL {n}, Acc_emo {n}, Distinct-2 {n}\)')
    assert pr == [float(paper.loc['MOEL', c]) for c in ('B-1', 'PPL', 'Acc_emo', 'D-2')]
    better = {'BLEU-1': m['moel']['bleu1'] > pr[0], 'PPL': m['moel']['ppl'] < pr[1], 'Acc_emo': m['moel']['acc_emo'] > pr[2], 'Distinct-2': m['moel']['dist2'] > pr[3]}
    if all(better.values()): assert 'printed MoEL row' in t and re.search(r'MoEL row \([^)]*\) ours is better on all four', t)
    else:
        said = re.search(r'MoEL row \([^)]*\) ours is better on ([^.]*?) and worse on ([^.]*?)\.', t)
        assert said, 'the README must say on which columns ours is better and worse than the printed MoEL row'
        assert {s.strip() for s in said.group(1).split(',')} == {k for k, v in better.items() if v}
        assert {s.strip() for s in said.group(2).split(',')} == {k for k, v in better.items() if not v}
    floor = num(rf'Its Acc_emo is (?:below|above) the bag-of-words floor \({n}\)\. `moel` is the costliest')
    bow = json.loads((R/'floors/metrics.json').read_text())['bow']['acc_emo']
    side = 'below' if m['moel']['acc_emo'] < bow else 'above'
    assert close(floor[0], bow) and f'Its Acc_emo is {side} the bag-of-words floor' in t


def test_era_mpnet_reading_matches_the_files():
    "The README's reading of the ERA on all-mpnet-base-v2: every number is in reports/full/levers/era_mpnet and the files it names."
    t = ' '.join((ROOT/'README.md').read_text().split())
    R, n = ROOT/'reports/full', r'([+-]?[\d.]+)'
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    L = R/'levers/era_mpnet'
    era, base = (json.loads((p/'era_metrics.json').read_text()) for p in (L/'era', R))
    diff = (L/'era/params.diff').read_text()
    assert '+  d_r: 768' in diff and '+  encoder: ' in diff and 'all-mpnet-base-v2' in diff and era['cache']['d_r'] == 768
    secs, f1, f1_minilm = num(rf'\(`era.d_r` 768; \[`levers/era_mpnet`\]\([^)]*\)\) took {n} s on one thread .* F1 {n} against the silver labels \(MiniLM: {n}\)')
    assert secs == round(era['timings']['stage_s']) and era['timings']['torch_threads'] == 1
    assert [f1, f1_minilm] == [round(era['era']['test']['f1'], 3), round(base['era']['test']['f1'], 3)]
    probe, probe0 = (json.loads((p/'emotion_probe.json').read_text()) for p in (L/'probe', R))
    B = {k: round(v['test_acc'], 2) for k, v in probe['blocks'].items()}
    C = {(c['a'], c['b']): [round(c[k], 2) for k in ('diff', 'lo', 'hi')] for c in probe['comparisons']}
    got = num(rf'reads the test emotion at {n}, above the bag of words \({n}; {n} \[{n}, {n}\], paired\), where the MiniLM ERA\'s 64-d h~ gives {n} and its uncut word states (\d+\.\d+)\.')
    assert got[0] == B['era_h'] and got[1] == B['bow'] and got[2:5] == C[('era_h', 'bow')] and got[3] > 0   # above the floor, interval included
    assert got[1] == round(json.loads((R/'floors/metrics.json').read_text())['bow']['acc_emo'], 2)   # the probe's bag of words is the floor
    assert got[5] == round(probe0['blocks']['era_h']['test_acc'], 2) and probe0['blocks']['era_h']['dim'] == 64 and probe['blocks']['era_h']['dim'] == 768
    assert got[6] == round(probe0['blocks']['era_states']['test_acc'], 2) and got[0] > got[6]
    assert 'max_train' not in probe.get('train_subset', {}) and probe['n']['train'] == probe0['n']['train']   # the whole train split


def test_three_seed_reading_matches_the_files():
    "The README's reading of full_s3 and of the spread over full's three seeds: every number is in eval/<run>/ and seed_spread.csv."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    R, n = ROOT/'reports/full', r'([+-]?\d+\.\d+)'
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    runs = ('full', 'full_s2', 'full_s3')
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in runs}
    ctl = {v: json.loads((R/f'eval/{v}/control.json').read_text()) for v in runs}
    got = num(rf'lands between the two: BLEU-1 {n}, PPL {n}, Acc_emo {n} and Distinct-2 {n}, with responses of {n} words')
    assert got == [round(m['full_s3'][k], 2) for k in ('bleu1', 'ppl', 'acc_emo', 'dist2', 'hyp_len_mean')]
    assert sorted([m[v]['bleu1'] for v in runs])[1] == m['full_s3']['bleu1']   # "between the two"
    sp = pd.read_csv(R/'seed_spread.csv').set_index(['group', 'key'])
    got = num(rf'BLEU-1 is {n} ± {n}, PPL {n} ± {n}, Acc_emo {n} ± {n} and Distinct-2 {n} ± {n};')
    for i, k in enumerate(('bleu1', 'ppl', 'acc_emo', 'dist2')):
        r = sp.loc[('full', k)]
        assert got[2 * i:2 * i + 2] == [round(float(r['mean']), 2), round(float(r['sd']), 2)] and int(r['n_seeds']) == 3, k
        assert abs(float(r['mean']) - sum(m[v][k] for v in runs) / 3) < 1e-3, k
    c = num(rf'forced intents are realised in {n}%, {n}% and {n}% of the common 300 contexts, and the response follows the '
            rf'model\'s own final intent for {n}%, {n}% and {n}% of test turns')
    assert c[:3] == [round(ctl[v]['control_success'], 2) for v in runs] and c[3:] == [round(m[v]['acc_intent_realised'], 2) for v in runs]
    assert len({ctl[v]['seed'] for v in runs}) == 1 and {ctl[v]['n_contexts'] for v in runs} == {300}
    c3, r14 = num(r'works to within about (\d+) points whatever the seed, while how often the model\'s own intent is realised moves by (\d+)\.')
    assert c3 == round(max(c[:3]) - min(c[:3])) and r14 == round(max(c[3:]) - min(c[3:]))


def test_era_mpnet_run_reading_matches_the_files():
    "The README's reading of `full` retrained on the MPNet ERA: every number is in levers/era_mpnet (run, run_eval, compare.csv), the MiniLM seeds' files, the floor and the 6,000-step q_residual lever."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    R, n = ROOT/'reports/full', r'([+-]?\d+\.\d+)'
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    L, runs = R/'levers/era_mpnet', ('full', 'full_s2', 'full_s3')
    mp = json.loads((L/'run_eval/eval/full/metrics.json').read_text())
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in runs}
    ctl = {v: json.loads((R/f'eval/{v}/control.json').read_text()) for v in runs}
    summ = json.loads((L/'run/train/full/summary.json').read_text())
    assert summ['steps'] == 16000 and summ['num_threads'] == 1 and '+  d_r: 768' in (L/'run/params.diff').read_text()
    secs = int(_claim(t, r'`full` retrained on this ERA \(16,000 steps, the same seed, ([\d,]+) s on one thread;')[0].replace(',', ''))
    assert secs == round(summ['wall_time_s'])
    r2 = lambda x: round(x, 2)
    cmp = pd.read_csv(L/'compare.csv').set_index(['system', 'metric'])
    d = cmp.loc[('era_mpnet', 'acc_emo')]
    floor = json.loads((R/'floors/metrics.json').read_text())['bow']['acc_emo']
    got = num(rf'reads the test emotion at {n}, above each of the three MiniLM seeds \({n}, {n} and {n}; against the row of the same seed {n} \[{n}, {n}\], paired,')
    assert got == [r2(mp['acc_emo'])] + [r2(m[v]['acc_emo']) for v in runs] + [r2(d['diff']), r2(d['lo']), r2(d['hi'])]
    assert mp['acc_emo'] > max(m[v]['acc_emo'] for v in runs) and d['lo'] > 0          # "above each", the interval above 0
    gap, fl = num(rf'yet {n} points below the bag of words \({n}\)')
    assert [gap, fl] == [r2(floor - mp['acc_emo']), r2(floor)] and gap > 0
    probe = json.loads((L/'probe/emotion_probe.json').read_text())['blocks']['era_h']['test_acc']
    lost, pr = num(rf'The trained head also reads {n} points less than a linear probe on the same h~ \({n}\)')
    assert [lost, pr] == [r2(probe - mp['acc_emo']), r2(probe)]
    rp = json.loads((L/'run_probe/emotion_probe.json').read_text())
    B, C = rp['blocks'], {(c['a'], c['b']): c for c in rp['comparisons']}
    assert rp['checkpoint_step'] == summ['best_step'] and r2(B['head_batch']['test_acc']) == r2(mp['acc_emo'])   # the probed model is the evaluated one
    assert B['era_h']['test_acc'] == probe                                                                     # the same h~ cache as the probe above
    got = num(rf'Q, the output of eq. 3, reads the test emotion at {n} and the head at {n} \(Q - head {n} \[{n}, {n}\]\), while a probe on Q fits the training split at {n} against {n} on h~')
    qh = C[('Q', 'head_batch')]
    assert got == [r2(B['Q']['test_acc']), r2(B['head_batch']['test_acc']), r2(qh['diff']), r2(qh['lo']), r2(qh['hi']),
                   r2(B['Q']['train_acc']), r2(B['era_h']['train_acc'])]
    assert B['Q']['test_acc'] < B['era_h']['test_acc'] and B['Q']['train_acc'] > B['era_h']['train_acc'] and qh['lo'] > 0
    for label, key in (('BLEU-1', 'bleu1'), ('PPL', 'ppl')):
        got = num(rf'{label} {n} \((?:seeds )?{n}, {n} and {n}\)')
        assert got == [r2(mp[key])] + [r2(m[v][key]) for v in runs], key
        assert min(m[v][key] for v in runs) <= mp[key] <= max(m[v][key] for v in runs), key   # "within the spread"
    cm = json.loads((L/'run_eval/eval/full/control.json').read_text())
    got = num(rf'forced-intent control {n} \({n}, {n} and {n}\)')
    assert got == [r2(cm['control_success'])] + [r2(ctl[v]['control_success']) for v in runs]
    assert cm['seed'] == ctl['full']['seed'] and cm['n_contexts'] == 300                   # the common control sample
    assert min(ctl[v]['control_success'] for v in runs) <= cm['control_success'] <= max(ctl[v]['control_success'] for v in runs)
    got = num(rf'its own intent is realised less often than in two of them \({n}; seeds {n}, {n} and {n}\)')
    assert got == [r2(mp['acc_intent_realised'])] + [r2(m[v]['acc_intent_realised']) for v in runs]
    assert sum(m[v]['acc_intent_realised'] > mp['acc_intent_realised'] for v in runs) == 2
    q = pd.read_csv(R/'levers/q_residual_mpnet_6k/train/full/valid.tsv', sep='\t').set_index('step')
    r = pd.read_csv(L/'run/train/full/valid.tsv', sep='\t').set_index('step')
    assert '+  q_residual: false' in (R/'levers/q_residual_mpnet_6k/params.diff').read_text() and q.index.max() == 6000
    got = num(rf'its valid Acc_emo is {n}, {n} and {n} at steps 2,000, 4,000 and 6,000, against {n}, {n} and {n} with the residual')
    acc = lambda df: [r2(100 * float(df.loc[s_, 'acc_emo'])) for s_ in (2000, 4000, 6000)]
    assert got == acc(q) + acc(r) and all(a < b for a, b in zip(acc(q), acc(r)))          # "does not help"


def _valid_acc_emo(path):
    "Validation Acc_emo (%) by step of a training run's valid.tsv."
    import pandas as pd
    return 100 * pd.read_csv(path, sep='\t').set_index('step')['acc_emo']


def test_emotion_path_dropout_reading_matches_the_files():
    "The README's reading of the two regularisers of the emotion path: every number is in levers/{reason,emo}_dropout_mpnet_8k, the MPNet run they compare with and the MiniLM seeds' validations."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    R, n = ROOT/'reports/full', r'([+-]?\d+\.\d+)'
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    r2, steps = (lambda x: round(x, 2)), (2000, 4000, 6000, 8000)
    acc = _valid_acc_emo
    base, runs = acc(R/'levers/era_mpnet/run/train/full/valid.tsv'), {}
    for key in ('reason_dropout', 'emo_dropout'):
        L = R/f'levers/{key}_mpnet_8k'
        diff = (L/'params.diff').read_text()
        assert f'+  {key}: 0.3' in diff and '+  max_steps: 8000' in diff and '+  d_r: 768' in diff, key
        assert json.loads((L/'train/full/summary.json').read_text())['steps'] == 8000
        runs[key] = acc(L/'train/full/valid.tsv')
    got = num(rf'valid Acc_emo {n}, {n}, {n} and {n} at steps 2,000, 4,000, 6,000 and 8,000 with `reason_dropout`, {n}, {n}, {n} '
              rf'and {n} with `emo_dropout`, against {n}, {n}, {n} and {n} without')
    assert got == [r2(s[k]) for s in (runs['reason_dropout'], runs['emo_dropout'], base) for k in steps]
    seeds = pd.DataFrame({v: acc(R/f'train/{v}/valid.tsv') for v in ('full', 'full_s2', 'full_s3')})
    spread = seeds.max(axis=1) - seeds.min(axis=1)
    late = [abs(runs[k][s] - base[s]) for k in runs for s in (6000, 8000)]
    got = num(rf'the largest difference at 6,000 or 8,000 steps is {n} points, against a range of {n} and {n} points between the three seeds of the MiniLM `full` at those steps')
    assert got == [r2(max(late)), r2(spread[6000]), r2(spread[8000])]
    assert max(late) > max(spread[6000], spread[8000])                                      # "swing wider than the seeds spread"
    assert all(runs[k][6000] < base[6000] and runs[k][8000] > base[8000] for k in runs)     # "lower at 6,000 and higher at 8,000"
    assert base[8000] < base[6000] and base[14000] < base[12000] == base.max()              # "where the run without dips", "falls after 12,000"


def test_emotion_path_dropout_16k_reading_matches_the_files():
    "The README's reading of the two regularisers at 16,000 steps: levers/{reason,emo}_dropout_mpnet_16k resume the 8,000-step runs, and every number is in their files, the MPNet run without dropout's, the MiniLM seeds' and the floor's."
    import pandas as pd
    t = ' '.join((ROOT/'README.md').read_text().split())
    R, n = ROOT/'reports/full', r'([+-]?\d+\.\d+)'
    num = lambda pattern: [float(g) for g in _claim(t, pattern)]
    r2, steps = (lambda x: round(x, 2)), (12000, 14000, 16000)
    valid = _valid_acc_emo
    B = R/'levers/era_mpnet'
    base, acc, runs = valid(B/'run/train/full/valid.tsv'), {}, {}
    for key in ('reason_dropout', 'emo_dropout'):
        L, L8 = R/f'levers/{key}_mpnet_16k', R/f'levers/{key}_mpnet_8k'
        diff, summ = (L/'params.diff').read_text(), json.loads((L/'train/full/summary.json').read_text())
        assert f'+  {key}: 0.3' in diff and '+  d_r: 768' in diff and 'max_steps' not in diff, key   # max_steps at its default 16,000
        assert summ['steps'] == 16000 and summ['resumed_from'] == [8000], key                      # resumed from the 8,000-step run
        v8, v16 = (pd.read_csv(p/'train/full/valid.tsv', sep='\t') for p in (L8, L))
        assert v16.iloc[:len(v8)].equals(v8), key                                                  # ... whose validations it continues
        runs[key] = valid(L/'train/full/valid.tsv')
        acc[key] = json.loads((L/'eval/full/metrics.json').read_text())['acc_emo']
    got = num(rf'valid Acc_emo is {n}, {n} and {n} at steps 12,000, 14,000 and 16,000 with `reason_dropout` and {n}, {n} and {n} '
              rf'with `emo_dropout`, against {n}, {n} and {n} without')
    assert got == [r2(s[k]) for s in (runs['reason_dropout'], runs['emo_dropout'], base) for k in steps]
    mp = json.loads((B/'run_eval/eval/full/metrics.json').read_text())['acc_emo']
    got = num(rf'the test emotion reads {n} with `reason_dropout` and {n} with `emo_dropout`, against {n} without: differences of {n} and {n} points')
    d = [acc['reason_dropout'] - mp, acc['emo_dropout'] - mp]
    assert got == [r2(acc['reason_dropout']), r2(acc['emo_dropout']), r2(mp)] + [r2(x) for x in d]
    seeds = [json.loads((R/f'eval/{v}/metrics.json').read_text())['acc_emo'] for v in ('full', 'full_s2', 'full_s3')]
    floor = json.loads((R/'floors/metrics.json').read_text())['bow']['acc_emo']
    got = num(rf'within the range of the three MiniLM seeds of `full` \({n}\), and both at least {n} points below the bag of words \({n}\)')
    assert got == [r2(max(seeds) - min(seeds)), r2(floor - max(acc.values())), r2(floor)]
    assert all(abs(x) < max(seeds) - min(seeds) for x in d) and max(acc.values()) < floor     # "within the range", "below the bag of words"
    cmp = {k: pd.read_csv(R/f'levers/{k}_mpnet_16k/compare.csv').set_index(['system', 'metric']) for k in acc}
    ci = lambda k, metric: [r2(float(cmp[k].loc[(f'{k}_mpnet_16k', metric), c])) for c in ('diff', 'lo', 'hi')]
    for k in acc:   # rd-compare's base is the MPNet run without dropout, and each side is the committed metrics.json
        row = cmp[k].loc[(f'{k}_mpnet_16k', 'acc_emo')]
        assert abs(row['a'] - mp) < 1e-9 and abs(row['b'] - acc[k]) < 1e-9, k
    got = num(rf'the intervals of both include 0: {n} \[{n}, {n}\] with `reason_dropout` and {n} \[{n}, {n}\] with `emo_dropout`')
    assert got == ci('reason_dropout', 'acc_emo') + ci('emo_dropout', 'acc_emo') and got[1] < 0 < got[2] and got[4] < 0 < got[5]
    got = num(rf'`reason_dropout` BLEU-1 {n} \[{n}, {n}\], `emo_dropout` PPL {n} \[{n}, {n}\]')
    assert got == ci('reason_dropout', 'bleu1') + ci('emo_dropout', 'ppl') and got[1] > 0 and got[4] > 0   # intervals above 0
    sm = [json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in ('full', 'full_s2', 'full_s3')]
    spread = lambda key: max(x[key] for x in sm) - min(x[key] for x in sm)
    assert abs(got[0]) < spread('bleu1') and abs(got[3]) < spread('ppl')   # "a fraction of the seed spread": the MiniLM seeds' ranges


def test_frozen_era_reading_matches_the_files():
    "The README's reading of the frozen MPNet ERA (levers/era_mpnet_frozen): tagging F1, stage time and h~ probe against the fine-tuned MPNet ERA's, the frozen encoder's probe and the paper."
    t, R, n, num, r2 = _reading()
    F, T = R/'levers/era_mpnet_frozen', R/'levers/era_mpnet'
    for d in (F/'era', F/'probe'):
        diff = (d/'params.diff').read_text()
        assert '+  finetune_layers: 0 ' in diff and '+  d_r: 768 ' in diff and '+  encoder: ' in diff and 'all-mpnet-base-v2' in diff, d
    em = {k: json.loads((p/'era/era_metrics.json').read_text()) for k, p in (('frozen', F), ('tuned', T))}
    assert em['frozen']['cache']['d_r'] == em['tuned']['cache']['d_r'] == 768
    pr = {k: json.loads((p/'probe/emotion_probe.json').read_text()) for k, p in (('frozen', F), ('tuned', T))}
    h = {k: pr[k]['blocks']['era_h'] for k in pr}
    assert all(pr[k]['checks']['bow_vs_floors']['equal'] for k in pr)                        # the same bag of words, the floor
    n_train = json.loads((R/'prepare.json').read_text())['examples']['train']
    assert all(pr[k]['n']['train'] == n_train for k in pr)                                  # "fit on the whole train split"
    enc = json.loads((R/'levers/encoder_probe/emotion_probe.json').read_text())
    mp10k = enc['blocks']['mpnet_mean']['test_acc']
    assert round(4 * enc['n']['train'] / n_train) == 1                                      # "a quarter of the training data"
    got = num(rf'all-mpnet-base-v2 reads the test emotion at {n} with a quarter of the training data, while the h~ of the ERA whose top two MPNet '
              rf'layers were fine-tuned on the VADER silver tags reads it at {n} with all of it')
    assert got == [r2(mp10k), r2(h['tuned']['test_acc'])]
    secs = int(_claim(t, r'the ERA stage ([\d,]+) s on one thread\)')[0].replace(',', ''))
    assert secs == round(em['frozen']['timings']['stage_s'])
    f1 = {k: em[k]['era']['test']['f1'] for k in em}
    got = num(rf'tags the held-out test turns at `<em>` F1 {n} against {n} fine-tuned')
    assert got == [round(f1['frozen'], 3), round(f1['tuned'], 3)]
    c = {k: next(x for x in pr[k]['comparisons'] if (x['a'], x['b']) == ('era_h', 'bow')) for k in pr}
    got = num(rf'reads the test emotion at {n} against {n}: above the bag of words by {n} \[{n}, {n}\] points \(fine-tuned: {n} \[{n}, {n}\]\) '
              rf'and {n} points below the paper\'s Acc_emo \({n}\)')
    from reflectdiffu.evaluation.tables import read_paper_table
    pt = read_paper_table(ROOT/'reports/paper_table2.csv')
    paper = float(pt.loc[pt['model'] == 'ReflectDiffu', 'Acc_emo'].iloc[0])
    assert got == [r2(h['frozen']['test_acc']), r2(h['tuned']['test_acc'])] + [r2(c['frozen'][k]) for k in ('diff', 'lo', 'hi')] \
                  + [r2(c['tuned'][k]) for k in ('diff', 'lo', 'hi')] + [r2(paper - h['frozen']['test_acc']), paper]
    assert c['frozen']['lo'] > 0 and h['frozen']['test_acc'] < paper
    got = num(rf'buys {n} of tagging F1 and costs {n} points of the emotion')
    assert got == [r2(f1['tuned'] - f1['frozen']), r2(h['frozen']['test_acc'] - h['tuned']['test_acc'])]
    mp = json.loads((T/'run_eval/eval/full/metrics.json').read_text())['acc_emo']
    import pandas as pd
    fz = json.loads((F/'run_eval/eval/full/metrics.json').read_text())
    summ = json.loads((F/'run/train/full/summary.json').read_text())
    assert summ['steps'] == 16000 and summ['resumed_from'] == [2000] and fz['checkpoint_step'] == summ['best_step'] == 14000
    assert '+  finetune_layers: 0 ' in (F/'run/params.diff').read_text()
    floor = json.loads((R/'floors/metrics.json').read_text())['bow']['acc_emo']
    half = 100 * 1.96 * (fz['acc_emo'] / 100 * (1 - fz['acc_emo'] / 100) / fz['n_responses']) ** 0.5
    got = num(rf'reads the test emotion at {n}: the first model here above the bag of words \({n}\), by {n} points, little more '
              rf'than the {n}-point half-width of a 95% binomial interval for one accuracy on 5,232 turns, and {n} points below the paper')
    assert got == [r2(fz['acc_emo']), r2(floor), r2(fz['acc_emo'] - floor), r2(half), r2(paper - fz['acc_emo'])] and fz['n_responses'] == 5232
    assert fz['acc_emo'] > floor and fz['acc_emo'] - floor < 2 * half                      # "above", "little more than"
    runs = ('full', 'full_s2', 'full_s3')
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in runs}
    assert all(m[v]['acc_emo'] < floor for v in runs)                                          # "the first model here above"
    got = num(rf'The models of ours above it on Acc_emo are not rows yet: `full`, `wo_experts` and `wo_twice` trained on a frozen MPNet ERA '
              rf'\({n}, {n} and {n};')
    above = {'full': F/'run_eval/eval/full/metrics.json', 'wo_experts': F/'wo_experts/eval/wo_experts/metrics.json',
             'wo_twice': F/'wo_twice/eval/wo_twice/metrics.json'}
    assert got == [r2(json.loads(p.read_text())['acc_emo']) for p in above.values()]
    every = sorted(R.glob('eval/*/metrics.json')) + sorted(R.glob('levers/**/metrics.json'))
    assert len(every) >= 18 and set(above.values()) <= set(every)
    acc = lambda p: json.loads(p.read_text()).get('acc_emo')
    assert {p for p in every if acc(p) is not None and acc(p) > floor} == set(above.values())   # "the models of ours above it": these and no other
    got = num(rf'The trained head reads {n} points less than the linear probe on its h~ \({n}\), where the head on the fine-tuned ERA lost {n}\.')
    assert got == [r2(h['frozen']['test_acc'] - fz['acc_emo']), r2(h['frozen']['test_acc']), r2(h['tuned']['test_acc'] - mp)]
    cmp = lambda f: pd.read_csv(F/f).set_index(['system', 'metric']).loc[('frozen', 'acc_emo')]
    d = {'full': cmp('compare.csv'), 'tuned': cmp('vs_era_mpnet/compare.csv')}
    got = num(rf'it is {n} \[{n}, {n}\] above the MiniLM `full` of the same seed \(.*?\) and {n} \[{n}, {n}\] above the model on the '
              rf'fine-tuned MPNet ERA \(.*?\), while the three MiniLM seeds span {n} points')
    spread = max(m[v]['acc_emo'] for v in runs) - min(m[v]['acc_emo'] for v in runs)
    assert got == [r2(d[k][c]) for k in ('full', 'tuned') for c in ('diff', 'lo', 'hi')] + [r2(spread)]
    assert d['full']['lo'] > 0 and d['tuned']['lo'] > 0 and d['full']['a'] == m['full']['acc_emo'] and d['tuned']['b'] == fz['acc_emo']
    va = {k: _valid_acc_emo(p/'run/train/full/valid.tsv') for k, p in (('frozen', F), ('tuned', T))}
    got = num(rf'Its valid Acc_emo peaks at {n} at step 14,000, against {n} at step 12,000 for the fine-tuned ERA')
    assert got == [r2(va['frozen'].max()), r2(va['tuned'].max())] and va['frozen'].idxmax() == 14000 and va['tuned'].idxmax() == 12000
    got = num(rf'BLEU-1 {n} and PPL {n} lie within the MiniLM seeds \(BLEU-1 {n}, {n} and {n}; PPL {n}, {n} and {n}\)')
    assert got == [r2(fz['bleu1']), r2(fz['ppl'])] + [r2(m[v][k]) for k in ('bleu1', 'ppl') for v in runs]
    assert all(min(m[v][k] for v in runs) <= fz[k] <= max(m[v][k] for v in runs) for k in ('bleu1', 'ppl'))
    ctl = {v: json.loads((R/f'eval/{v}/control.json').read_text())['control_success'] for v in runs}
    cf = json.loads((F/'run_eval/eval/full/control.json').read_text())
    assert cf['seed'] == json.loads((R/'eval/full/control.json').read_text())['seed'] and cf['n_contexts'] == 300
    got = num(rf'forced-intent control reads {n}, above all three \({n}, {n} and {n}\)')
    assert got == [r2(cf['control_success'])] + [r2(ctl[v]) for v in runs] and cf['control_success'] > max(ctl.values())
    got = num(rf'realised less often than in two of them \({n} against {n}, {n} and {n}\), as on the fine-tuned MPNet ERA \({n}\)')
    tuned_m = json.loads((T/'run_eval/eval/full/metrics.json').read_text())
    assert got == [r2(fz['acc_intent_realised'])] + [r2(m[v]['acc_intent_realised']) for v in runs] + [r2(tuned_m['acc_intent_realised'])]
    assert sum(m[v]['acc_intent_realised'] > fz['acc_intent_realised'] for v in runs) == 2


def test_intent_realisation_reading_matches_the_files():
    "The README's reading of the choice-times-control decomposition: every number from intent_realisation.csv, the metrics, control and responses files."
    import pandas as pd
    t, R, n, num, r2 = _reading()
    d_all = pd.read_csv(R/'intent_realisation.csv')
    d = d_all[d_all['run'] != 'human']                      # the runs; the gold responses' reference rows are read below
    runs = list(dict.fromkeys(d['run']))
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in runs}
    ctl = {v: json.loads((R/f'eval/{v}/control.json').read_text()) for v in runs}
    for v in runs:   # the csv is what the files say: shares from the responses, controls from control.json
        g = d[d['run'] == v].set_index('intent')
        fin = pd.read_csv(R/f'eval/{v}/responses.tsv', sep='\t')['intent_final'].value_counts(normalize=True) * 100
        assert all(abs(g.loc[i, 'share'] - fin.get(i, 0)) < 1e-3 and abs(g.loc[i, 'control'] - ctl[v]['per_intent'][i]) < 1e-3 for i in g.index), v
    exp = d.groupby('run')['expected'].sum()
    gap = max(abs(m[v]['acc_intent_realised'] - exp[v]) for v in runs)
    got = num(rf'predicts `acc_intent_realised` to within {n} points for each of the (\d+) runs with intents \(seed 1234: {n} expected, {n} measured\)')
    assert got == [r2(gap), len(runs), r2(exp['full']), r2(m['full']['acc_intent_realised'])] and len(runs) == 7
    neu = d[d['intent'] == 'neutral'].set_index('run')
    assert all(d.loc[d[d['run'] == v]['cost'].idxmax(), 'intent'] == 'neutral' for v in runs)   # "the costliest in every one"
    gold = (pd.read_csv(R/'eval/full/responses.tsv', sep='\t')['intent'] == 'neutral').mean() * 100
    other = d[d['intent'] != 'neutral'].groupby('run')['control'].mean()
    got = num(rf'the runs choose it for {n}% to {n}% of test turns \(the gold response intent is `neutral` for {n}%\), and a forced `neutral` '
              rf'is realised in {n}% to {n}% of the contexts, while the other eight intents average {n}% to {n}%')
    assert got == [r2(neu['share'].min()), r2(neu['share'].max()), r2(gold), r2(neu['control'].min()), r2(neu['control'].max()),
                   r2(other.min()), r2(other.max())]
    c = ctl['full']; row = dict(zip(c['intents'], c['matrix'][c['intents'].index('neutral')]))
    k, tot = [int(x) for x in _claim(t, r'classified `acknowledging`, `consoling` or `encouraging` (\d+) times out of (\d+)')]
    assert k == row['acknowledging'] + row['consoling'] + row['encouraging'] and tot == sum(row.values()) == c['n_contexts']
    got = num(rf'Seed 3 loses {n} points to `neutral`, seed 1234 {n}\.')
    assert got == [r2(neu.loc['full_s3', 'cost']), r2(neu.loc['full', 'cost'])]
    F = R/'levers/era_mpnet_frozen/run_eval/eval/full'
    from reflectdiffu.evaluation.realisation import realisation_table
    fz = realisation_table({'frozen': [dict(intent_final=i) for i in pd.read_csv(F/'responses.tsv', sep='\t')['intent_final']]},
                           {'frozen': json.loads((F/'control.json').read_text())})
    fzn = next(r for r in fz if r['intent'] == 'neutral')
    got = num(rf'chooses `neutral` for {n}% of test turns, which accounts for its lower realisation \({n} expected, {n} measured\)')
    assert got == [r2(fzn['share']), r2(sum(r['expected'] for r in fz)), r2(json.loads((F/'metrics.json').read_text())['acc_intent_realised'])]
    fl = json.loads((R/'floors/metrics.json').read_text())
    hu, rt = fl['human'], fl['retrieval']
    rec = {i: v for i, v in hu['intent_recall'].items() if v is not None}
    lo, hi = min(rec, key=rec.get), max(rec, key=rec.get)
    got = _claim(t, rf'labels the gold test responses with their own gold intent for {n}% of them \(the `human` floor of Table 2 and of the '
                    rf'decomposition; per intent from {n}% for `(\w+)` to {n}% for `(\w+)`, `neutral` {n}%\), and the retrieval floor\'s '
                    rf'responses, taken from the training split, with theirs for {n}%')
    assert got == [r2(hu['acc_intent_realised']), r2(rec[lo]), lo, r2(rec[hi]), hi, r2(rec['neutral']), r2(rt['acc_intent_realised'])]
    assert hu['acc_intent_realised'] == hu['acc_intent_gen_vs_gold'] and sum(hu['intent_n'].values()) == hu['n_responses'] == 5232
    hum = d_all[d_all['run'] == 'human']
    assert abs(hum['expected'].sum() - hu['acc_intent_realised']) < 1e-3                        # the human rows of the decomposition
    got = num(rf"Seed 1234's {n} is already above the people's {n} by this measure, and its forced `neutral` \({n}%\) is below theirs")
    assert got == [r2(m['full']['acc_intent_realised']), r2(hu['acc_intent_realised']), r2(ctl['full']['per_intent']['neutral'])]
    assert m['full']['acc_intent_realised'] > hu['acc_intent_realised'] and ctl['full']['per_intent']['neutral'] < rec['neutral']
    got = num(rf"the people's per-intent agreement averages {n} over the 9 intents, where seed 1234's forced control averages {n}")
    assert len(rec) == 9 and got == [r2(sum(rec.values()) / 9), r2(ctl['full']['control_success'])]
    assert abs(ctl['full']['control_success'] - sum(ctl['full']['per_intent'].values()) / 9) < 1e-9   # control success is that mean


def test_frozen_era_ablations_reading_matches_the_files():
    "The README's reading of the ablations on the frozen MPNet ERA: every number from levers/era_mpnet_frozen/ablations/compare.csv, significance.csv, the paper's table and the MiniLM seeds."
    import pandas as pd
    from reflectdiffu.evaluation.tables import read_paper_table
    t, R, n, num, r2 = _reading()
    F = R/'levers/era_mpnet_frozen'
    for v in ('wo_experts', 'wo_twice'):
        diff = (F/v/'params.diff').read_text()
        assert '+  finetune_layers: 0 ' in diff and '+  d_r: 768 ' in diff and 'all-mpnet-base-v2' in diff, v
        s = json.loads((F/v/f'train/{v}/summary.json').read_text())
        m = json.loads((F/v/f'eval/{v}/metrics.json').read_text())
        assert s['steps'] == 16000 and m['n_responses'] == 5232 and m['checkpoint_step'] == s['best_step'], v
    c = pd.read_csv(F/'ablations/compare.csv').set_index(['system', 'metric'])
    sig = pd.read_csv(R/'significance.csv').set_index(['system', 'metric'])
    assert set(c['base']) == {'full'}
    base = json.loads((F/'run_eval/eval/full/metrics.json').read_text())
    assert c.loc[('wo_twice', 'acc_emo'), 'a'] == base['acc_emo']                              # the base is the frozen-ERA full
    assert c.loc[('wo_era', 'acc_emo'), 'b'] == json.loads((R/'eval/wo_era/metrics.json').read_text())['acc_emo']   # the committed row
    iv = lambda d, s, k: [r2(d.loc[(s, k), x]) for x in ('diff', 'lo', 'hi')]
    pt = read_paper_table(ROOT/'reports/paper_table2.csv').set_index('model')
    pd_ = lambda row, col: r2(float(pt.loc[row, col]) - float(pt.loc['ReflectDiffu', col]))
    got = num(rf'Without the ERA the test emotion reads {n} \[{n}, {n}\] points lower, close to the paper\'s {n} for w/o ERA; on the MiniLM ERA the '
              rf'same row was {n} \[{n}, {n}\] below its `full`')
    assert got == iv(c, 'wo_era', 'acc_emo') + [pd_('w/o ERA', 'Acc_emo')] + iv(sig, 'wo_era', 'acc_emo')
    got = num(rf'without the experts {n} \[{n}, {n}\] and without intent twice {n} \[{n}, {n}\], both intervals holding 0, where the paper '
              rf'reports {n} and {n}')
    assert got == iv(c, 'wo_experts', 'acc_emo') + iv(c, 'wo_twice', 'acc_emo') + [pd_('w/o C-Experts', 'Acc_emo'), pd_('w/o Intent twice', 'Acc_emo')]
    assert all(c.loc[(s, 'acc_emo'), 'lo'] < 0 < c.loc[(s, 'acc_emo'), 'hi'] for s in ('wo_experts', 'wo_twice'))
    got = num(rf'Without intent twice the final-intent accuracy falls by {n} \[{n}, {n}\] \(paper {n}\) and BLEU-1 by {n} \[{n}, {n}\] \(paper {n}\); '
              rf'PPL falls without intent twice and without the experts, {n} \[{n}, {n}\] and {n} \[{n}, {n}\], where the paper\'s rises by {n} and {n}')
    assert got == iv(c, 'wo_twice', 'acc_intent_pred') + [pd_('w/o Intent twice', 'Acc_intent')] + iv(c, 'wo_twice', 'bleu1') \
                  + [pd_('w/o Intent twice', 'B-1')] + iv(c, 'wo_twice', 'ppl') + iv(c, 'wo_experts', 'ppl') \
                  + [pd_('w/o Intent twice', 'PPL'), pd_('w/o C-Experts', 'PPL')]
    assert c.loc[('wo_twice', 'ppl'), 'hi'] < 0 and c.loc[('wo_experts', 'ppl'), 'hi'] < 0 and got[-1] > 0 and got[-2] > 0   # "falls" / "rises"
    got = num(rf'Without the ERA BLEU-1 rises, {n} \[{n}, {n}\] \(paper {n}\), and the final-intent accuracy falls, {n} \[{n}, {n}\] \(paper {n}\)')
    assert got == iv(c, 'wo_era', 'bleu1') + [pd_('w/o ERA', 'B-1')] + iv(c, 'wo_era', 'acc_intent_pred') + [pd_('w/o ERA', 'Acc_intent')]
    runs = ('full', 'full_s2', 'full_s3')
    m = {v: json.loads((R/f'eval/{v}/metrics.json').read_text()) for v in runs}
    keys = ('bleu1', 'ppl', 'acc_emo', 'acc_intent_pred')
    span = {k: max(m[v][k] for v in runs) - min(m[v][k] for v in runs) for k in keys}
    got = num(rf'the three MiniLM seeds of `full` span {n} BLEU-1, {n} PPL, {n} Acc_emo and {n} final-intent points')
    assert got == [r2(span[k]) for k in keys]
    larger = {(s, k) for s in ('wo_era', 'wo_experts', 'wo_twice') for k in keys if abs(c.loc[(s, k), 'diff']) > span[k]}
    assert larger == {('wo_era', 'acc_emo'), ('wo_era', 'acc_intent_pred'), ('wo_twice', 'acc_intent_pred'), ('wo_twice', 'acc_emo')}, larger   # "the only differences here larger"
    got = num(rf'and, by a little, on the emotion \({n}, whose interval holds 0\)')
    assert got == [r2(c.loc[('wo_twice', 'acc_emo'), 'diff'])] and abs(got[0]) - span['acc_emo'] < 0.5            # "by a little"
