"""The official openai client against a running `reasoner serve` on a fixture model (random
weights: the text is gibberish, every step is real). Usage: openai_client.py BASE KEY LIMITED_KEY.
Exits non-zero with the failing check's message."""
import concurrent.futures
import sys

import httpx
import openai

base, key, limited_key = sys.argv[1:4]
c = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=60)
AUTH = {"Authorization": "Bearer " + key}
MSGS = [{"role": "user", "content": "What is 2+3?"}]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def status_of(fn):
    try:
        fn()
    except openai.APIStatusError as e:
        return e.status_code, e
    return 200, None


# Models, health.
models = c.models.list().data
check(len(models) == 1 and models[0].id == "qwen2_bf16_sharded", f"models: {models}")
MODEL = models[0].id
check(httpx.get(base + "/health").json()["status"] == "ok", "health")

# Plain chat: greedy, a thinking budget of 10, run to max_tokens.
budget = dict(thinking_budget_tokens=10, ignore_eos=True)
r = c.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=40, temperature=0, extra_body=budget)
m = r.choices[0].message
u = r.usage
check(r.object == "chat.completion" and m.role == "assistant", f"shape: {r}")
check(isinstance(m.reasoning_content, str) and m.reasoning_content, f"reasoning_content: {m}")
check(m.content and "</think>" not in m.content and "</think>" not in m.reasoning_content, f"split: {m}")
check(u.completion_tokens == 40 and r.choices[0].finish_reason == "length", f"usage {u}")
check(u.completion_tokens_details.reasoning_tokens == 10, f"reasoning tokens {u}")
check(u.total_tokens == u.prompt_tokens + u.completion_tokens and u.prompt_tokens > 5, f"usage {u}")
check(u.prompt_tokens_details.cached_tokens >= 0, f"cached {u}")

# The same request again: the prompt comes from the prefix cache, the answer is the same.
r2 = c.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=40, temperature=0, extra_body=budget)
check(r2.usage.prompt_tokens_details.cached_tokens == u.prompt_tokens - 1, f"prefix cache: {r2.usage}")
check(r2.choices[0].message.content == m.content, "same greedy answer from the cached prefix")

# Streaming: every reasoning delta before the first content delta; same text as above.
stream = c.chat.completions.create(
    model=MODEL, messages=MSGS, max_tokens=40, temperature=0, stream=True,
    stream_options={"include_usage": True}, extra_body=budget,
)
kinds, reasoning, content, usage, finish = [], "", "", None, None
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for ch in chunk.choices:
        d = ch.delta
        rc = getattr(d, "reasoning_content", None)
        if rc:
            kinds.append("r")
            reasoning += rc
        if d.content:
            kinds.append("c")
            content += d.content
        finish = ch.finish_reason or finish
check("r" in kinds and "c" in kinds, f"both kinds of deltas: {kinds}")
check(kinds.index("c") > max(i for i, k in enumerate(kinds) if k == "r"), f"thinking first: {kinds}")
check((reasoning, content) == (m.reasoning_content, m.content), "stream text = non-stream text")
check(usage is not None and usage.completion_tokens == 40, f"stream usage: {usage}")
check(usage.completion_tokens_details.reasoning_tokens == 10 and finish == "length", f"stream usage {usage}")

# Stop: cut the answer at a piece of it that does not occur earlier.
raw_before = m.reasoning_content + "\n</think>\n\n"
stop = next(
    m.content[i:i + 3] for i in range(1, len(m.content) - 3)
    if m.content[i:i + 3].strip() and m.content[i:i + 3] not in raw_before + m.content[:i + 2]
)
rs = c.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=40, temperature=0, stop=[stop], extra_body=budget)
check(rs.choices[0].finish_reason == "stop", f"stop reason: {rs.choices[0]}")
check(rs.choices[0].message.content == m.content[:m.content.index(stop)], f"stop {stop!r}: {rs.choices[0].message.content!r}")

# Seeds: same seed, same text; another seed, other text. n choices.
def sampled(seed, n=1):
    return c.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=30, temperature=1.0, top_p=1.0, seed=seed, n=n,
                                     extra_body={"ignore_eos": True})
a, b, d = sampled(123), sampled(123), sampled(124)
ta = a.choices[0].message.reasoning_content + a.choices[0].message.content
check(ta == b.choices[0].message.reasoning_content + b.choices[0].message.content, "seed reproduces")
check(ta != d.choices[0].message.reasoning_content + d.choices[0].message.content, "another seed differs")
two = sampled(123, n=2)
check([ch.index for ch in two.choices] == [0, 1], "n=2 gives two choices")
check(two.choices[0].message.reasoning_content == a.choices[0].message.reasoning_content, "choice 0 uses the seed")
check(two.usage.completion_tokens == 60, f"n=2 usage sums choices: {two.usage}")

# Log-probabilities: one entry per sampled token, each with its alternatives, all <= 0.
lp = c.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3,
                               extra_body={"ignore_eos": True})
entries = lp.choices[0].logprobs.content
check(len(entries) == 8 and all(len(e.top_logprobs) == 3 and e.logprob <= 0 for e in entries), f"logprobs {entries}")
check(all(abs(e.logprob - e.top_logprobs[0].logprob) < 1e-5 for e in entries), "greedy picks the top alternative")

# Text completions.
t = c.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=6, temperature=0, extra_body={"ignore_eos": True})
check(t.object == "text_completion" and t.usage.completion_tokens == 6 and isinstance(t.choices[0].text, str), f"completions {t}")

# Errors, each with OpenAI's shape and status; none harms the server.
def shape(resp):
    e = resp.json()["error"]
    return isinstance(e["message"], str) and "type" in e


bad_json = httpx.post(base + "/v1/chat/completions", content=b"{nope", headers=AUTH)
check(bad_json.status_code == 400 and shape(bad_json), f"bad JSON: {bad_json.status_code} {bad_json.text}")
s, e = status_of(lambda: c.chat.completions.create(model=MODEL, messages=MSGS, temperature="hot"))
check(s == 400 and e.body["param"] == "temperature", f"bad field: {s} {e}")
s, e = status_of(lambda: c.chat.completions.create(
    model=MODEL, messages=MSGS + [{"role": "assistant", "content": "5", "reasoning_content": "r"}, {"role": "user", "content": "ok"}]))
check(s == 400 and "reasoning_content" in e.message, f"reasoning_content sent back: {s} {e}")
s, _ = status_of(lambda: openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0).models.list())
check(s == 401, f"bad key: {s}")
no_key = httpx.get(base + "/v1/models")
check(no_key.status_code == 401 and shape(no_key), f"missing key: {no_key.status_code}")
s, _ = status_of(lambda: c.chat.completions.create(model="gpt-4o", messages=MSGS))
check(s == 404, f"unknown model: {s}")
route = httpx.get(base + "/v1/nothing", headers=AUTH)
check(route.status_code == 404 and shape(route), f"unknown route: {route.status_code}")
s, e = status_of(lambda: c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "word " * 400}]))
check(s == 413, f"prompt too long: {s} {e}")
lim = openai.OpenAI(base_url=base + "/v1", api_key=limited_key, max_retries=0)
codes = [status_of(lambda: lim.models.list())[0] for _ in range(4)]
check(codes[:2] == [200, 200] and codes[-1] == 429, f"rate limit: {codes}")
s, e = status_of(lambda: c.chat.completions.create(model=MODEL, messages=MSGS, n=16, max_tokens=5))
check(s == 503, f"over capacity: {s} {e}")

# Bad and good requests at once: the good ones all answer in full.
def good(i):
    return c.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=12, temperature=0, extra_body={"ignore_eos": True})
def bad(i):
    return status_of(lambda: c.chat.completions.create(model=MODEL, messages=MSGS, top_p=7))[0]
with concurrent.futures.ThreadPoolExecutor(6) as ex:
    goods = [ex.submit(good, i) for i in range(3)]
    bads = [ex.submit(bad, i) for i in range(3)]
    check(all(f.result().usage.completion_tokens == 12 for f in goods), "good requests beside bad ones")
    check(all(f.result() == 400 for f in bads), "bad requests are 400")

# A client that goes away mid-stream: its request is cancelled, the server goes on.
with httpx.stream("POST", base + "/v1/chat/completions", headers=AUTH, timeout=30,
                  json={"model": MODEL, "messages": MSGS, "stream": True, "max_tokens": 200, "ignore_eos": True}) as resp:
    for i, _ in enumerate(resp.iter_lines()):
        if i > 2:
            break
metrics = httpx.get(base + "/metrics").text
check('reasoner_requests_total{status="429"}' in metrics and 'status="200"' in metrics, "metrics by status")
check("reasoner_time_to_first_token_seconds_count" in metrics and "reasoner_prefix_cache_hits" in metrics, "metrics names")
check(c.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=3).usage.completion_tokens <= 3, "still serving")
print("openai client checks passed")
