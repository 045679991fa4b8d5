"Every reflectdiffu module a stage runs (its notebook's or command's imports, followed transitively) is a declared dependency in dvc.yaml."
import configparser, json, re
from pathlib import Path
import yaml
from conftest import ROOT

IMPORT = re.compile(r'^\s*(?:from\s+(reflectdiffu(?:\.\w+)*|\.+\w*(?:\.\w+)*)\s+import\s+\(?([\w, ]+)|import\s+(reflectdiffu(?:\.\w+)+))', re.M)
LIB = ROOT/'reflectdiffu'


def _file(mod: str):
    "The source file of the dotted module `mod` (relative to the package root, e.g. 'engine.train'), or None."
    f = LIB/(mod.replace('.', '/') + '.py')
    return f if mod and f.exists() else None


def _imports(text: str, pkg: str = '') -> set[str]:
    "Dotted reflectdiffu modules (without the 'reflectdiffu.' prefix) imported by `text`, which lives in package `pkg`."
    out = set()
    for frm, names, imp in IMPORT.findall(text):
        if imp: base, names = imp.split('.', 1)[1], ''
        elif frm.startswith('reflectdiffu'): base = frm.partition('.')[2]
        else:   # relative: one dot is `pkg`, each further dot one level up
            dots = len(frm) - len(frm.lstrip('.')); parts = pkg.split('.') if pkg else []
            up = parts[:len(parts) - (dots - 1)] if dots > 1 else parts
            base = '.'.join(up + ([frm.lstrip('.')] if frm.lstrip('.') else []))
        if _file(base): out.add(base)
        for n in (x.strip() for x in names.split(',')):
            sub = f'{base}.{n}' if base else n
            if n and _file(sub): out.add(sub)
    return out


def closure(mods: set[str]) -> set[str]:
    "The modules `mods` import, transitively, themselves included."
    seen, todo = set(), list(mods)
    while todo:
        m = todo.pop()
        if m in seen: continue
        seen.add(m); todo += _imports(_file(m).read_text(), m.rpartition('.')[0])
    return seen


def _scripts() -> dict:
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    pairs = [l.split('=', 1) for l in cfg['DEFAULT']['console_scripts'].split('\n') if '=' in l]
    return {k.strip(): v.strip().split(':')[0].partition('.')[2] for k, v in pairs}


def stage_code(stage: dict) -> set[str]:
    "The reflectdiffu modules a stage runs: its stage notebook's imports and the modules of the rd-* commands in its cmd."
    cmd = stage['cmd'] if isinstance(stage['cmd'], str) else ' '.join(stage['cmd'])
    mods = {m for s, m in _scripts().items() if re.search(rf'(^|[\s;&|]){re.escape(s)}(\s|$)', cmd)}
    for nb in re.findall(r'nbs/stages/[\w.-]+\.ipynb', cmd):
        cells = json.loads((ROOT/nb).read_text())['cells']
        mods |= _imports('\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code'))
    return closure(mods)


def system_modules(system: str) -> set[str]:
    "The modules of a system's own package `reflectdiffu/systems/<system>/` and everything they import."
    pkg = LIB/'systems'/system
    if not pkg.is_dir(): raise AssertionError(f"params.yaml names system {system!r} but {pkg} does not exist")
    return closure({f'systems.{system}.{f.stem}' for f in pkg.glob('*.py') if f.stem != '__init__'})


def missing_deps(dvc: dict, params: dict = None) -> dict:
    """Per stage (per run for a `foreach` over the runs), the library modules it runs that its deps do not list (a listed
    folder covers what is inside it). A run whose stage code goes through the registry (`systems.registry`) also runs its
    system's package, found by `discover` at run time; a stage over the runs that reads only their outputs does not."""
    params = params or yaml.safe_load((ROOT/'params.yaml').read_text())
    out = {}
    for name, st in dvc['stages'].items():
        body = st.get('do', st)
        members = {name: ({}, None)}
        if 'foreach' in st and st['foreach'] == '${variants}':
            members = {f'{name}@{k}': (v, v['system']) for k, v in params['variants'].items()}
        for member, (item, system) in members.items():
            deps = [str(d).replace('${item.system}', system or '') for d in body.get('deps', [])]
            covered = lambda p: any(p == d or p.startswith(d.rstrip('/') + '/') for d in deps)
            path = lambda m: 'reflectdiffu/' + m.replace('.', '/') + '.py'
            code = stage_code(body)
            mods = code | (system_modules(system) if system and 'systems.registry' in code else set())
            miss = sorted(path(m) for m in mods if not covered(path(m)))
            if miss: out[member] = miss
    return out


def test_closure_follows_imports():
    assert 'data.text' in closure({'data.batches'})          # batches imports text (relative import)
    assert 'data.text' in closure({'systems.reflectdiffu.model'})   # three dots up
    assert closure({'core.params'}) >= {'core.params'}


def test_every_stage_lists_the_modules_it_runs():
    dvc = yaml.safe_load((ROOT/'dvc.yaml').read_text())
    assert missing_deps(dvc) == {}, 'add these to the stage deps in dvc.yaml'


def test_a_missing_dependency_is_caught():
    dvc = yaml.safe_load((ROOT/'dvc.yaml').read_text())
    body = dvc['stages']['train'].get('do', dvc['stages']['train'])
    body['deps'] = [d for d in body['deps'] if d != 'reflectdiffu/engine/train.py']
    miss = missing_deps(dvc)
    assert set(miss) == {f'train@{r}' for r in yaml.safe_load((ROOT/'params.yaml').read_text())['variants']}
    assert all(m == ['reflectdiffu/engine/train.py'] for m in miss.values())


def test_a_system_module_is_covered_only_by_its_folder():
    "A run's system package is a dependency of that run: dropping the per-system folder dep is caught for every run."
    dvc = yaml.safe_load((ROOT/'dvc.yaml').read_text())
    body = dvc['stages']['evaluate']['do']
    body['deps'] = [d for d in body['deps'] if '${item.system}' not in d]
    miss = missing_deps(dvc)
    assert 'reflectdiffu/systems/reflectdiffu/model.py' in miss['evaluate@full']
    assert 'reflectdiffu/systems/trs/system.py' in miss['evaluate@trs']
    assert 'reflectdiffu/systems/reflectdiffu/model.py' not in miss['evaluate@trs']
