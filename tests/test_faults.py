"""Fault injection (issue 17): each fault a careful user can cause, on the sample data, with the message, the exit code
and what must survive. Training runs use the small stand-in of test_train; the DVC cases run `dvc repro` in a scratch
repository whose stage declares its outputs exactly as this project's dvc.yaml does (a stand-in command instead of the
notebook), so they test the output declarations, not the model. About a minute in all."""
import json, os, shutil, subprocess, sys, textwrap
from pathlib import Path

import pytest
import torch
import yaml

from reflectdiffu.engine import train as T
from reflectdiffu.data.corpus import DataError, load_examples, read_jsonl
from reflectdiffu.core.params import ParamsError, load_params
from conftest import ROOT
from test_train import run, fail_at, assert_same_weights, StandIn

BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", OMP_NUM_THREADS='1',
           DVC_NO_ANALYTICS='1')


def sh(cmd, cwd, **kw):
    "Run a shell command; (returncode, stdout + stderr)."
    r = subprocess.run(cmd, shell=True, cwd=cwd, env=kw.pop('env', ENV), capture_output=True, text=True, **kw)
    return r.returncode, r.stdout + r.stderr


# ---------------------------------------------------------------- 1. a finished training is reused, not redone

def test_finished_training_is_reused(tmp_path):
    "Rerunning a finished run of the same params trains nothing and rewrites the same record."
    m0, s0 = run(tmp_path)
    files = {p: p.read_bytes() for p in sorted((tmp_path / 'out').iterdir()) + sorted((tmp_path / 'rep').iterdir())}
    m1, s1 = run(tmp_path, on_step=fail_at(1))       # today's code starts afresh and hits the injected failure at step 1
    assert s1 == s0 and s1['resumed_from'] == []
    assert_same_weights(m0, m1)
    assert {p: p.read_bytes() for p in files} == files   # checkpoints, logs and summary.json byte for byte


def test_finished_training_of_other_code_is_trained_afresh(tmp_path):
    "The same params but other training code (DVC reran the stage because that code changed): not reused."
    m0, s0 = run(tmp_path, code='c1')
    assert s0['code'] == ['c1']
    _, again = run(tmp_path, code='c1', on_step=fail_at(1))      # the same code: reused, nothing trains
    assert again == s0
    with pytest.raises(RuntimeError, match='injected failure at step 1'):
        run(tmp_path, code='c2', on_step=fail_at(1))              # other code: trained afresh, so step 1 runs
    m2, s2 = run(tmp_path, code='c2')                             # the interrupted c2 run resumes (from scratch: no checkpoint yet)
    assert s2['code'] == ['c2'] and s2['steps'] == s0['steps']
    assert_same_weights(m0, m2)                                   # the stand-in's code did not really change


def dvc_stage(name, key=None):
    "The `stages.<name>` block of this project's dvc.yaml with ${profile} / ${key} filled in for the sample profile."
    st = yaml.safe_load((ROOT / 'dvc.yaml').read_text())['stages'][name]
    st = st.get('do', st)
    text = yaml.safe_dump(st).replace('${profile}', 'sample').replace('${key}', key or '')
    return yaml.safe_load(text)


def paths_of(st, *sections):
    return [next(iter(o)) if isinstance(o, dict) else o for s in sections for o in st.get(s, [])]


STANDIN = '''
import sys, yaml
from pathlib import Path
fail = yaml.safe_load(open('params.yaml'))['fail']
outs = sys.argv[1:]
nb = [o for o in outs if o.endswith('.ipynb')]
for o in nb: Path(o).parent.mkdir(parents=True, exist_ok=True); Path(o).write_text('executed notebook, failed run' if fail else 'executed notebook')
if fail: sys.exit('injected failure')       # papermill has written the failed notebook by then
for o in outs:
    if o in nb: continue
    Path(o).parent.mkdir(parents=True, exist_ok=True); Path(o).write_text('step\\tloss\\n1\\t0.5\\n' if o.endswith('.tsv') else f'finished: {o}\\n')
'''


def scratch_repo(tmp_path, name, key=None):
    "A scratch DVC repository whose stage `name` declares this project's outputs, with a stand-in command."
    st = dvc_stage(name, key)
    outs = paths_of(st, 'outs', 'metrics', 'plots')
    (tmp_path / 'standin.py').write_text(STANDIN)
    (tmp_path / 'params.yaml').write_text('fail: false\n')
    stage = {k: st[k] for k in ('outs', 'metrics', 'plots') if k in st}
    stage.update(cmd=f"python standin.py {' '.join(outs)}", deps=['standin.py'], params=['fail'])
    (tmp_path / 'dvc.yaml').write_text(yaml.safe_dump(dict(stages={name: stage})))
    rc, out = sh('dvc init --no-scm -q && dvc repro -q', tmp_path)
    assert rc == 0, out
    return outs


def records(tmp_path, outs):
    return {o: (tmp_path / o).read_bytes() if (tmp_path / o).exists() else None for o in outs}


def test_failed_train_stage_keeps_finished_record(tmp_path):
    "train@full: fail once, restore params, `dvc checkout -f`: the finished run is current again, nothing reruns."
    outs = scratch_repo(tmp_path, 'train', 'full')
    before = records(tmp_path, outs)
    (tmp_path / 'params.yaml').write_text('fail: true\n')
    rc, out = sh('dvc repro -q', tmp_path)
    assert rc != 0 and 'injected failure' in out
    after_fail = records(tmp_path, outs)
    kept = [o for o in outs if o.endswith('summary.json') or o.endswith('.tsv') or o.endswith('best.pt')]
    assert kept and all(after_fail[o] == before[o] for o in kept), 'a failed run deleted the finished record'
    (tmp_path / 'params.yaml').write_text('fail: false\n')
    rc, out = sh('dvc checkout -f -q && dvc status', tmp_path)
    assert rc == 0 and 'up to date' in out, out      # today: the executed notebook (cache: false) stays the failed one
    assert records(tmp_path, outs) == before


def test_failed_report_keeps_the_last_report(tmp_path):
    "report: a failed run leaves the previous report files in place (DVC's default deletes them first)."
    outs = scratch_repo(tmp_path, 'report')
    before = records(tmp_path, outs)
    (tmp_path / 'params.yaml').write_text('fail: true\n')
    rc, out = sh('dvc repro -q', tmp_path)
    assert rc != 0 and 'injected failure' in out
    after = records(tmp_path, outs)
    reports = [o for o in outs if o.startswith('reports/')]
    assert len(reports) >= 8
    lost = [o for o in reports if after[o] != before[o]]
    assert not lost, f'the failed report run deleted {lost}'


# ---------------------------------------------------------------- 2. corrupted or non-finite weights are refused

def finished_best(tmp_path):
    run(tmp_path)
    return tmp_path / 'out' / 'best.pt'


def test_corrupted_weights_are_refused(tmp_path):
    "4 KiB of finite bytes written over a tensor in best.pt: torch.load accepts it, load_weights must not."
    p = finished_best(tmp_path)
    ck = torch.load(p, weights_only=True)
    name, w = max(ck['model'].items(), key=lambda kv: kv[1].numel())
    raw = p.read_bytes(); at = raw.index(w.numpy().tobytes())
    n = min(4096, w.numel() * 4)
    p.write_bytes(raw[:at] + (w + 0.5).numpy().tobytes()[:n] + raw[at + n:])
    assert not torch.equal(torch.load(p, weights_only=True)['model'][name], w)   # the damage loads silently
    with pytest.raises(T.CheckpointError, match=f'{p}: corrupted: its content hash does not match'):
        T.load_weights(StandIn(), p)
    raw = p.read_bytes()                                                        # random bytes in the middle
    mid = len(raw) // 2
    p.write_bytes(raw[:mid] + os.urandom(4096) + raw[mid + 4096:])
    with pytest.raises(T.CheckpointError, match=str(p)): T.load_weights(StandIn(), p)


def test_nan_weights_are_refused_naming_the_tensor(tmp_path):
    p = finished_best(tmp_path)
    ck = T.load_checkpoint(p)
    ck['model']['out.weight'][3, 2] = float('inf'); ck['model']['out.weight'][0, 0] = float('nan')
    T.save_checkpoint(ck, p)                                                     # a consistent hash: only the values are bad
    with pytest.raises(T.CheckpointError, match=f'{p}: weight out.weight has 2 non-finite values'):
        T.load_weights(StandIn(), p)


# ---------------------------------------------------------------- 3. byte-identical BERTScore

BERT_CHILD = r'''
import json, sys
sys.path.insert(0, {root!r})
import torch; torch.set_num_threads(1)
from reflectdiffu.data.corpus import read_jsonl
from reflectdiffu.evaluation.metrics import bertscore_f1
ex = [e for s in ('valid', 'test') for e in read_jsonl({prep!r} + f'/{{s}}.jsonl')][:240]
refs = [e['target']['tokens'] for e in ex]
hyps = [e['context'][-1]['tokens'][:12] for e in ex]      # every hypothesis / reference pair differs
r = bertscore_f1(hyps, refs, 'minilm', 6, batch_size=16)
print(json.dumps(dict(value=r['value'], f1=r['f1'])))
'''


def test_bertscore_is_byte_identical_across_hash_seeds(tmp_path):
    "bert-score orders sentences through a set(): equal inputs gave other digits under another PYTHONHASHSEED."
    from reflectdiffu.data.prepare import prepare
    shutil.copytree(ROOT / 'sample', tmp_path / 'sample')
    prepare(load_params(ROOT / 'params.yaml', profile='sample'), root=tmp_path)
    code = BERT_CHILD.format(root=str(ROOT), prep=str(tmp_path / 'out' / 'sample' / 'prepare'))
    outs = set()
    for seed in ('1', '2', '3'):
        r = subprocess.run([sys.executable, '-c', code], env=dict(ENV, PYTHONHASHSEED=seed), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        outs.add(r.stdout.strip().splitlines()[-1])
    assert len(outs) == 1, [json.loads(o)['value'] for o in outs]


# ---------------------------------------------------------------- 4. params: numbers, duplicates, locations, first line

def params_text(): return (ROOT / 'params.yaml').read_text()


def line_of(text, s): return text[:text.index(s)].count('\n') + 1


def test_exponent_floats_are_numbers(tmp_path):
    p = tmp_path / 'params.yaml'; p.write_text(params_text().replace('  adam_eps: 1.0e-9', '  adam_eps: 1e-9', 1))
    assert load_params(p)['train']['adam_eps'] == 1e-9      # PyYAML alone reads '1e-9', refused as "got str"


def test_duplicated_key_is_an_error(tmp_path):
    text = params_text().replace('  warmup: 6000 ', '  warmup: 6000\n  max_steps: 10 ', 1)
    p = tmp_path / 'params.yaml'; p.write_text(text)
    first, dup = line_of(text, '  max_steps: 16000'), line_of(text, '  max_steps: 10 ')
    with pytest.raises(ParamsError, match=f"{p}:{dup}: duplicated key 'max_steps' \\(first at line {first}\\)"):
        load_params(p)


def test_type_and_range_errors_name_file_and_line(tmp_path):
    text = params_text().replace('  batch_size: 32 ', '  batch_size: 0 ', 1)
    p = tmp_path / 'params.yaml'; p.write_text(text)
    with pytest.raises(ParamsError, match=f'^{p}:{line_of(text, "  batch_size: 0 ")}: train.batch_size: 0 is below the minimum 1$'):
        load_params(p)
    text = params_text().replace('    train.max_steps: 150 ', '    train.max_steps: many ', 1)
    p.write_text(text)
    with pytest.raises(ParamsError, match=f"^{p}:{line_of(text, 'train.max_steps: many')}: profiles.sample.train.max_steps: expected int, got str"):
        load_params(p)


@pytest.mark.parametrize('stage, key', [('train', 'full'), ('evaluate', 'full'), ('report', None)])
def test_stage_params_error_is_the_first_line(tmp_path, stage, key):
    "The stage command of dvc.yaml with a bad params.yaml: one line naming file, line and key; exit status 1."
    text = params_text().replace('  batch_size: 32 ', '  batch_size: 0 ', 1)
    (tmp_path / 'params.yaml').write_text(text)
    rc, out = sh(dvc_stage(stage, key)['cmd'], tmp_path)
    assert rc == 1
    tool = 'rd-params' if stage == 'report' else 'rd-run'     # train / evaluate check every system section too
    assert out.splitlines()[0] == f'{tool}: params.yaml:{line_of(text, "  batch_size: 0 ")}: train.batch_size: 0 is below the minimum 1', out[:3000]


@pytest.mark.parametrize('stage', ['train', 'evaluate'])
def test_stage_system_section_error_is_the_first_line(tmp_path, stage):
    "A bad key in a system's section stops the train / evaluate stage of every run with one line naming it."
    text = params_text().replace('  emotion_head: false', '  emotion_head: maybe', 1)
    (tmp_path / 'params.yaml').write_text(text)
    rc, out = sh(dvc_stage(stage, 'full')['cmd'], tmp_path)
    assert rc == 1
    assert out.splitlines()[0].startswith(f'rd-run: params.yaml:{line_of(text, "  emotion_head: maybe")}: trs.emotion_head: expected bool'), out[:3000]


# ---------------------------------------------------------------- 4. data files: encoding, hints, SAMPLE.json

@pytest.fixture
def sample_copy(tmp_path):
    shutil.copytree(ROOT / 'sample', tmp_path / 'sample'); shutil.copy(ROOT / 'params.yaml', tmp_path / 'params.yaml')
    return tmp_path


def test_non_utf8_byte_names_file_and_line(sample_copy):
    f = sample_copy / 'sample' / 'empatheticdialogues' / 'annotated' / 'afraid.csv'
    lines = f.read_bytes().split(b'\n')
    lines[4] = lines[4].replace(b'a', b'\xe9', 1)       # a Latin-1 byte on line 5
    f.write_bytes(b'\n'.join(lines))
    with pytest.raises(DataError, match=f'{f}:5: not valid UTF-8 \\(byte 0xe9'):
        load_examples(sample_copy / 'sample')
    j = sample_copy / 'x.jsonl'; j.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')
    with pytest.raises(DataError, match=f'{j}:2: not valid UTF-8'): read_jsonl(j)


def test_missing_sample_file_gives_the_sample_hint(sample_copy):
    (sample_copy / 'sample' / 'empatheticdialogues' / 'annotated' / 'sad.csv').unlink()
    rc, out = sh('rd-prepare', sample_copy)
    assert rc == 1 and out.startswith('rd-prepare: sample/empatheticdialogues/annotated/sad.csv: missing'), out
    assert '`git checkout sample/`' in out and 'rd-fetch' not in out
    assert not (sample_copy / 'out').exists()


def test_missing_sample_json_is_named(sample_copy):
    (sample_copy / 'sample' / 'SAMPLE.json').unlink()
    rc, out = sh('rd-prepare', sample_copy)
    assert rc == 1 and out.startswith("rd-prepare: sample/SAMPLE.json: missing"), out   # today: a checksum error on another file
    assert 'checksum mismatch' not in out and '`git checkout sample/`' in out
