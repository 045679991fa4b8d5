"The system registry: every run's system is registered, the shared stages know no system, systems are found by discovery."
import json, re
import pytest, yaml
from conftest import ROOT
from reflectdiffu.systems.registry import discover, get_system, load_run, System, FEATURES

# every stage notebook only orchestrates
STAGES = [p.stem for p in sorted((ROOT/'nbs/stages').glob('*.ipynb'))]


def _code(nb):
    return '\n'.join(''.join(c['source']) for c in json.loads((ROOT/f'nbs/stages/{nb}.ipynb').read_text())['cells'] if c['cell_type'] == 'code')


def test_every_system_package_registers_itself():
    pkgs = {p.name for p in (ROOT/'reflectdiffu/systems').iterdir() if p.is_dir() and (p/'system.py').exists()}
    assert pkgs and pkgs <= set(discover())
    for name, s in discover().items():
        assert isinstance(s, System) and s.name == name and s.schema
        cfg = {k: None for k in s.schema}
        assert set(s.features(load_run(ROOT/'params.yaml')[name]) if name in load_run(ROOT/'params.yaml') else ()) <= set(FEATURES)


@pytest.mark.parametrize('stage', STAGES)
def test_shared_stage_notebooks_hold_no_def_and_no_system_name(stage):
    code = _code(stage)
    assert not re.search(r'^\s*(def|class)\s', code, re.M), f'nbs/stages/{stage}.ipynb defines a function or class: move it to the library'
    assert 'lambda' not in code, f'nbs/stages/{stage}.ipynb holds a lambda: move the logic to the library'
    for name in discover():
        # the package itself is called reflectdiffu: strip `reflectdiffu.` module paths before looking for the system name
        bare = re.sub(r'\breflectdiffu\.[\w.]+', '', code)
        assert not re.search(rf'\b{name}\b', bare, re.I), f'nbs/stages/{stage}.ipynb names the system {name!r}'
        assert f'systems.{name}' not in code, f'nbs/stages/{stage}.ipynb imports the system {name!r}'


def test_the_check_catches_a_system_name():
    "The test above fails on a stage notebook that names a system (here TRS)."
    code = _code('evaluate') + "\nif P['system'] == 'trs': pass\n"
    bare = re.sub(r'\breflectdiffu\.[\w.]+', '', code)
    assert re.search(r'\btrs\b', bare, re.I)


def test_every_run_loads_and_names_its_paper_row():
    P = load_run(ROOT/'params.yaml')
    paper = (ROOT/'reports/paper_table2.csv').read_text()
    for run, entry in P['variants'].items():
        Q = load_run(ROOT/'params.yaml', 'sample', run)
        assert Q['system'] == entry['system'] and Q[Q['system']] == {**P[Q['system']], **{k.split('.', 1)[1]: v for k, v in entry.items() if k.startswith(Q['system'] + '.')}}
        if entry.get('paper_row'): assert f"\n{entry['paper_row']}," in paper, (run, entry['paper_row'])


def test_unknown_system_is_a_clear_error():
    with pytest.raises(KeyError, match="system 'nosuch' is not registered"): get_system('nosuch')
