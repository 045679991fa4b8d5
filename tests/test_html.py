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
def test_chromium_rendered_profile_site(browser, profile):
    "The site `rd-render` wrote for a profile (when there is one, from this version of rd-render): links, figures, equations."
    from reflectdiffu.evaluation.render import broken_links
    idx = Path(__file__).resolve().parents[1] / 'out' / profile / 'html' / 'index.html'
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
    assert figs or profile != 'sample' or not (idx.parent / 'stage_notebooks_executed_profile_sample').exists(), 'no figure in the site'
    for p in figs:
        _check_page(browser, p)
        assert browser.eval("document.images.length") >= 1
