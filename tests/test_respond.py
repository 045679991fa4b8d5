"Model bundles and `respond` / `rd-respond` on raw dialogues: every bad input is a clear error with a non-zero exit, every odd input is answered."
import io, json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
import torch
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from conftest import ROOT
from reflectdiffu.data.corpus import EMOTIONS, INTENTS
from reflectdiffu.serve.bundle import (BundleError, save_pretrained, from_pretrained, verify_bundle, write_manifest,
                                       MODEL_FILE, CONFIG_FILE, CARD_FILE, MANIFEST_FILE, FEATURE_FILES)
from reflectdiffu.serve.respond import (InputError, respond, load_bundle, main, check_turns, EXIT_INPUT, EXIT_BUNDLE)

SAMPLE = ROOT/'out'/'sample'
NEEDED = [SAMPLE/'train'/r/'best.pt' for r in ('full', 'trs')] + [SAMPLE/'era'/'model.pt', SAMPLE/'intent_clf'/'model.pt', SAMPLE/'prepare'/'vocab.json']
MISSING = [str(p.relative_to(ROOT)) for p in NEEDED if not p.exists()]
needs_sample = pytest.mark.skipif(bool(MISSING), reason=f"the sample profile's trained artefacts are absent ({', '.join(MISSING)}): run `dvc repro` on the sample profile first")
MAX_CTX = 100     # data.max_context_len of params.yaml


@pytest.fixture(scope='module')
def bundles(tmp_path_factory):
    "Bundles of the sample profile's `full` run (ERA + p_intent) and `trs` run (no features), made in a tmp dir."
    if MISSING: pytest.skip(f"the sample profile's trained artefacts are absent ({', '.join(MISSING)}): run `dvc repro` on the sample profile first")
    d = tmp_path_factory.mktemp('bundles')
    return dict(full=save_pretrained('full', d/'full', profile='sample', root=ROOT),
                trs=save_pretrained('trs', d/'trs', profile='sample', root=ROOT))

@pytest.fixture(scope='module')
def full(bundles): return load_bundle(bundles['full'])

@pytest.fixture(scope='module')
def trs(bundles): return load_bundle(bundles['trs'])


def run_cli(argv, stdin='', monkeypatch=None, capsys=None):
    "main(argv) with `stdin` (a string, or a file-like object): (exit status, stdout, stderr)."
    monkeypatch.setattr(sys, 'stdin', io.StringIO(stdin) if isinstance(stdin, str) else stdin)
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# --- bad input: a clear error and a non-zero exit ------------------------------------------------------------------
@needs_sample
@pytest.mark.parametrize('turns, msg', [
    ([], 'empty dialogue'),
    (['I lost my job today.', ''], 'the last turn (turn 2) is empty'),
    (['I lost my job today.', ' \t\n\u3000'], 'the last turn (turn 2) is empty'),     # blank, ideographic space included
    ('I lost my job today.', 'got one string; wrap it in a list'),
    (['I lost my job today.', None], 'turn 2 is NoneType'),
    (['I lost my job today.', 42], 'turn 2 is int (42), expected a string'),
    ({'turns': ['x']}, 'expected a list of turns'),
])
def test_respond_refuses_bad_dialogues(full, trs, turns, msg):
    for b in (full, trs):
        with pytest.raises(InputError) as e: respond(b, turns)
        assert msg in str(e.value)

@needs_sample
@pytest.mark.parametrize('argv, stdin, msg', [
    (['I lost my job today.', ''], '', 'the last turn (turn 2) is empty'),
    (['   '], '', 'the last turn (turn 1) is empty'),
    ([], '', 'empty dialogue'),                                            # nothing on stdin
    ([], 'I lost my job today.\n   \n', 'the last turn (turn 2) is empty'),   # stdin, one turn per line
    (['--json', '-'], '[]', 'empty dialogue'),
    (['--json', '-'], '{"turns": []}', 'empty dialogue'),
    (['--json', '-'], '["I lost my job", ""]', 'the last turn (turn 2) is empty'),
    (['--json', '-'], '["unclosed', 'unreadable JSON (Unterminated string'),
    (['--json', '-'], '', 'unreadable JSON (Expecting value'),
    (['--json', '-'], '{"dialogue": ["x"]}', 'needs a "turns" list'),
    (['--json', '-'], '42', 'expected a JSON list of turns'),
    (['--json', '-'], '"I lost my job"', 'expected a JSON list of turns'),
    (['--json', '-'], '["I lost my job", 3]', 'turn 2 is int (3)'),
    (['--json', '-'], '{"turns": "I lost my job"}', 'got one string'),
    (['--max-len', '0', 'hi'], '', '--max-len must be >= 1'),
])
def test_cli_bad_input_exits_2(bundles, monkeypatch, capsys, argv, stdin, msg):
    code, out, err = run_cli(['--bundle', str(bundles['full'])] + argv, stdin, monkeypatch, capsys)
    assert code == EXIT_INPUT, (code, err)
    assert err.startswith('rd-respond: error: ') and msg in err, err
    assert out == ''

@needs_sample
def test_cli_unreadable_json_files(bundles, tmp_path, monkeypatch, capsys):
    (tmp_path/'bad.json').write_text('["I lost my job",')
    (tmp_path/'latin1.json').write_bytes('["caf\u00e9"]'.encode('latin-1'))
    for f, msg in ((tmp_path/'bad.json', 'unreadable JSON'), (tmp_path/'latin1.json', 'cannot read it as UTF-8'),
                   (tmp_path/'nosuch.json', 'no such file'), (tmp_path, 'cannot read it as UTF-8')):
        code, out, err = run_cli(['--bundle', str(bundles['full']), '--json', str(f)], '', monkeypatch, capsys)
        assert code == EXIT_INPUT and str(f) in err and msg in err, err
    code, out, err = run_cli(['--bundle', str(bundles['full']), '--jsonl', str(tmp_path/'nosuch.jsonl')], '', monkeypatch, capsys)
    assert code == EXIT_INPUT and 'no such file' in err
    (tmp_path/'mixed.jsonl').write_bytes(b'["I lost my job today."]\n["caf\xe9"]\n{"id": "x", "turns": ["ok", ""]}\n')
    code, out, err = run_cli(['--bundle', str(bundles['full']), '--jsonl', str(tmp_path/'mixed.jsonl')], '', monkeypatch, capsys)
    ans = [json.loads(l) for l in out.splitlines()]
    assert code == EXIT_INPUT and 'response' in ans[0] and 'line 2: not UTF-8 text' in ans[1]['error']
    assert ans[2]['id'] == 'x' and 'the last turn (turn 2) is empty' in ans[2]['error']

def test_cli_no_dialogue_on_a_terminal(monkeypatch, capsys):
    class Tty(io.StringIO):
        def isatty(self): return True
    code, out, err = run_cli(['--bundle', '/nonexistent'], Tty(), monkeypatch, capsys)
    assert code == EXIT_INPUT and 'no dialogue given' in err and '--interactive' in err

def test_cli_turns_and_json_together(monkeypatch, capsys):
    code, out, err = run_cli(['--json', 'x.json', 'hi'], '', monkeypatch, capsys)
    assert code == EXIT_INPUT and 'either as arguments or with --json' in err

def test_cli_input_errors_come_before_the_bundle(monkeypatch, capsys):
    "A bad dialogue is reported as such even without a bundle (exit 2, not 1)."
    code, out, err = run_cli(['--bundle', '/nonexistent', 'hi', ''], '', monkeypatch, capsys)
    assert code == EXIT_INPUT and 'is empty' in err

def test_cli_missing_bundle_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    code, out, err = run_cli(['--bundle', str(tmp_path/'nosuch'), 'I lost my job today.'], '', monkeypatch, capsys)
    assert code == EXIT_BUNDLE and 'no model bundle at' in err and 'python -m reflectdiffu.serve.bundle --profile full --run full' in err
    monkeypatch.setenv('REFLECTDIFFU_BUNDLE', str(tmp_path/'nosuch2'))
    code, out, err = run_cli(['I lost my job today.'], '', monkeypatch, capsys)
    assert code == EXIT_BUNDLE and 'nosuch2' in err

@needs_sample
def test_jsonl_answers_good_lines_and_flags_bad_ones(bundles, monkeypatch, capsys):
    lines = ['["I lost my job today."]', '', '{"id": "a7", "turns": ["My dog died 😭"]}', 'not json', '{"id": 3, "turns": []}',
             '["I passed!", "   "]', '{"turns": ["I lost my job.", "Oh no.", "They closed the shop."]}', '[1, 2]']
    code, out, err = run_cli(['--bundle', str(bundles['full']), '--jsonl', '-'], '\n'.join(lines) + '\n', monkeypatch, capsys)
    ans = [json.loads(l) for l in out.splitlines()]
    assert code == EXIT_INPUT                                   # some lines were bad
    assert [a['line'] for a in ans] == [1, 3, 4, 5, 6, 7, 8]    # one answer per non-blank line, in order
    ok = {a['line']: a for a in ans if 'error' not in a}
    assert sorted(ok) == [1, 3, 7] and ok[3]['id'] == 'a7' and all(isinstance(a['response'], str) for a in ok.values())
    errs = {a['line']: a['error'] for a in ans if 'error' in a}
    assert 'unreadable JSON' in errs[4] and 'empty dialogue' in errs[5] and 'last turn (turn 2) is empty' in errs[6] and 'turn 1 is int' in errs[8]
    code, out, err = run_cli(['--bundle', str(bundles['full']), '--jsonl', '-'], '["I lost my job today."]\n', monkeypatch, capsys)
    assert code == 0 and len(out.splitlines()) == 1


# --- odd input: answered -----------------------------------------------------------------------------------------------
ODD = {
    'emoji': ['My dog died 😭😭🐶'],
    'only emoji': ['😭'],
    'german': ['Ich habe heute meinen Job verloren.'],
    'chinese': ['我今天丢了工作。'],
    'arabic (rtl)': ['لقد فقدت وظيفتي اليوم'],
    'mixed scripts': ['I lost my job 今天 at the café — naïve of me'],
    'html': ['<b>I passed</b> my exam!!! <br/><script>alert(1)</script>'],
    'markdown and code': ['**I passed** my `exam`\n```python\nprint("yay")\n```'],
    'control and zero-width characters': ['\x00\x1b[31m red \u200b\u200d text\r\n'],
    'zero-width only': ['\u200b'],
    'fullwidth': ['Ｉ ｌｏｓｔ ｍｙ ｊｏｂ'],
    'one long word': ['a' * 5000],
    'empty earlier turn': ['I lost my job.', '', 'and now my car broke down'],
    'even number of turns': ['Hi there.', 'I lost my job today.'],
    'punctuation only': ['?!...'],
}

@needs_sample
@pytest.mark.parametrize('case', sorted(ODD))
def test_odd_inputs_are_answered(full, trs, case):
    for b in (full, trs):
        a = respond(b, ODD[case])
        assert isinstance(a['response'], str) and isinstance(a['response_tokens'], list)
        assert a['turns'] == len(ODD[case]) and a['roles'][-1] == 'speaker'
        if case != 'one long word': assert a['truncated'] is False and a['words_read'] == a['words']
        json.dumps(a)                                           # JSON-able
    if case == 'even number of turns': assert a['roles'] == ['listener', 'speaker'] and 'even number of turns' in a['notes'][0]

@needs_sample
def test_long_turn_is_cut_to_the_context_and_says_so(full, trs):
    turn = ' '.join(['word'] * 1995) + ' and then my cat died.'           # 2,000 words
    for b in (full, trs):
        a = respond(b, [turn])
        assert a['truncated'] is True and a['words'] == 2001 and a['words_read'] == MAX_CTX
        assert any(f'the dialogue has 2,001 words; the model reads the last {MAX_CTX}' in n for n in a['notes'])
    a = respond(full, ['I lost my job today.'] * 3 + [turn] + ['short one'])   # earlier turns dropped
    assert a['truncated'] is True and any('earlier turns dropped' in n for n in a['notes'])
    a = respond(full, ['a ' * (MAX_CTX - 1) + 'b'])                            # exactly the context: not truncated
    assert a['words'] == MAX_CTX and a['truncated'] is False

@needs_sample
def test_batch_is_the_pipelines_on_ed_dialogues(full, trs):
    "The batch `respond` builds from an ED dialogue's raw turns is the pipeline's (prepare + era + intent_clf caches), a long context included."
    from reflectdiffu.systems.registry import load_run, build_run
    from reflectdiffu.core.paths import Layout
    from reflectdiffu.serve.respond import dialogue_batch
    ds = build_run(load_run(ROOT/'params.yaml', 'sample', 'full'), splits=('test',), for_training=False, layout=Layout('sample', ROOT)).data['test']
    long = next(i for i, r in enumerate(ds.records) if sum(len(t['tokens']) for t in r['context']) > MAX_CTX)
    for i in (0, 1, long):
        turns = [t['text'] for t in ds.records[i]['context']]
        ref = ds.collate([ds[i]])
        for b in (full, trs):
            bt, meta = dialogue_batch(b, turns)
            for k in ('ctx', 'ctx_ext', 'ctx_role', 'ctx_mask', 'polarity'): assert torch.equal(bt[k], ref[k]), (i, k)
            assert bt['oovs'] == ref['oovs'] and meta['truncated'] == (i == long)
        bt, _ = dialogue_batch(full, turns)
        assert torch.equal(bt['reason'], ref['reason'])
        assert (bt['h_tilde'] - ref['h_tilde']).abs().max() < 0.05 and (bt['p_intent'] - ref['p_intent']).abs().max() < 0.02

@needs_sample
def test_answer_fields(full, trs):
    a = respond(full, ['I lost my job today.'])
    assert a['emotion'] in EMOTIONS and [e for e, _ in a['emotion_top3']][0] == a['emotion']
    assert all(a[k] in INTENTS for k in ('intent_first', 'intent_twice', 'intent_final'))
    assert abs(sum(a['p_intent'].values()) - 1) < 1e-3 and a['polarity'] == -1
    assert (a['system'], a['run'], a['profile']) == ('reflectdiffu', 'full', 'sample')
    assert respond(full, ['I lost my job today.']) == a                     # deterministic
    t = respond(trs, ['I lost my job today.'])
    assert (t['emotion'], t['emotion_top3'], t['intent_first'], t['intent_twice'], t['intent_final'], t['p_intent']) == (None,) * 6
    assert t['system'] == 'trs'

@needs_sample
def test_cli_text_json_stdin_and_interactive(bundles, monkeypatch, capsys):
    code, out, err = run_cli(['--bundle', str(bundles['full']), 'I lost my job today.'], '', monkeypatch, capsys)
    assert code == 0 and 'emotion: ' in out and 'intents: first ' in out
    code, out, err = run_cli(['--bundle', str(bundles['trs']), '--output', 'json', 'I lost my job today.'], '', monkeypatch, capsys)
    assert code == 0 and json.loads(out)['system'] == 'trs'
    code, out, err = run_cli(['--bundle', str(bundles['full'])], 'I lost my job today.\nOh no.\nThey closed the shop.\n', monkeypatch, capsys)
    assert code == 0 and out.strip()
    code, out, err = run_cli(['--bundle', str(bundles['full']), '--json', '-', '--output', 'json'], '{"turns": ["I lost my job today."]}', monkeypatch, capsys)
    assert code == 0 and json.loads(out)['turns'] == 1
    code, out, err = run_cli(['--bundle', str(bundles['full']), '--interactive'],
                             'I lost my job today.\n\n   \n:reset\nI passed my exam 😀\n:quit\nnever read\n', monkeypatch, capsys)
    assert code == 0 and out.count('model> ') == 2 and out.count('an empty turn cannot be answered') == 2 and '(new dialogue)' in out
    code, out, err = run_cli(['--bundle', str(bundles['full']), '-i'], 'I lost my job today.\n', monkeypatch, capsys)   # end of input ends
    assert code == 0 and out.count('model> ') == 1

@needs_sample
def test_console_script(bundles):
    exe = Path(sys.executable).parent/'rd-respond'
    if not exe.exists(): pytest.skip('rd-respond is not installed: `pip install -e . -c constraints.txt`')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([str(exe), '--bundle', str(bundles['trs']), '--jsonl', '-'], input='["I lost my job today."]\n["unclosed\n',
                       capture_output=True, text=True, env=env, timeout=120)      # one process: an answer and an error
    ans = [json.loads(l) for l in r.stdout.splitlines()]
    assert r.returncode == EXIT_INPUT and isinstance(ans[0]['response'], str) and 'unreadable JSON' in ans[1]['error'], r.stderr


# --- the bundle ---------------------------------------------------------------------------------------------------------
@needs_sample
def test_bundle_files_and_card(bundles):
    for run, feats in (('full', ('era', 'p_intent')), ('trs', ())):
        man = verify_bundle(bundles[run])
        names = set(man['files'])
        assert {MODEL_FILE, 'params.json', 'vocab.json', CONFIG_FILE, CARD_FILE} <= names
        assert {FEATURE_FILES[f] for f in feats} == names & set(FEATURE_FILES.values())
        card = (bundles[run]/CARD_FILE).read_text()
        for s in ('CC BY-NC 4.0', 'EmpatheticIntents', 'Research only', 'Not for real mental-health support', 'English only', 'Smoke-test model'):
            assert s in card, (run, s)
        cfg = json.loads((bundles[run]/CONFIG_FILE).read_text())
        assert cfg['run'] == run and cfg['dtype'] == 'float16' and cfg['features'] == list(feats)

@needs_sample
def test_bundle_weights_match_the_checkpoint(bundles, tmp_path):
    ck = torch.load(SAMPLE/'train'/'trs'/'best.pt', weights_only=True, map_location='cpu')['model']
    sd = from_pretrained(bundles['trs']).model.state_dict()
    assert all((sd[k] - v.float()).abs().max() <= 2 ** -10 * max(float(v.abs().max()), 1.0) for k, v in ck.items())
    sd32 = from_pretrained(save_pretrained('trs', tmp_path/'trs32', profile='sample', root=ROOT, dtype='float32')).model.state_dict()
    assert all(torch.equal(sd32[k], v) for k, v in ck.items())

@needs_sample
def test_bundle_refuses_damage(bundles, tmp_path):
    b = tmp_path/'b'; shutil.copytree(bundles['trs'], b)
    with open(b/MODEL_FILE, 'r+b') as f: f.seek(-4, 2); f.write(b'\x00\x01\x02\x03')
    with pytest.raises(BundleError, match='model.safetensors does not match the manifest'): from_pretrained(b)
    (b/MODEL_FILE).unlink()
    with pytest.raises(BundleError, match=r'model.safetensors is missing \(the manifest lists it\)'): from_pretrained(b)
    (b/MANIFEST_FILE).unlink()
    with pytest.raises(BundleError, match='manifest.json is missing'): from_pretrained(b)
    f = tmp_path/'f'; shutil.copytree(bundles['full'], f)
    (f/FEATURE_FILES['era']).unlink()
    with pytest.raises(BundleError, match='era.safetensors is missing'): load_bundle(f)
    with pytest.raises(BundleError, match='exists; pass overwrite=True'): save_pretrained('trs', bundles['trs'], profile='sample', root=ROOT)
    o = tmp_path/'other'; o.mkdir(); (o/'precious.txt').write_text('x')
    with pytest.raises(BundleError, match='is not a bundle'): save_pretrained('trs', o, profile='sample', root=ROOT, overwrite=True)
    assert (o/'precious.txt').exists()
