"DVC's own views: the train plots draw loss / PPL and the top-level plots overlay every run; the declared metrics hold numbers only."
import csv, json, math, re
import pytest, yaml
from conftest import ROOT
from reflectdiffu.evaluation.headline import headline, FLOOR_BLOCKS, HEADLINE_FILE

DVC = yaml.safe_load((ROOT/'dvc.yaml').read_text())
PARAMS = yaml.safe_load((ROOT/'params.yaml').read_text())
RUNS = PARAMS['variants']
SAMPLE = ROOT/'reports'/'sample'
LONG_STAGES = ('era', 'intent_clf', 'train', 'evaluate')


def _paths(entries):
    "The paths of a dvc.yaml outs / metrics / plots list."
    return [e if isinstance(e, str) else next(iter(e)) for e in entries or []]


def _props(entries, suffix):
    return next(next(iter(e.values())) for e in entries if not isinstance(e, str) and next(iter(e)).endswith(suffix))


def declared_metrics(profile='sample'):
    "Every metrics file dvc.yaml declares for `profile`, one per run for a `foreach` stage."
    out = []
    for st in DVC['stages'].values():
        body = st.get('do', st)
        keys = [(k, v['system']) for k, v in RUNS.items()] if st.get('foreach') == '${variants}' else [(None, None)]
        for key, system in keys:
            for p in _paths(body.get('metrics')):
                p = p.replace('${profile}', profile)
                if key: p = p.replace('${key}', key).replace('${item.system}', system)
                out.append(p)
    return out


def non_numbers(obj, path=''):
    "The leaves of a JSON value that are not finite numbers (bools, strings, nulls, NaN, lists), as 'key: value'."
    if isinstance(obj, dict): return [x for k, v in obj.items() for x in non_numbers(v, f'{path}.{k}' if path else k)]
    ok = isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj)
    return [] if ok else [f'{path}: {obj!r}'[:120]]


def _columns(tsv):
    "{column: values} of a TSV file."
    rows = list(csv.DictReader(tsv.open(), delimiter='\t'))
    return {c: [r[c] for r in rows] for c in rows[0]}


def test_train_plots_draw_loss_and_ppl():
    plots = DVC['stages']['train']['do']['plots']
    assert _props(plots, 'log.tsv') == {**_props(plots, 'log.tsv'), 'x': 'step', 'y': 'loss'}
    assert _props(plots, 'valid.tsv')['y'] == 'ppl' and _props(plots, 'valid.tsv')['x'] == 'step'
    for run in RUNS:   # the columns exist in the files the sample run wrote
        cols = _columns(SAMPLE/'train'/run/'log.tsv'), _columns(SAMPLE/'train'/run/'valid.tsv')
        assert 'loss' in cols[0] and 'step' in cols[0] and 'ppl' in cols[1], run


def _top(pid):
    return next(next(iter(p.values())) for p in DVC['plots'] if next(iter(p)) == pid)


@pytest.mark.parametrize('pid,file,col', [('train_loss', 'log.tsv', 'loss'), ('valid_ppl', 'valid.tsv', 'ppl'),
                                          ('valid_acc_emo', 'valid.tsv', 'acc_emo'), ('valid_acc_intent', 'valid.tsv', 'acc_intent')])
def test_top_level_plots_overlay_the_runs(pid, file, col):
    "Loss and PPL: every run; an accuracy: exactly the runs whose valid.tsv has it (not all NaN)."
    plot = _top(pid)
    assert plot['x'] == 'step' and isinstance(plot['y'], dict)
    listed = {}
    for path, c in plot['y'].items():
        m = re.fullmatch(r'reports/\$\{profile\}/train/(\w+)/' + re.escape(file), path)
        assert m and c == col, (pid, path, c)
        listed[m[1]] = c
    has = {r for r in RUNS if any(v.lower() != 'nan' for v in _columns(SAMPLE/'train'/r/file)[col])}
    assert set(listed) == has, f"{pid}: listed {sorted(listed)}, runs with {col}: {sorted(has)}"
    if col in ('loss', 'ppl'): assert set(listed) == set(RUNS)


def test_declared_metrics_hold_numbers_only():
    files = declared_metrics()
    present = [f for f in files if (ROOT/f).exists()]
    assert len([f for f in present if f.endswith(HEADLINE_FILE)]) >= 2 * len(RUNS) + len(FLOOR_BLOCKS) + 2, present
    bad = {f: non_numbers(json.loads((ROOT/f).read_text())) for f in present if f.endswith('.json')}
    assert not {f: b for f, b in bad.items() if b}, 'move these files to outs (cache: false) and declare a headline file'


def test_the_number_check_catches_a_record():
    "The check above fails on the full records (counts are fine, but strings and nulls are not)."
    bad = non_numbers(json.loads((SAMPLE/'eval'/'full'/'metrics.json').read_text()))
    assert any(b.startswith('variant:') for b in bad) and any('.status' in b for b in bad)
    assert non_numbers({'a': {'b': 1.0, 'c': True}}) == ['a.c: True']


@pytest.mark.parametrize('profile', ['sample', 'full'])
def test_headline_files_are_derived_from_the_records(profile):
    "Each committed headline file equals what reflectdiffu.evaluation.headline derives from its record (no hand edits)."
    R, n = ROOT/'reports'/profile, 0
    pairs = [(d/'metrics.json', d/HEADLINE_FILE, 'eval') for d in sorted((R/'eval').glob('*')) if (d/'metrics.json').exists()]
    pairs += [(d/'summary.json', d/HEADLINE_FILE, 'train') for d in sorted((R/'train').glob('*')) if (d/'summary.json').exists()]
    pairs += [(R/f'{s}_metrics.json', R/s/HEADLINE_FILE, s) for s in ('era', 'intent_clf') if (R/f'{s}_metrics.json').exists()]
    for src, dest, kind in pairs:
        assert dest.exists(), f'{dest}: missing; python -c "from reflectdiffu.evaluation.headline import write_profile; write_profile(\'{R}\')"'
        assert json.loads(dest.read_text()) == headline(json.loads(src.read_text()), kind, str(src)), dest
        n += 1
    if (R/'floors'/'metrics.json').exists():
        rec = json.loads((R/'floors'/'metrics.json').read_text())
        for f in FLOOR_BLOCKS:
            assert json.loads((R/'floors'/f/HEADLINE_FILE).read_text()) == headline(rec[f], 'floor'); n += 1
    assert n >= 6


def test_data_dependencies_follow_data_dir():
    "prepare and intent_clf depend on the folder `data.dir` names, not on the sample folder."
    for st in ('prepare', 'intent_clf'):
        deps = DVC['stages'][st]['deps']
        assert any(d.startswith('${data.dir}') for d in deps) and not any(d.split('/')[0] == 'sample' for d in deps), (st, deps)


@pytest.mark.parametrize('stage', LONG_STAGES)
def test_long_stages_show_progress(stage):
    "The long stages log the notebook's output (tqdm bars with an ETA) to the terminal, at most one bar line per 30 s."
    cmd = DVC['stages'][stage].get('do', DVC['stages'][stage])['cmd']
    assert re.search(r'TQDM_MININTERVAL=\d+ papermill --log-output\b', cmd), cmd
