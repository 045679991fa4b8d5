"The README's two commands are what CI runs, and the executable paper's index shows the same text."
import json, re
from conftest import ROOT

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
    from reflectdiffu.tables import readme_block, headline_markdown, read_table2_csv
    block = readme_block((ROOT/'README.md').read_text(), 'full')
    csv = ROOT/'reports/full/table2.csv'
    if csv.exists(): assert block == headline_markdown(read_table2_csv(csv), 'full'), 'README is stale: run `rd-readme-table --profile full`'
    else: assert not re.search(r'\d\.\d', block), 'README: no numbers in the headline block without reports/full/table2.csv'

def test_full_profile_rows_cover_the_whole_test_split():
    "Each committed full-profile evaluation scored all 5,232 test turns and kept its responses."
    import pandas as pd
    for m in sorted((ROOT/'reports/full/eval').glob('*/metrics.json')):
        d = json.loads(m.read_text())
        assert (d['profile'], d['n_responses']) == ('full', 5232), m
        r = pd.read_csv(m.parent/'responses.tsv', sep='\t', keep_default_na=False)
        assert len(r) == 5232 and r['id'].is_unique, m.parent/'responses.tsv'

def test_reading_the_rows_matches_the_table():
    "The prose under the headline table states facts of reports/full/table2.csv; each checked sentence must still hold."
    from reflectdiffu.tables import read_table2_csv, VARIANTS
    csv = ROOT/'reports/full/table2.csv'
    if not csv.exists(): return
    text = ' '.join((ROOT/'README.md').read_text().split())
    df = read_table2_csv(csv).set_index('row')
    col = {c.split(' / ')[0]: c for c in df.columns if c not in ('row', 'source')}
    ran = [v for v in VARIANTS if f'ours (full): {v}' in df.index and not str(df.loc[f'ours (full): {v}', 'source']).startswith('missing')]
    ours = lambda v, c: float(df.loc[f'ours (full): {v}', col[c]])
    words = {1: 'One', 2: 'Two', 3: 'Three', 4: 'Four'}
    assert (f'{words[len(ran)]} of the five rows exist' if len(ran) < 5 else 'All five rows exist') in text, \
        f'README "Reading the rows": {len(ran)} rows have numbers'
    higher = ['B-1', 'B-2', 'B-3', 'B-4', 'Acc_emo', 'D-1', 'D-2']
    abl = [v for v in ran if v != 'full']
    if 'Every row is worse than its paper counterpart on every comparable column' in text:
        for v in ran:
            paper = lambda c: float(df.loc[VARIANTS[v], col[c]])
            bad = [c for c in higher if ours(v, c) >= paper(c)] + (['PPL'] if ours(v, 'PPL') <= paper('PPL') else [])
            assert not bad, f'{v} is not worse than the paper on {bad}'
    if 'the closest is the `wo_twice` PPL, within a few hundredths of the paper\'s' in text:
        assert abs(ours('wo_twice', 'PPL') - float(df.loc[VARIANTS['wo_twice'], col['PPL']])) < 0.1
    if 'our PPL is lower than theirs (IAMM\'s is lower still)' in text:
        base = [float(df.loc[b, col['PPL']]) for b in ['MOEL', 'MIME', 'KEMP', 'CASE']]
        assert all(float(df.loc['IAMM', col['PPL']]) < ours(v, 'PPL') < min(base) for v in ran)
    m = re.search(r'The full model leads every ablation only on Acc_emo; on the final-intent accuracy it leads every ablation except `(\w+)`', text)
    if m:
        assert all(ours('full', 'Acc_emo') > ours(v, 'Acc_emo') for v in abl), 'Acc_emo'
        assert [v for v in abl if ours(v, 'Acc_intent') >= ours('full', 'Acc_intent')] == [m.group(1)], 'Acc_intent'
        for c in higher[:4] + ['D-1', 'D-2', 'BARTScore']: assert any(ours(v, c) > ours('full', c) for v in abl), c
        assert any(ours(v, 'PPL') < ours('full', 'PPL') for v in abl), 'PPL'
    m = re.search(r'On BLEU-1/2 it beats only `(\w+)`', text)
    if m:
        for c in ['B-1', 'B-2']: assert [v for v in abl if ours('full', c) > ours(v, c)] == [m.group(1)], c
    m = re.search(r'On BLEU-3/4, PPL, Distinct-1/2 and the relevance score it is the worst of the (\w+)', text)
    if m:
        assert m.group(1) == {4: 'four', 5: 'five'}.get(len(ran)), f'"worst of the {m.group(1)}": {len(ran)} rows'
        for c in ['B-3', 'B-4', 'D-1', 'D-2', 'BARTScore']: assert all(ours('full', c) < ours(v, c) for v in abl), c
        assert all(ours('full', 'PPL') > ours(v, 'PPL') for v in abl), 'PPL'
    if 'Acc_emo drops without ERA and without the experts, as in the paper, but by a fraction of a point' in text:
        for v in ['wo_era', 'wo_experts']: assert 0 < ours('full', 'Acc_emo') - ours(v, 'Acc_emo') < 1, v
    if 'the sampled second intent breaks more first intents than it corrects' in text:
        refl = json.loads((ROOT/'reports/full/intent_reflection.json').read_text())
        has = [v for v in ran if v != 'wo_twice']
        assert has and all(v in refl for v in has), sorted(refl)
        for v in has:
            a = refl[v]['all']
            assert a['twice_broken'] > a['twice_corrected'] and a['final_corrected'] > a['final_broken'], (v, a)
    if 'without EMU it drops by more than a point, where the paper\'s drop is less than half a point' in text:
        paper = lambda r: float(df.loc[r, col['Acc_emo']])
        assert ours('full', 'Acc_emo') - ours('wo_emu', 'Acc_emo') > 1 and 0 < paper(VARIANTS['full']) - paper(VARIANTS['wo_emu']) < 0.5
    summ = {v: json.loads((ROOT/f'reports/full/train/{v}/summary.json').read_text()) for v in ran}
    if 'one thread per run' in text: assert all(s['num_threads'] == 1 for s in summ.values()), {v: s['num_threads'] for v, s in summ.items()}
    m = re.search(r'`(\w+)`, `(\w+)` and `(\w+)` were stopped at session boundaries and resumed', text)
    if m: assert [v for v in ran if summ[v]['resumed_from']] == list(m.groups()), {v: s['resumed_from'] for v, s in summ.items()}
    if 'had their lowest valid PPL at the last validation' in text:
        for v, s in summ.items(): assert s['best_step'] == s['steps'] == s['max_steps'], v
    if 'significance.md' not in text: return
    import pandas as pd
    d = pd.read_csv(ROOT/'reports/full/significance.csv')
    beyond = (d['lo'] > 0) | (d['hi'] < 0)
    if '`wo_twice` differs from `full` beyond test-sample noise on every bootstrapped column (higher BLEU, lower PPL, lower Acc_emo and final-intent accuracy)' in text:
        t = (d['system'] == 'wo_twice') & (d['test'] == 'bootstrap')
        sign = d.loc[t, 'metric'].map(lambda m: 1 if m.startswith('bleu') else -1)
        assert t.any() and beyond[t].all() and (d.loc[t, 'diff'] * sign > 0).all(), d[t]
    if 'so does the PPL of every ablation' in text:
        t = d['metric'] == 'ppl'
        assert set(d.loc[t, 'system']) == set(ran) - {'full'} and beyond[t].all(), d[t]
    higher_sig = (d['diff'] > 0) & (d['p'] < 0.05)
    if "Every ablation's Distinct-1/2 is higher than the full model's beyond test-sample noise" in text:
        t = d['metric'].isin(['dist1', 'dist2'])
        assert set(d.loc[t, 'system']) == set(ran) - {'full'} and higher_sig[t].all(), d[t]
    m = re.search(r"Every ablation's Distinct-2 is higher than the full model's beyond test-sample noise, and so is the Distinct-1 of every ablation except `(\w+)`", text)
    if m:
        t2, t1 = d['metric'] == 'dist2', d['metric'] == 'dist1'
        assert set(d.loc[t2, 'system']) == set(ran) - {'full'} and higher_sig[t2].all(), d[t2]
        assert list(d.loc[t1 & ~higher_sig, 'system']) == [m.group(1)], d[t1]
    m = re.search(r'The Acc_emo drop of `(\w+)` is beyond test-sample noise, its higher final-intent accuracy is not', text)
    if m:
        e = d[(d['system'] == m.group(1)) & (d['metric'] == 'acc_emo')].iloc[0]
        i = d[(d['system'] == m.group(1)) & (d['metric'] == 'acc_intent_pred')].iloc[0]
        assert e['hi'] < 0 and i['diff'] > 0 and i['lo'] <= 0, (e, i)

def test_floors_reading_matches_the_table():
    "The README's reading of the floor rows holds in reports/full/table2.csv, and a row below the bag-of-words Acc_emo is said so."
    from reflectdiffu.tables import read_table2_csv, VARIANTS
    csv = ROOT/'reports/full/table2.csv'
    if not csv.exists(): return
    df = read_table2_csv(csv).set_index('row')
    if 'floor: bag-of-words' not in df.index: return
    text = ' '.join((ROOT/'README.md').read_text().split())
    col = {c.split(' / ')[0]: c for c in df.columns if c not in ('row', 'source')}
    ran = [v for v in VARIANTS if f'ours (full): {v}' in df.index and not str(df.loc[f'ours (full): {v}', 'source']).startswith('missing')]
    ours = lambda v, c: float(df.loc[f'ours (full): {v}', col[c]])
    fl = lambda f, c: float(df.loc[f'floor: {f}', col[c]])
    below = {c: [v for v in ran if ours(v, c) < fl('bag-of-words', c)] for c in ('Acc_emo', 'Acc_intent')}
    claim = 'Every one of our five rows is below the bag-of-words floor on both Acc_emo and Acc_intent'
    if claim in text: assert len(ran) == 5 and all(len(b) == 5 for b in below.values()), below
    elif below['Acc_emo']:   # the rule: wherever a neural row is below a bag of words, the README says so
        for v in below['Acc_emo']: assert re.search(rf'`{v}`[^.]*below the bag-of-words floor on Acc_emo', text), v
    if 'scores lower than every row of ours on BLEU-1..4 and the relevance column, and far higher on Distinct-1/2' in text:
        for c in ['B-1', 'B-2', 'B-3', 'B-4', 'BARTScore']: assert all(fl('retrieval', c) < ours(v, c) for v in ran), c
        for c in ['D-1', 'D-2']: assert all(fl('retrieval', c) > 2 * ours(v, c) for v in ran), c
    if "the gold responses' Distinct-1/2 are higher still" in text:
        for c in ['D-1', 'D-2']: assert fl('human', c) > fl('retrieval', c), c
