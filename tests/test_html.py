"""HTML rendering of executed notebooks (reflectdiffu.evaluation.render), checked in headless Chromium.

Chromium is driven through the DevTools protocol (websocket-client, a Jupyter dependency);
the browser test is skipped, with the reason, when no Chromium binary is installed
(`apt-get install chromium`)."""
import base64, io, json, os, re, shutil, subprocess, tempfile, time, urllib.request
from pathlib import Path

import nbformat
import pytest

from reflectdiffu.evaluation.render import render_notebook, render_site, notebook_title

CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--no-first-run']


def _chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        p = shutil.which(name)
        if p: return p
    return None


class Browser:
    "A headless Chromium with a fresh profile, driven over the DevTools protocol."
    def __init__(self, exe, timeout=60):
        websocket = pytest.importorskip('websocket', reason='websocket-client is needed to drive Chromium')
        self.tmp = tempfile.mkdtemp(prefix='rd-chromium-')
        self.proc = subprocess.Popen([exe, *CHROME_FLAGS, f'--user-data-dir={self.tmp}', '--remote-debugging-port=0',
                                      'about:blank'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port_file, t0 = Path(self.tmp) / 'DevToolsActivePort', time.time()
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {self.proc.stderr.read().decode()[-2000:]}")
            if time.time() - t0 > timeout: raise TimeoutError(f"chromium did not open a DevTools port in {timeout}s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=timeout))
        page = next(t for t in targets if t['type'] == 'page')
        self.ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=timeout, suppress_origin=True)
        self.n, self.timeout = 0, timeout

    def cmd(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps(dict(id=self.n, method=method, params=params)))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == self.n:
                if 'error' in msg: raise RuntimeError(f"{method}: {msg['error']}")
                return msg['result']

    def eval(self, expr):
        r = self.cmd('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in r: raise RuntimeError(f"JS error in {expr[:80]!r}: {r['exceptionDetails']}")
        return r['result'].get('value')

    def open(self, url):
        self.cmd('Page.navigate', url=url)
        t0 = time.time()
        while self.eval('document.readyState') != 'complete' or self.eval('location.href') != url:
            if time.time() - t0 > self.timeout: raise TimeoutError(f"{url} did not finish loading in {self.timeout}s")
            time.sleep(0.1)

    def close(self):
        try: self.ws.close()
        except Exception: pass
        self.proc.terminate()
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope='module')
def browser():
    exe = _chromium()
    if exe is None: pytest.skip('Chromium not installed (apt-get install chromium); the HTML pages were not opened in a browser')
    b = Browser(exe)
    yield b
    b.close()


@pytest.fixture(scope='module')
def executed_nb(tmp_path_factory):
    "A small notebook with a pandas table and a matplotlib PNG, executed by a real kernel."
    from nbclient import NotebookClient
    d = tmp_path_factory.mktemp('nb')
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell('# Table 2 check\n\nA table and a figure.'),
        nbformat.v4.new_code_cell("import pandas as pd\npd.DataFrame({'model': ['ReflectDiffu', 'ours'], 'B-1': [23.59, 1.25]})"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                                  "fig, ax = plt.subplots(figsize=(3, 2)); ax.bar(['a', 'b'], [1, 2]); plt.show()"),
    ], metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}})
    NotebookClient(nb, timeout=120, kernel_name='python3', resources={'metadata': {'path': str(d)}}).execute()
    path = d / 'check.ipynb'
    nbformat.write(nb, path)
    return path


def test_executed_notebook_has_outputs(executed_nb):
    nb = nbformat.read(executed_nb, as_version=4)
    kinds = [k for c in nb.cells if c.cell_type == 'code' for o in c.outputs for k in o.get('data', {})]
    assert 'text/html' in kinds and 'image/png' in kinds, kinds


def test_render_contains_table_and_image(executed_nb, tmp_path):
    out = render_notebook(executed_nb, tmp_path / 'check.html')
    h = out.read_text()
    assert '<title>Table 2 check</title>' in h
    assert '<table' in h and 'ReflectDiffu' in h and '23.59' in h
    assert 'data:image/png;base64,' in h


def test_render_site_index_links_exist(executed_nb, tmp_path):
    idx = render_site({'Stage notebooks': [(executed_nb, 'check')], 'Library notebooks': []}, tmp_path / 'site')
    h = idx.read_text()
    assert 'href="stage_notebooks/check.html"' in h and '>Table 2 check<' in h
    assert (tmp_path / 'site' / 'stage_notebooks' / 'check.html').exists()
    assert '<h2>Library notebooks</h2>' in h and '<p>none</p>' in h


def test_bad_notebook_named(tmp_path):
    bad = tmp_path / 'broken.ipynb'
    bad.write_text('{"cells": [')
    with pytest.raises(ValueError, match='broken.ipynb: not a valid notebook'):
        render_notebook(bad, tmp_path / 'b.html')
    idx = render_site({'Stages': [(bad, 'broken')]}, tmp_path / 'site')
    assert 'not rendered' in idx.read_text() and 'broken.ipynb' in idx.read_text()


def test_chromium_shows_table_and_loaded_image(browser, executed_nb, tmp_path):
    out = render_notebook(executed_nb, tmp_path / 'check.html')
    browser.open(out.resolve().as_uri())
    assert browser.eval('document.title') == 'Table 2 check'
    cells = browser.eval("Array.from(document.querySelectorAll('table td, table th')).map(e => e.textContent.trim())")
    assert 'ReflectDiffu' in cells and '23.59' in cells, cells
    imgs = browser.eval("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert imgs, 'no <img> in the page'
    assert all(c and w > 0 and h > 0 for c, w, h in imgs), f'an image did not load: {imgs}'
    # a figure of 3x2 inches at the inline backend's dpi: width > height
    assert imgs[0][1] > imgs[0][2]


def test_chromium_index_link_opens_page(browser, executed_nb, tmp_path):
    idx = render_site({'Stage notebooks': [(executed_nb, 'check')]}, tmp_path / 'site')
    browser.open(idx.resolve().as_uri())
    href = browser.eval("document.querySelector('main table a').href")   # the first page of the contents
    browser.open(href)
    assert browser.eval('document.title') == 'Table 2 check'
    assert browser.eval("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def test_render_profile_groups_stage_and_library_notebooks(executed_nb, tmp_path):
    from reflectdiffu.evaluation.render import render_profile
    import shutil as sh
    (tmp_path / 'out' / 'sample' / 'eval').mkdir(parents=True)
    (tmp_path / 'nbs').mkdir()
    sh.copy(executed_nb, tmp_path / 'out' / 'sample' / 'eval' / 'full.ipynb')
    sh.copy(executed_nb, tmp_path / 'out' / 'sample' / 'train.ipynb')
    sh.copy(executed_nb, tmp_path / 'nbs' / '31_decode.ipynb')
    idx = render_profile('sample', root=tmp_path, paper=False)
    assert idx == tmp_path / 'out' / 'sample' / 'html' / 'index.html'
    h = idx.read_text()
    # stage pages in pipeline order (train before evaluate), library pages after
    i_train, i_eval, i_lib = h.index('/train.html'), h.index('/eval__full.html'), h.index('library_notebooks/31_decode.html')
    assert i_train < i_eval < i_lib
    for rel in ('stage_notebooks_executed_profile_sample/train.html', 'stage_notebooks_executed_profile_sample/eval__full.html',
                'library_notebooks/31_decode.html'):
        assert (idx.parent / rel).exists(), rel


# --- the offline site: MathJax from the local copy, figures, navigation, links, missing stage notebooks (issue 16) ---

MATH_WAIT = ("new Promise(r => window.MathJax ? MathJax.Hub.Queue(() => "
             "r(document.querySelectorAll('.MathJax, .MathJax_Display').length)) : r(-1))")
RAW_TEX = "Array.from(document.querySelectorAll('.jp-MarkdownCell')).map(e => e.innerText).join(' ').includes('$$')"


def _check_page(browser, page):
    "Open `page` in Chromium: every file it refers to exists, every image loaded; returns the number of MathJax elements."
    from reflectdiffu.evaluation.render import broken_links
    browser.open(page.resolve().as_uri())
    n = browser.eval(MATH_WAIT)
    refs = browser.eval("Array.from(document.querySelectorAll('a[href], img[src], script[src], link[href]'))"
                        ".map(e => e.href || e.src).filter(u => u.startsWith('file:'))")
    for u in refs:
        p = Path(urllib.request.url2pathname(u.split('?')[0].split('#')[0][len('file://'):]))
        assert p.exists(), f'{page}: link to {u} does not resolve'
    assert browser.eval("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"), f'{page}: an image did not load'
    assert not browser.eval("Array.from(document.scripts).some(s => /^https?:/.test(s.src))"), f'{page}: a script from the internet'
    return n


def test_chromium_site_typesets_math_offline(browser, executed_nb, tmp_path):
    from reflectdiffu.evaluation.render import render_site, broken_links
    eq = tmp_path / 'eq.ipynb'
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell('# Equations\n\nInline $p(e \\mid c)$ and eq. 12:\n\n$$\\mathcal{L} = \\mathcal{L}_{ce} + \\alpha \\mathcal{L}_{intent}$$\n\n'
                                      'The figure is in nbs/31_decode.ipynb.'),
        nbformat.v4.new_code_cell('#| export\ndef f(x): return x')]), eq)
    idx = render_site({'Paper': [(eq, 'eq')], 'Library notebooks': [(executed_nb, '31_decode', 'nbs/31_decode.ipynb')]}, tmp_path / 'site')
    assert broken_links(idx.parent) == []
    eq_page = idx.parent / 'paper' / 'eq.html'
    assert _check_page(browser, eq_page) >= 2, 'MathJax typeset nothing'
    assert not browser.eval(RAW_TEX), 'raw $$ left in a rendered equation page'
    code = browser.eval("Array.from(document.querySelectorAll('.jp-CodeCell pre')).map(e => e.innerText).join('\\n')")
    assert 'def f(x)' in code and '#|' not in code, code
    # navigation: next page, back to the contents, and the mention of nbs/31_decode.ipynb links to its page
    nxt = browser.eval("Array.from(document.querySelectorAll('nav.rd-nav a')).map(a => a.href)")
    assert any(u.endswith('/index.html') for u in nxt) and any(u.endswith('/library_notebooks/31_decode.html') for u in nxt), nxt
    assert browser.eval("Array.from(document.querySelectorAll('.jp-MarkdownCell a')).some(a => a.href.endsWith('31_decode.html'))")
    _check_page(browser, idx.parent / 'library_notebooks' / '31_decode.html')
    assert browser.eval("document.images.length") >= 1   # the figure
    _check_page(browser, idx)


def test_render_profile_lists_missing_stage_notebooks(executed_nb, tmp_path):
    "A profile whose executed notebooks are not there: the site says which, and how to produce them; nothing stands in."
    from reflectdiffu.evaluation.render import render_profile, broken_links
    (tmp_path / 'params.yaml').write_text('profile: sample\nprofiles:\n  full:\n    data.dir: data\nvariants:\n  full: {}\n  trs: {}\n')
    (tmp_path / 'dvc.yaml').write_text('stages:\n  train:\n    foreach: ${variants}\n    do:\n      cmd: x\n      outs:\n'
                                       '      - out/${profile}/train/${key}.ipynb\n  report:\n    cmd: y\n    outs:\n'
                                       '    - out/${profile}/report.ipynb\n')
    (tmp_path / 'out' / 'full').mkdir(parents=True)
    shutil.copy(executed_nb, tmp_path / 'out' / 'full' / 'report.ipynb')
    idx = render_profile('full', root=tmp_path, paper=False, lib=False)
    h, m = idx.read_text(), (idx.parent / 'missing.html').read_text()
    assert '2 of 3 stage notebooks of profile full are missing' in h and 'href="missing.html"' in h
    assert 'out/full/train/full.ipynb' in m and 'train@trs' in m and 'dvc exp run -S profile=full -S data.dir=data' in m
    assert 'out/full/report.ipynb' not in m
    assert '[full]' in (idx.parent / 'stage_notebooks_executed_profile_full' / 'report.html').read_text().split('</title>')[0]
    assert broken_links(idx.parent) == []
    # once nothing is missing, the page goes
    for k in ('full', 'trs'):
        (tmp_path / 'out' / 'full' / 'train').mkdir(exist_ok=True)
        shutil.copy(executed_nb, tmp_path / 'out' / 'full' / 'train' / f'{k}.ipynb')
    idx = render_profile('full', root=tmp_path, paper=False, lib=False)
    assert not (idx.parent / 'missing.html').exists() and 'missing' not in idx.read_text()


def _rendered_sites():
    root = Path(__file__).resolve().parents[1]
    return sorted(root.glob('out/*/html/index.html'))


@pytest.mark.parametrize('profile', ['sample', 'full'])
def test_chromium_rendered_profile_site(browser, profile, tmp_path):
    """The site `rd-render` wrote for a profile (when there is one, from this version of rd-render): links, figures, equations.
    Without one (a clean clone), the site of the executed notebooks committed under reports/<profile>/notebooks/ is rendered
    here (stage notebooks only: no paper, no library pages), and each of them must have its page, marked as the committed copy."""
    from reflectdiffu.evaluation.render import broken_links, render_profile, committed_notebooks
    root = Path(__file__).resolve().parents[1]
    idx = root / 'out' / profile / 'html' / 'index.html'
    kept_dir = committed_notebooks(profile, root)
    kept = sorted(kept_dir.rglob('*.ipynb')) if kept_dir.is_dir() else []
    if kept and (not idx.exists() or idx.stat().st_mtime < max(p.stat().st_mtime for p in kept)):   # none, or older than the copies
        idx = render_profile(profile, root=root, out_dir=tmp_path / 'site', paper=False, lib=False)
    if not idx.exists(): pytest.skip(f'no rendered site for profile {profile} (rd-render --profile {profile})')
    if 'content="rd-render"' not in idx.read_text(): pytest.skip(f'{idx} was written by an older rd-render: rerun it')
    assert broken_links(idx.parent) == []
    _check_page(browser, idx)
    pages = sorted(idx.parent.glob('*/*.html'))
    math = [p for p in pages if p.read_text(encoding='utf-8').count('$$') > 2]   # beyond MathJax's own configuration
    typeset = 0
    for p in math[:12]:
        typeset += _check_page(browser, p) > 0
        assert not browser.eval(RAW_TEX), f'{p}: raw $$ left in the text'
    assert typeset or not math, 'MathJax typeset no page'
    figs = [p for p in pages if re.search(r'<img [^>]*src="data:image/png;base64,', p.read_text(encoding='utf-8'))][:4]
    assert figs or not (kept or (profile == 'sample' and (idx.parent / 'stage_notebooks_executed_profile_sample').exists())), 'no figure in the site'
    for p in figs:
        _check_page(browser, p)
        assert browser.eval("document.images.length") >= 1
    site, shown = idx.parent / f'stage_notebooks_executed_profile_{profile}', 0
    for nb in kept:   # every committed notebook has its page; where out/ lacks the notebook, the page is the committed copy
        rel = nb.relative_to(kept_dir)
        page = site / (rel.with_suffix('').as_posix().replace('/', '__') + '.html')
        assert page.exists(), f'{nb}: no page {page}'
        if (root / 'out' / profile / rel).exists(): continue
        assert f'<b>the committed copy</b> <code>reports/{profile}/notebooks/{rel.as_posix()}</code>' in page.read_text(encoding='utf-8'), page
        if shown < 2:
            _check_page(browser, page)
            assert browser.eval("document.querySelector('.rd-banner.rd-committed').innerText").startswith(f'Profile {profile}: the committed copy')
            shown += 1


# --- the committed executed notebooks of a profile (reports/<profile>/notebooks), for runs done in other workspaces ---

def _papermill_nb(src, dest, end, n_bar=50):
    "Copy of executed notebook `src` at `dest` as papermill leaves it: run times in its metadata, a progress bar refreshed `n_bar` times."
    nb = nbformat.read(src, as_version=4)
    nb.metadata['papermill'] = {'start_time': '2026-11-30T05:54:13+00:00', 'end_time': end, 'exception': None}
    bar = [nbformat.v4.new_output('stream', name='stderr', text=f'\rtrain: {i}/{n_bar}') for i in range(n_bar)]
    nb.cells.append(nbformat.v4.new_code_cell('train()', outputs=bar + [nbformat.v4.new_output('stream', name='stderr', text='\n')]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def _repo(tmp_path, runs=('full', 'trs', 'mime')):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / 'params.yaml').write_text('profile: sample\n')
    (tmp_path / 'dvc.yaml').write_text(f'stages:\n  train:\n    foreach: [{", ".join(runs)}]\n    do:\n      cmd: x\n      outs:\n'
                                       '      - out/${profile}/train/${item}.ipynb\n')
    return tmp_path


def test_render_profile_falls_back_to_committed_copy(executed_nb, tmp_path):
    "out/ lacks train/trs: its committed copy is rendered, and says so; out/ is preferred for train/full; only mime is missing."
    from reflectdiffu.evaluation.render import render_profile, collect_notebooks, broken_links
    root = _repo(tmp_path / 'repo')
    clone = tmp_path / 'clone' / 'out' / 'full'
    for k in ('full', 'trs'): _papermill_nb(executed_nb, clone / 'train' / f'{k}.ipynb', '2026-11-30T07:22:51+00:00')
    r = collect_notebooks('full', [clone], root=root)
    assert sorted(k for k, _ in r['copied']) == ['train/full.ipynb', 'train/trs.ipynb']
    _papermill_nb(executed_nb, root / 'out' / 'full' / 'train' / 'full.ipynb', '2026-12-01T09:00:00+00:00')   # this workspace's own run
    idx = render_profile('full', root=root, paper=False, lib=False)
    site = idx.parent / 'stage_notebooks_executed_profile_full'
    trs, full = (site / 'train__trs.html').read_text(), (site / 'train__full.html').read_text()
    assert '<b>the committed copy</b> <code>reports/full/notebooks/train/trs.ipynb</code>' in trs
    assert 'executed by papermill from 2026-11-30 05:54 UTC to 2026-11-30 07:22 UTC' in trs and str(clone / 'train' / 'trs.ipynb') in trs
    assert '<title>Table 2 check [full, committed copy]</title>' in trs and '23.59' in trs and 'data:image/png;base64,' in trs
    assert 'committed copy' not in full and 'out/full/train/full.ipynb</code>, executed by papermill' in full
    h = idx.read_text()
    assert '<code>reports/full/notebooks/train/trs.ipynb</code>' in h and '2026-11-30 07:22 UTC (executed)' in h
    assert '<code>out/full/train/full.ipynb</code>' in h and 'reports/full/notebooks/train/full.ipynb' not in h
    assert '1 of 3 stage notebooks of profile full are missing' in h
    m = (idx.parent / 'missing.html').read_text()
    assert 'out/full/train/mime.ipynb' in m and 'train/trs.ipynb' not in m and 'train/full.ipynb' not in m
    assert broken_links(idx.parent) == []
    # without this workspace's run, train/full comes from the committed copy too
    shutil.rmtree(root / 'out' / 'full' / 'train')
    idx = render_profile('full', root=root, paper=False, lib=False)
    assert '<b>the committed copy</b>' in (site / 'train__full.html').read_text()


def test_render_profile_sample_ignores_other_profiles_copies(executed_nb, tmp_path):
    "Committed copies of profile full do not appear in the site of profile sample."
    from reflectdiffu.evaluation.render import render_profile, collect_notebooks
    root = _repo(tmp_path / 'repo', ('full',))
    clone = tmp_path / 'clone' / 'out' / 'full'
    _papermill_nb(executed_nb, clone / 'train' / 'full.ipynb', '2026-11-30T07:22:51+00:00')
    collect_notebooks('full', [clone], root=root)
    _papermill_nb(executed_nb, root / 'out' / 'sample' / 'train' / 'full.ipynb', '2026-11-30T07:22:51+00:00')
    h = render_profile('sample', root=root, paper=False, lib=False).read_text()
    assert 'reports/full' not in h and 'copies committed' not in h and '<code>out/sample/train/full.ipynb</code>' in h
    page = root / 'out' / 'sample' / 'html' / 'stage_notebooks_executed_profile_sample' / 'train__full.html'
    assert 'the committed copy' not in page.read_text() and 'rd-banner rd-committed' not in page.read_text()


def test_collect_notebooks_provenance_and_no_older_overwrite(executed_nb, tmp_path, capsys):
    "Provenance is written; an older run never replaces a committed copy (the CLI exits 1), --force does; unfinished runs are skipped."
    import hashlib
    from reflectdiffu.evaluation.render import collect_notebooks, main, read_provenance
    root = _repo(tmp_path / 'repo')
    new, old = tmp_path / 'a' / 'out' / 'full', tmp_path / 'b' / 'out' / 'full'
    f_new = _papermill_nb(executed_nb, new / 'train' / 'full.ipynb', '2026-11-30T07:22:51+00:00', n_bar=2000)
    _papermill_nb(executed_nb, old / 'train' / 'full.ipynb', '2026-11-30T06:00:00+00:00')
    _papermill_nb(executed_nb, old / 'train' / 'trs.ipynb', None)    # still running
    assert main(['--root', str(root), '--profile', 'full', '--collect', str(new.parents[1]),
                 '--note', 'train/full.ipynb=the headline run']) == 0   # a repository root with out/full works too
    dest = root / 'reports' / 'full' / 'notebooks' / 'train' / 'full.ipynb'
    p = read_provenance(dest.parents[1])['train/full.ipynb']
    assert p['source'] == str(f_new.resolve()) and p['source_size'] == f_new.stat().st_size
    assert p['source_sha256'] == hashlib.sha256(f_new.read_bytes()).hexdigest() and p['sha256'] == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert p['executed'] == '2026-11-30T07:22:51+00:00' and p['source_mtime'].startswith('20') and p['note'] == 'the headline run'
    assert p['size'] < p['source_size'] / 3, 'the progress bar was not slimmed'
    copy = nbformat.read(dest, as_version=4)
    assert [o.text for o in copy.cells[-1].outputs] == ['train: 1999/2000\n']
    assert [c.source for c in copy.cells] == [c.source for c in nbformat.read(f_new, as_version=4).cells]
    assert sum('image/png' in o.get('data', {}) for c in copy.cells for o in c.get('outputs', [])) == 1   # the figure is kept
    before = dest.read_bytes()
    capsys.readouterr()
    assert main(['--root', str(root), '--profile', 'full', '--collect', str(old)]) == 1
    err = capsys.readouterr().err
    assert 'refused: train/full.ipynb' in err and 'older than the committed copy' in err
    assert 'skipped: train/trs.ipynb' in err and 'has not finished' in err and 'missing: train/mime.ipynb' in err
    assert dest.read_bytes() == before and read_provenance(dest.parents[1])['train/full.ipynb']['source'] == str(f_new.resolve())
    assert [k for k, _ in collect_notebooks('full', [new], root=root)['unchanged']] == ['train/full.ipynb']
    r = collect_notebooks('full', [old], root=root, force=True)
    assert [k for k, _ in r['copied']] == ['train/full.ipynb'] and read_provenance(dest.parents[1])['train/full.ipynb']['executed'] == '2026-11-30T06:00:00+00:00'
    with pytest.raises(ValueError, match='train/nope.ipynb: not a stage notebook'):
        collect_notebooks('full', [], root=root, mapping={'train/nope.ipynb': new})
