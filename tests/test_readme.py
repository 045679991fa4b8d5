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
