"The library is exactly what nbdev_export makes of the notebooks, and notebooks are clean."
import json, shutil, subprocess, sys, filecmp
from pathlib import Path
from conftest import ROOT

def _diff(a: Path, b: Path):
    "Modules (paths relative to the package, sub-packages included) that differ between the trees `a` and `b`."
    rel = lambda root: {str(p.relative_to(root)) for p in root.rglob('*.py') if '__pycache__' not in p.parts}
    ra, rb = rel(a), rel(b)
    return sorted(r for r in ra | rb if r not in ra or r not in rb or (a/r).read_text() != (b/r).read_text())

def test_library_matches_notebooks(tmp_path):
    for x in ('settings.ini', 'nbs', 'reflectdiffu'):
        (shutil.copytree if (ROOT/x).is_dir() else shutil.copy)(ROOT/x, tmp_path/x)
    exe = Path(sys.executable).parent/'nbdev_export'
    subprocess.run([str(exe)], cwd=tmp_path, check=True, capture_output=True)
    assert _diff(ROOT/'reflectdiffu', tmp_path/'reflectdiffu') == [], 'run nbdev_export: reflectdiffu/ differs from nbs/'

def test_notebooks_have_no_execution_counts():
    dirty = []
    for nb in sorted((ROOT/'nbs').rglob('*.ipynb')):
        if '.ipynb_checkpoints' in nb.parts: continue
        cells = json.loads(nb.read_text())['cells']
        if any(c.get('execution_count') for c in cells if c['cell_type'] == 'code'): dirty.append(nb.name)
    assert dirty == [], f'run nbdev_clean: {dirty}'

def test_stage_notebooks_keep_parameters_tag():
    for nb in sorted((ROOT/'nbs/stages').glob('*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        tagged = [c for c in cells if 'parameters' in c.get('metadata', {}).get('tags', [])]
        assert len(tagged) == 1, f'{nb.name}: expected exactly one cell tagged parameters, found {len(tagged)}'
