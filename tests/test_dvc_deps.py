"Every reflectdiffu module a stage runs (its notebook's or command's imports, followed transitively) is a declared dependency in dvc.yaml."
import configparser, json, re
from pathlib import Path
import yaml
from conftest import ROOT

IMPORT = re.compile(r'^\s*(?:from\s+(?:reflectdiffu\.|\.)(\w+)\s+import|from\s+reflectdiffu\s+import\s+([\w, ]+)|import\s+reflectdiffu\.(\w+))', re.M)
LIB = ROOT/'reflectdiffu'


def _imports(text: str) -> set[str]:
    "Module names of reflectdiffu imported by `text` (absolute or relative, at any indentation)."
    out = set()
    for a, b, c in IMPORT.findall(text):
        if a or c: out.add(a or c)
        else: out |= {n.strip() for n in b.split(',') if (LIB/f'{n.strip()}.py').exists()}
    return {m for m in out if (LIB/f'{m}.py').exists()}


def closure(mods: set[str]) -> set[str]:
    "The modules `mods` import, transitively, themselves included."
    seen, todo = set(), list(mods)
    while todo:
        m = todo.pop()
        if m in seen: continue
        seen.add(m); todo += _imports((LIB/f'{m}.py').read_text())
    return seen


def _scripts() -> dict:
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    pairs = [l.split('=', 1) for l in cfg['DEFAULT']['console_scripts'].split('\n') if '=' in l]
    return {k.strip(): v.strip().split(':')[0].split('.')[-1] for k, v in pairs}


def stage_code(stage: dict) -> set[str]:
    "The reflectdiffu modules a stage runs: its stage notebook's imports and the modules of the rd-* commands in its cmd."
    cmd = stage['cmd'] if isinstance(stage['cmd'], str) else ' '.join(stage['cmd'])
    mods = {m for s, m in _scripts().items() if re.search(rf'(^|[\s;&|]){re.escape(s)}(\s|$)', cmd)}
    for nb in re.findall(r'nbs/stages/[\w.-]+\.ipynb', cmd):
        cells = json.loads((ROOT/nb).read_text())['cells']
        mods |= _imports('\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code'))
    return closure(mods)


def missing_deps(dvc: dict) -> dict:
    "Per stage, the library modules it runs that its deps do not list (a listed folder covers what is inside it)."
    out = {}
    for name, st in dvc['stages'].items():
        body = st.get('do', st)
        deps = [str(d) for d in body.get('deps', [])]
        covered = lambda p: any(p == d or p.startswith(d.rstrip('/') + '/') for d in deps)
        miss = sorted(f'reflectdiffu/{m}.py' for m in stage_code(body) if not covered(f'reflectdiffu/{m}.py'))
        if miss: out[name] = miss
    return out


def test_closure_follows_imports():
    assert 'text' in closure({'batches'})          # batches imports text
    assert closure({'params'}) >= {'params'}


def test_every_stage_lists_the_modules_it_runs():
    dvc = yaml.safe_load((ROOT/'dvc.yaml').read_text())
    assert missing_deps(dvc) == {}, 'add these to the stage deps in dvc.yaml'


def test_a_missing_dependency_is_caught():
    dvc = yaml.safe_load((ROOT/'dvc.yaml').read_text())
    body = dvc['stages']['train'].get('do', dvc['stages']['train'])
    body['deps'] = [d for d in body['deps'] if d != 'reflectdiffu/model.py']
    assert missing_deps(dvc) == {'train': ['reflectdiffu/model.py']}
