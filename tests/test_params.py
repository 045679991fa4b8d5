"params.yaml validation: every profile and variant loads; each kind of error names the key."
import yaml, pytest
from reflectdiffu.core.params import load_params, ParamsError, SCHEMA, validate
from reflectdiffu.systems.registry import load_run, discover
from conftest import ROOT

def raw(): return yaml.safe_load((ROOT/'params.yaml').read_text())

def load(tmp_path, r):
    p = tmp_path/'params.yaml'; p.write_text(yaml.safe_dump(r)); return load_params(p)

def test_project_params_load_for_every_profile_and_variant():
    p = load_run(ROOT/'params.yaml')
    for prof in p['profiles']:
        for var in p['variants']:
            q = load_run(ROOT/'params.yaml', prof, var)
            assert q['profile'] == prof and q['variant'] == var and q['system'] == p['variants'][var]['system']

def test_every_run_names_a_registered_system_with_its_section():
    systems = discover()
    r = raw()
    for name, run in r['variants'].items():
        assert run['system'] in systems, f'variants.{name}: system {run["system"]!r} is not registered'
        assert set(r[run['system']]) == set(systems[run['system']].schema), f'{run["system"]}: section keys differ from the schema'

def test_every_schema_section_is_in_params_yaml():
    r = raw()
    for sec in SCHEMA:
        if sec != 'top': assert sec in r, f'{sec} missing from params.yaml'

@pytest.mark.parametrize('mutate, msg', [
    (lambda r: r.update(bogus=1), 'bogus: unknown key'),
    (lambda r: r['data'].update(bogus=1), 'data.bogus: unknown key'),
    (lambda r: r['data'].pop('min_freq'), 'data.min_freq: missing key'),
    (lambda r: r['data'].update(min_freq='3'), "data.min_freq: expected int, got str ('3')"),
    (lambda r: r['data'].update(max_context_len=4), 'data.max_context_len: 4 is below the minimum 8'),
    (lambda r: r['vader'].update(pos_threshold=2.0), 'vader.pos_threshold: 2.0 is above the maximum 1.0'),
    (lambda r: r['data'].update(layout='csv'), "data.layout: 'csv' is not one of ['ei', 'ed_tarball']"),
    (lambda r: r.pop('vader'), 'vader: missing section'),
    (lambda r: r.update(profile='huge'), "profile: 'huge' is not one of the profiles"),
    (lambda r: r['profiles']['full'].update({'data.min_freq': -1}), 'profiles.full.data.min_freq: -1 is below the minimum 1'),
    (lambda r: r['variants'].update(bad={'system': 'reflectdiffu', 'reflectdiffu.nope': 1}), 'variants.bad.reflectdiffu.nope: unknown key'),
    (lambda r: r['variants'].update(bad={'system': 'trs', 'reflectdiffu.use_era': False}), "variants.bad.reflectdiffu.use_era: run 'bad' trains 'trs'"),
    (lambda r: r['trs'].update(d_model='big'), 'trs.d_model: expected int'),
    (lambda r: r['variants'].update(bad={'reflectdiffu.use_era': False}), 'variants.bad: expected a mapping with `system: <name>`'),
])
def test_errors_name_the_key(tmp_path, mutate, msg):
    discover()     # the systems' sections are checked once they are registered
    r = raw(); mutate(r)
    with pytest.raises(ParamsError) as e: load(tmp_path, r)
    assert msg in str(e.value)

def test_profile_overlay_applies(tmp_path):
    r = raw(); r['profiles']['sample']['data.min_freq'] = 7
    assert load(tmp_path, r)['data']['min_freq'] == 7

def test_not_yaml(tmp_path):
    p = tmp_path/'params.yaml'; p.write_text('a: [1,\n')
    with pytest.raises(ParamsError, match='not valid YAML'): load_params(p)

def test_unknown_profile_or_variant_argument():
    with pytest.raises(ParamsError, match="profile 'x' is not one of"): load_params(ROOT/'params.yaml', profile='x')
    with pytest.raises(ParamsError, match="variant 'x' is not one of"): load_params(ROOT/'params.yaml', variant='x')


# seed replicates: a run trained again with another seed (`replicate_of`); the loader checks the entry, naming the key
def _rep(r, **kw):
    "A replicate entry of `full` as `yaml.safe_load` reads `{<<: *full, replicate_of: full, seed: N}`, with `kw` changed."
    return dict(r['variants']['full'], **{'replicate_of': 'full', **kw})

@pytest.mark.parametrize('mutate, msg', [
    (lambda r: r['variants'].update(x=_rep(r, seed=9, replicate_of='nope')), "variants.x.replicate_of: 'nope' is not another run of `variants`"),
    (lambda r: r['variants'].update(x=_rep(r, seed=9, replicate_of='full_s2')), "variants.x.replicate_of: 'full_s2' is itself a replicate"),
    (lambda r: r['variants'].update(x=_rep(r)), 'variants.x.seed: missing key'),
    (lambda r: r['variants'].update(x=_rep(r, seed=r['seed'])), f"is a seed of its base run 'full'"),
    (lambda r: r['variants'].update(x=_rep(r, seed=3)), "variants.x.seed: 3 is already the seed of 'full_s3'"),
    (lambda r: r['variants'].update(x=_rep(r, seed=9, system='trs')), 'variants.x.system: a replicate sets only `seed`'),
    (lambda r: r['variants'].update(x=_rep(r, seed=9, paper_row='MIME')), 'variants.x.paper_row: a replicate sets only `seed`'),
    (lambda r: r['variants'].update(x=_rep(r, seed=9, **{'reflectdiffu.use_emu': False})), 'variants.x.reflectdiffu.use_emu: a replicate sets only `seed`'),
    (lambda r: r['variants'].update(x={'replicate_of': 'full', 'seed': 9}), 'variants.x.system: missing: a replicate carries every key of its base'),
])
def test_replicate_errors_name_the_key(tmp_path, mutate, msg):
    discover()
    r = raw(); mutate(r)
    with pytest.raises(ParamsError) as e: load(tmp_path, r)
    assert msg in str(e.value), str(e.value)

def test_replicates_load_as_their_base_with_another_seed():
    from reflectdiffu.core.params import seed_groups, run_seeds
    P = load_run(ROOT/'params.yaml')
    groups, seeds = seed_groups(P), run_seeds(P)
    assert groups['full'][0] == 'full' and len(groups['full']) >= 3 and sorted(r for g in groups.values() for r in g) == sorted(P['variants'])
    assert len({seeds[r] for r in groups['full']}) == len(groups['full'])          # every seed of a group differs
    for rep in groups['full'][1:]:
        Q, B = load_run(ROOT/'params.yaml', 'sample', rep), load_run(ROOT/'params.yaml', 'sample', 'full')
        assert Q['system'] == B['system'] and Q['seed'] == seeds[rep] != B['seed']
        assert {k for k in B if B[k] != Q[k]} == {'seed', 'variant'}               # nothing else differs
