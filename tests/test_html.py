"""HTML rendering of executed notebooks (reflectdiffu.evaluation.render), checked in headless Chromium.

Chromium is driven through the DevTools protocol (websocket-client, a Jupyter dependency);
the browser test is skipped, with the reason, when no Chromium binary is installed
(`apt-get install chromium`)."""
import base64, io, json, os, shutil, subprocess, tempfile, time, urllib.request
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
    href = browser.eval("document.querySelector('a').href")
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
