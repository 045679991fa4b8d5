"The committed full-data model bundle (models/reflectdiffu-full): intact, the model of the committed `full` row, and what `rd-respond` uses by default."
import json, os, subprocess, sys
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from conftest import ROOT
from reflectdiffu.serve.bundle import verify_bundle, read_safetensors, READ_VERSIONS, MODEL_FILE
from reflectdiffu.serve.respond import default_bundle

BUNDLE = ROOT/'models'/'reflectdiffu-full'
REPORTS = ROOT/'reports'/'full'
SIZE_BUDGET_MIB = 60   # README: fp16 weights (about 19 MiB) + the two MiniLM heads as differences from the installed base (about 35 MiB)


def test_bundle_is_intact_and_current_format():
    man = verify_bundle(BUNDLE)                      # every file's size and SHA-256 against manifest.json
    heads = json.loads((BUNDLE/'config.json').read_text())['heads']
    own_base = any('base' in h for h in heads.values())     # a head on an encoder other than MiniLM: format 3
    assert man['format_version'] == (3 if own_base else 2) and man['format_version'] in READ_VERSIONS
    total = sum(f['bytes'] for f in man['files'].values())
    assert total <= SIZE_BUDGET_MIB * 2**20, f"{BUNDLE}: {total / 2**20:.1f} MiB, over the {SIZE_BUDGET_MIB} MiB the README justifies"


def test_bundle_is_the_committed_full_row():
    "Its run, profile and metrics are those of reports/full; its checkpoint is the best step that train@full's summary records."
    cfg = json.loads((BUNDLE/'config.json').read_text())
    assert (cfg['system'], cfg['run'], cfg['profile'], cfg['dtype']) == ('reflectdiffu', 'full', 'full', 'float16')
    assert (BUNDLE/'metrics.json').read_bytes() == (REPORTS/'eval'/'full'/'metrics.json').read_bytes()
    summary = json.loads((REPORTS/'train'/'full'/'summary.json').read_text())
    assert cfg['checkpoint']['step'] == summary['best_step']
    assert cfg['checkpoint']['valid_metrics']['ppl'] == summary['best_valid_ppl']
    params = json.loads((BUNDLE/'params.json').read_text())
    assert params['reflectdiffu']['intent_to_decoder'] is True      # the model whose final intent steers the decoder (issue 13)
    tensors, meta = read_safetensors(BUNDLE/MODEL_FILE)
    assert {str(t.dtype) for t in tensors.values() if t.is_floating_point()} == {'torch.float16'}
    assert meta['aliases'] and not set(meta['aliases']) & set(tensors)            # tied weights stored once
    assert sum(t.numel() for t in tensors.values()) >= cfg['model']['n_parameters']  # every parameter (tied ones once), plus buffers


def test_rd_respond_answers_with_the_committed_model():
    assert Path(default_bundle()).resolve() == BUNDLE.resolve()
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    env.pop('REFLECTDIFFU_BUNDLE', None)
    exe = Path(sys.executable).parent/'rd-respond'          # the console script `pip install -e .` puts beside python
    r = subprocess.run([str(exe), '--output', 'json', 'I lost my job today.'], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out['response'].strip() and out['emotion'] and out['intent_final'] and out['truncated'] is False
    assert (out['system'], out['run'], out['profile']) == ('reflectdiffu', 'full', 'full')
