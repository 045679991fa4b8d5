"""Device resolution and autocast precision (reflectdiffu.core.device, nbs/09_device.ipynb), each stage's `device`
key, and the thread settings of the profiles. CUDA is not available where these run: its branches are checked with
`torch.cuda`'s functions replaced by pytest's monkeypatch (nothing is computed on a GPU)."""
import json, warnings
import pytest
import torch

from conftest import ROOT
from reflectdiffu.core import device as Dv
from reflectdiffu.core.params import load_params

STAGE_KEYS = ('era.device', 'intent_clf.device', 'train.device', 'decode.device')


def fake_cuda(monkeypatch, available=True, native_bf16=True, emulated_bf16=True, count=1):
    "Pretend torch.cuda reports a GPU (`available`) with native / emulated bfloat16 and `count` devices."
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: available)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: count if available else 0)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported',
                        lambda including_emulation=True: available and (native_bf16 or (including_emulation and emulated_bf16)))


# ---------- resolve_device ----------

def test_auto_is_the_cpu_without_cuda(monkeypatch):
    fake_cuda(monkeypatch, available=False)
    assert Dv.resolve_device('auto') == torch.device('cpu')
    assert Dv.resolve_device('cpu', 'train.device') == torch.device('cpu')


def test_auto_on_this_machine():
    assert Dv.resolve_device('auto').type == ('cuda' if torch.cuda.is_available() else 'cpu')


def test_auto_is_cuda_when_available(monkeypatch):
    fake_cuda(monkeypatch, available=True, count=2)
    assert Dv.resolve_device('auto') == torch.device('cuda')
    assert Dv.resolve_device('cuda', 'train.device') == torch.device('cuda')
    assert Dv.resolve_device('cuda:1', 'train.device') == torch.device('cuda', 1)
    with pytest.raises(Dv.DeviceError, match=r"train\.device: 'cuda:2' requested but only 2 CUDA device"):
        Dv.resolve_device('cuda:2', 'train.device')


@pytest.mark.parametrize('key', STAGE_KEYS)
def test_cuda_without_cuda_names_the_params_key(monkeypatch, key):
    fake_cuda(monkeypatch, available=False)
    with pytest.raises(Dv.DeviceError, match=rf"^{key.replace('.', '[.]')}: 'cuda' requested but CUDA is not available.*set {key}: auto"):
        Dv.resolve_device('cuda', key)
    with pytest.raises(RuntimeError):          # DeviceError is a RuntimeError (what engine.train raised before)
        Dv.resolve_device('cuda', key)


def test_not_a_device():
    for bad in ('tpu', 'gpu', '', 'mps'):
        with pytest.raises(Dv.DeviceError, match="decode.device: .* is not a device"):
            Dv.resolve_device(bad, 'decode.device')


def test_each_stage_checks_its_key(monkeypatch, tmp_path):
    "The library entry points of ERA, the intent classifier and training refuse CUDA here naming their params key."
    fake_cuda(monkeypatch, available=False)
    from reflectdiffu.engine import train as T
    from test_train import StandIn, TRAIN, VALID, collate, cfg, D
    with pytest.raises(Dv.DeviceError, match=r'^train\.device: '):
        T.fit(StandIn(), TRAIN, VALID, collate, cfg(device='cuda'), tmp_path/'o', tmp_path/'r', d_model=D, seed=0)
    from reflectdiffu.features.era import _place
    with pytest.raises(Dv.DeviceError, match=r'^era\.device: '):
        _place(torch.nn.Linear(2, 2), 'cuda')
    from reflectdiffu.features.intent_clf import IntentClassifier
    with pytest.raises(Dv.DeviceError, match=r'^intent_clf\.device: '):
        IntentClassifier(torch.nn.Linear(2, 2), None, device='cuda')
    assert IntentClassifier(torch.nn.Linear(2, 2), None, device='auto').device == torch.device('cpu')


def test_stage_notebooks_resolve_their_keys():
    "Each stage notebook resolves its own section's key (the evaluate stage: decode.device)."
    for nb, call in (('era', "resolve_device(C['device'], 'era.device')"),
                     ('intent_clf', "resolve_device(C['device'], 'intent_clf.device')"),
                     ('evaluate', "resolve_device(D['device'], 'decode.device')")):
        code = '\n'.join(''.join(c['source']) for c in json.loads((ROOT/f'nbs/stages/{nb}.ipynb').read_text())['cells'])
        assert call in code, f'nbs/stages/{nb}.ipynb does not call {call}'
        assert 'device=device' in code or nb == 'evaluate', f'nbs/stages/{nb}.ipynb does not pass the device on'


# ---------- autocast precision ----------

def test_autocast_dtype_cpu_is_bf16():
    assert Dv.autocast_dtype('cpu') == torch.bfloat16


def test_autocast_dtype_cuda(monkeypatch):
    fake_cuda(monkeypatch, native_bf16=True)
    assert Dv.autocast_dtype('cuda') == torch.bfloat16 and Dv.autocast_dtype(torch.device('cuda', 0)) == torch.bfloat16
    fake_cuda(monkeypatch, native_bf16=False, emulated_bf16=True)    # e.g. a T4 or V100: bf16 only emulated
    assert Dv.autocast_dtype('cuda') == torch.float16
    fake_cuda(monkeypatch, native_bf16=False, emulated_bf16=False)
    assert Dv.autocast_dtype('cuda') == torch.float16


def test_grad_scaler_only_for_fp16_training(monkeypatch):
    assert Dv.grad_scaler('cpu', True) is None and Dv.grad_scaler('cpu', False) is None
    fake_cuda(monkeypatch, native_bf16=True)
    assert Dv.grad_scaler('cuda', True) is None
    fake_cuda(monkeypatch, native_bf16=False)
    assert Dv.grad_scaler('cuda', False) is None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')       # a CPU-only torch warns that the scaler it builds is disabled
        assert isinstance(Dv.grad_scaler('cuda', True), torch.amp.GradScaler)


def test_cpu_autocast_computes_what_the_stages_computed_before():
    "autocast('cpu', on/off) is exactly the torch.autocast the stages spelled before core.device (same numbers)."
    torch.manual_seed(0)
    m, x = torch.nn.Linear(16, 8), torch.randn(5, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16): ref_on = m(x)
    with torch.autocast('cpu', enabled=False): ref_off = m(x)
    with Dv.autocast('cpu', True): on = m(x)
    with Dv.autocast(torch.device('cpu'), False): off = m(x)
    assert on.dtype == torch.bfloat16 and off.dtype == torch.float32
    assert torch.equal(on, ref_on) and torch.equal(off, ref_off)


def test_scaled_step_without_scaler_is_the_plain_step():
    def run(step):
        torch.manual_seed(0); m = torch.nn.Linear(4, 2); o = torch.optim.AdamW(m.parameters(), lr=0.1)
        for _ in range(3):
            o.zero_grad(); loss = m(torch.randn(3, 4)).pow(2).sum() * 50; step(loss, m, o)
        return torch.cat([p.detach().flatten() for p in m.parameters()])
    def plain(loss, m, o): loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); o.step()
    assert torch.equal(run(lambda l, m, o: Dv.scaled_step(l, o, m.parameters(), 1.0)), run(plain))


def test_cpu_state_keeps_cpu_dicts_as_they_are():
    sd = torch.nn.Linear(2, 2).state_dict()
    assert Dv.cpu_state(sd) is sd


# ---------- threads and profiles ----------

# what this machine's committed runs used: one thread for ERA and the intent classifier on both profiles and for
# training on the sample; the full-profile training runs left train.num_threads at 0 and ran `rd-grid --threads 1`
COMMITTED = {'sample': dict(era=1, intent_clf=1, train=1), 'full': dict(era=1, intent_clf=1, train=0)}


def test_base_threads_suit_a_workstation():
    import yaml
    raw = yaml.safe_load((ROOT/'params.yaml').read_text())
    for sec in ('era', 'intent_clf', 'train'):
        assert raw[sec]['num_threads'] == 0, f'params.yaml {sec}.num_threads: the base should be 0 (torch default)'
        assert raw[sec]['device'] == 'auto', f'params.yaml {sec}.device: the base should be auto'
    assert raw['decode']['device'] == 'auto'


@pytest.mark.parametrize('profile', ['sample', 'full'])
def test_profiles_keep_this_machines_thread_counts(profile):
    P = load_params(ROOT/'params.yaml', profile=profile)
    got = {s: P[s]['num_threads'] for s in COMMITTED[profile]}
    assert got == COMMITTED[profile], f'profile {profile}: thread counts changed from the committed runs\' {COMMITTED[profile]}'
    for s in ('era', 'intent_clf', 'train', 'decode'): assert P[s]['device'] == 'auto'


@pytest.mark.parametrize('profile', ['sample', 'full'])
def test_thread_counts_match_the_committed_records(profile):
    "The committed reports record the torch thread count each stage ran with; it equals the profile's setting (0: rd-grid's 1)."
    P, rep = load_params(ROOT/'params.yaml', profile=profile), ROOT/'reports'/profile
    era = json.loads((rep/'era_metrics.json').read_text())['timings']['torch_threads']
    clf = json.loads((rep/'intent_clf_metrics.json').read_text())['torch_threads']
    assert era == P['era']['num_threads'] and clf == P['intent_clf']['num_threads']
    runs = sorted((rep/'train').glob('*/summary.json'))
    assert runs, f'{rep}/train: no committed training summary'
    for f in runs:
        s = json.loads(f.read_text())
        assert s['device'] == 'cpu', f
        assert s['num_threads'] == (P['train']['num_threads'] or 1), f


def test_gpu_profile_is_the_full_profile_on_cuda():
    full, gpu = (load_params(ROOT/'params.yaml', profile=p) for p in ('full', 'gpu'))
    for s in ('era', 'intent_clf', 'train', 'decode'):
        assert gpu[s]['device'] == 'cuda', s
        if 'num_threads' in gpu[s]: assert gpu[s]['num_threads'] == 0, s
    for s, keys in full.items():
        if s in ('profile', 'profiles') or not isinstance(keys, dict): continue
        for k, v in keys.items():
            if k not in ('device', 'num_threads'): assert gpu[s][k] == v, f'{s}.{k}: gpu {gpu[s][k]!r} != full {v!r}'
