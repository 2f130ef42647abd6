"""The official `openai` Python client against `charrnn serve`: the OpenAI-compatible API as a client
of the ecosystem sees it. Run by scripts/test-openai.sh, which trains the models, starts the server and
sets CHARRNN_BASE_URL, CHARRNN_API_KEY and CHARRNN_BIN."""
import math
import os
import subprocess
import urllib.request

import openai
import pytest

BASE = os.environ["CHARRNN_BASE_URL"]
KEY = os.environ["CHARRNN_API_KEY"]
BIN = os.environ["CHARRNN_BIN"]
TEXT_MODEL = os.environ["CHARRNN_TEXT_MODEL"]
TEXT_PATH = os.environ["CHARRNN_TEXT_PATH"]


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)


def cli_sample(path, seed, length, prime="", extra=()):
    """What `charrnn sample` prints for the same model, seed and length."""
    args = [BIN, "sample", "-c", path, "--seed", str(seed), "--length", str(length), "--prime", prime, *extra]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_models_list(client):
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert TEXT_MODEL in ids and "dinos" in ids
    entry = next(m for m in models.data if m.id == TEXT_MODEL)
    assert entry.object == "model" and entry.owned_by == "charrnn" and entry.created > 0
    assert entry.model_extra["kind"] == "generator"  # charrnn's own members beside OpenAI's


def test_completion_matches_the_cli(client):
    reply = client.completions.create(model=TEXT_MODEL, prompt="to be", max_tokens=40, temperature=1, seed=7)
    choice = reply.choices[0]
    assert choice.index == 0 and choice.finish_reason == "length" and len(choice.text) == 40
    assert "to be" + choice.text + "\n" == cli_sample(TEXT_PATH, 7, 40, prime="to be")
    assert reply.object == "text_completion" and reply.model == TEXT_MODEL
    assert reply.usage.prompt_tokens == 5 and reply.usage.completion_tokens == 40 and reply.usage.total_tokens == 45


def test_seed_reproduces_and_temperature_zero_is_greedy(client):
    a = client.completions.create(model=TEXT_MODEL, prompt="the ", max_tokens=30, seed=3).choices[0].text
    b = client.completions.create(model=TEXT_MODEL, prompt="the ", max_tokens=30, seed=3).choices[0].text
    c = client.completions.create(model=TEXT_MODEL, prompt="the ", max_tokens=30, seed=4).choices[0].text
    assert a == b and a != c
    g = client.completions.create(model=TEXT_MODEL, prompt="the ", max_tokens=30, temperature=0, seed=1).choices[0].text
    assert g == cli_sample(TEXT_PATH, 9, 30, prime="the ", extra=["--greedy"])[4:-1]


def test_streaming_gives_the_same_text(client):
    whole = client.completions.create(model=TEXT_MODEL, prompt="to", max_tokens=60, seed=11).choices[0].text
    pieces, reasons, usage = [], [], None
    for chunk in client.completions.create(model=TEXT_MODEL, prompt="to", max_tokens=60, seed=11, stream=True,
                                           stream_options={"include_usage": True}):
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            pieces.append(c.text)
            reasons.append(c.finish_reason)
    assert "".join(pieces) == whole
    assert reasons[-1] == "length" and all(r is None for r in reasons[:-1])
    assert usage.completion_tokens == 60 and usage.prompt_tokens == 2


def test_n_and_prompt_lists(client):
    reply = client.completions.create(model=TEXT_MODEL, prompt=["to", "be"], n=3, max_tokens=20, seed=5)
    assert [c.index for c in reply.choices] == list(range(6))
    texts = [c.text for c in reply.choices]
    assert len(set(texts)) > 1
    # Choice i*n + j is drawn with seed + i*n + j: the fourth is prompt "be" with seed 8.
    single = client.completions.create(model=TEXT_MODEL, prompt="be", max_tokens=20, seed=8).choices[0].text
    assert texts[3] == single
    streamed = {}
    for chunk in client.completions.create(model=TEXT_MODEL, prompt=["to", "be"], n=3, max_tokens=20, seed=5, stream=True):
        for c in chunk.choices:
            streamed[c.index] = streamed.get(c.index, "") + c.text
    assert [streamed[i] for i in range(6)] == texts


def test_stop_strings_are_cut(client):
    base = client.completions.create(model=TEXT_MODEL, prompt="to be", max_tokens=200, seed=21).choices[0].text
    stop = next(s for s in [" ", "e", "t", "o"] if s in base[3:])
    at = base.index(stop)
    reply = client.completions.create(model=TEXT_MODEL, prompt="to be", max_tokens=200, seed=21, stop=[stop, "zzzz"])
    assert reply.choices[0].text == base[:at] and reply.choices[0].finish_reason == "stop"
    two = base[at:at + 2] if len(base) > at + 1 else base[at:]
    if len(two) == 2:
        reply = client.completions.create(model=TEXT_MODEL, prompt="to be", max_tokens=200, seed=21, stop=two)
        assert reply.choices[0].text == base[:base.index(two)]
        streamed = "".join(c.text for ch in client.completions.create(model=TEXT_MODEL, prompt="to be", max_tokens=200,
                                                                      seed=21, stop=two, stream=True) for c in ch.choices)
        assert streamed == reply.choices[0].text


def test_logprobs_sum_to_the_eval_loss_and_echo(client):
    reply = client.completions.create(model=TEXT_MODEL, prompt="to be or", max_tokens=0, echo=True, logprobs=3)
    lp = reply.choices[0].logprobs
    assert reply.choices[0].text == "to be or" and lp.tokens == list("to be or")
    assert lp.token_logprobs[0] is None and lp.text_offset == list(range(8))
    assert all(len(t) == 3 for t in lp.top_logprobs[1:])
    # The mean loss of the seven predicted characters is what `charrnn eval` reports for the same text.
    with open("eval.txt", "w") as f:
        f.write("to be or")
    out = subprocess.run([BIN, "eval", "-c", TEXT_PATH, "eval.txt"], capture_output=True, text=True, check=True).stdout
    assert "characters predicted: 7" in out
    reported = float(out.split("cross-entropy: ")[1].split()[0])
    assert abs(reported + sum(lp.token_logprobs[1:]) / 7) < 2e-4, (reported, lp.token_logprobs)
    reply = client.completions.create(model=TEXT_MODEL, prompt="to", max_tokens=10, logprobs=2, seed=1)
    lp = reply.choices[0].logprobs
    assert "".join(lp.tokens) == reply.choices[0].text and len(lp.token_logprobs) == 10
    assert all(v <= 0 for v in lp.token_logprobs) and lp.text_offset == list(range(10))
    for token, value, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert max(top.values()) >= value - 1e-6


def test_a_names_model_stops_at_the_end_of_a_name(client):
    reply = client.completions.create(model="dinos", prompt="", max_tokens=100, seed=7)
    assert reply.choices[0].finish_reason == "stop" and "\n" not in reply.choices[0].text


def test_wrong_key_unknown_model_and_chat(client):
    bad = openai.OpenAI(base_url=BASE + "/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    with pytest.raises(openai.AuthenticationError):
        bad.completions.create(model=TEXT_MODEL, prompt="a")
    with pytest.raises(openai.NotFoundError) as e:
        client.completions.create(model="nope", prompt="a")
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=TEXT_MODEL, prompt="a", top_p=1.5)
    assert e.value.body["param"] == "top_p"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=TEXT_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert "/v1/completions" in e.value.body["message"]
    # /healthz stays open for probes that carry no key.
    assert urllib.request.urlopen(BASE + "/healthz").status == 200


def test_top_p_draws_only_from_the_nucleus(client):
    # The model's distribution after "t" (logprobs are at temperature 1, as the draws below).
    dist = client.completions.create(model=TEXT_MODEL, prompt="t", max_tokens=1, seed=0, logprobs=20).choices[0].logprobs
    ranked = sorted(dist.top_logprobs[0].items(), key=lambda kv: -kv[1])
    nucleus, mass = set(), 0.0
    for token, logprob in ranked:
        nucleus.add(token)
        mass += math.exp(logprob)
        if mass >= 0.5:
            break
    drawn = {client.completions.create(model=TEXT_MODEL, prompt="t", max_tokens=1, seed=s, top_p=0.5).choices[0].text
             for s in range(60)}
    assert drawn <= nucleus, (drawn, nucleus)
    unrestricted = {client.completions.create(model=TEXT_MODEL, prompt="t", max_tokens=1, seed=s).choices[0].text for s in range(60)}
    assert unrestricted - nucleus, "without top_p the draws reach beyond the nucleus"


def test_metrics_reflect_the_requests():
    req = urllib.request.Request(BASE + "/metrics", headers={"Authorization": "Bearer " + KEY})
    text = urllib.request.urlopen(req).read().decode()
    assert 'charrnn_http_requests_total{route="/v1/completions",method="POST",status="200"}' in text
    assert "charrnn_characters_generated_total" in text and "charrnn_batch_rows_bucket" in text


def test_cors_preflight_and_replies():
    def call(method, origin, extra=None):
        headers = {"Origin": origin, **(extra or {})}
        req = urllib.request.Request(BASE + "/v1/models", method=method, headers=headers)
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers)
    status, headers = call("OPTIONS", "https://example.com",
                           {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"})
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://example.com"
    assert "POST" in headers["Access-Control-Allow-Methods"] and "authorization" in headers["Access-Control-Allow-Headers"]
    status, headers = call("OPTIONS", "https://elsewhere.example", {"Access-Control-Request-Method": "POST"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, headers = call("GET", "https://example.com", {"Authorization": "Bearer " + KEY})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://example.com" and headers["Vary"] == "Origin"
    status, headers = call("GET", "https://elsewhere.example", {"Authorization": "Bearer " + KEY})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_penalties_change_the_draws_and_are_checked(client):
    plain = client.completions.create(model=TEXT_MODEL, prompt="to be", max_tokens=80, seed=12).choices[0].text
    penalised = client.completions.create(model=TEXT_MODEL, prompt="to be", max_tokens=80, seed=12,
                                          presence_penalty=1.5, frequency_penalty=1.0).choices[0].text
    assert penalised != plain and len(penalised) == 80
    assert penalised == cli_sample(TEXT_PATH, 12, 80, prime="to be",
                                   extra=["--presence-penalty", "1.5", "--frequency-penalty", "1"])[5:-1]
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=TEXT_MODEL, prompt="a", frequency_penalty=2.5)
    assert e.value.body["param"] == "frequency_penalty"
