#!/usr/bin/env python3
"""Serving speed of `reasoner serve` (not a test: numbers for the README).

    python benches/serve_bench.py --model bench-models/qwen2.5-0.5b [--bin target/release/reasoner]
                                  [--streams 1,8,16] [--tokens 64] [--system-tokens 2000]

Starts the server itself on a free loopback port, then measures
  * aggregate decode tokens/s with 1, 8 and 16 concurrent streams (each max_tokens=TOKENS,
    ignore_eos), and p50/p99 time to first token, and
  * time to first token of a request that repeats a ~SYSTEM_TOKENS-token system prompt, with the
    prefix cache (second request, new question) against without (server with --prefix-cache-mb 0).
With --llama-server BIN the same concurrency measurement runs against llama.cpp's llama-server on
the same --model file (a GGUF), started with one slot per stream (`-np 16`, continuous batching)
and --threads threads: the peer. Needs httpx (the server test venv has it). Prints one JSON object
per measurement."""
import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import httpx

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "reasoner"))
ap.add_argument("--streams", default="1,8,16")
ap.add_argument("--tokens", type=int, default=64)
ap.add_argument("--system-tokens", type=int, default=2000, help="0 skips the prefix-cache measurement")
ap.add_argument("--temperature", type=float, default=0.6)
ap.add_argument("--no-logprobs", action="store_true", help="time the first text chunk instead (real weights)")
ap.add_argument("--extra", default="", help="more serve flags, e.g. '--kv-cache f32'")
ap.add_argument("--llama-server", default=None, help="llama.cpp's llama-server binary: measure it instead")
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()


def start_llama_server():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slots = max(map(int, a.streams.split(",")))
    p = subprocess.Popen([a.llama_server, "-m", a.model, "--host", "127.0.0.1", "--port", str(port), "-np", str(slots),
                          "-c", str(slots * 512), "-t", str(a.threads), "--cont-batching", *a.extra.split()],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return p, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    p.kill()
    raise SystemExit("llama-server did not start")


def start(extra):
    if a.llama_server:
        return start_llama_server()
    p = subprocess.Popen([a.bin, "serve", "--model", a.model, "--addr", "127.0.0.1:0", "--threads", str(a.threads),
                          *extra, *a.extra.split()], stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if " on http://" in line:
            return p, line.strip().split(" on ")[-1]
    raise SystemExit("server did not start")


async def stream_one(client, base, body):
    t0 = time.monotonic()
    first, n, counted = None, 0, 0
    async with client.stream("POST", base + "/v1/chat/completions", json=body, timeout=3600) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                n = chunk["usage"]["completion_tokens"]
            elif chunk.get("choices"):
                counted += 1  # a token's chunk (for a server that sends no usage)
            # Every token comes with its log-probability (asked for below), so the first chunk
            # that has choices marks the first token even when its text is empty (random weights).
            if first is None and chunk.get("choices"):
                first = time.monotonic() - t0
    return first or 0.0, n or counted, time.monotonic() - t0


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def concurrency(base, c):
    body = {"messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}], "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": a.tokens, "ignore_eos": True, "temperature": a.temperature, "logprobs": not a.no_logprobs}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64)) as client:
        await stream_one(client, base, {**body, "max_tokens": 4})  # warm up
        t0 = time.monotonic()
        res = await asyncio.gather(*[stream_one(client, base, body) for _ in range(c)])
        wall = time.monotonic() - t0
    ttft = [r[0] for r in res]
    toks = sum(r[1] for r in res)
    # Decode rate: tokens after each stream's first, over the time from the first first-token on.
    decode = (toks - c) / max(1e-9, wall - min(ttft))
    return {"streams": c, "tokens": toks, "wall_s": round(wall, 2), "aggregate_tok_s": round(toks / wall, 2),
            "decode_tok_s": round(decode, 2), "ttft_p50_s": round(pct(ttft, 0.5), 3), "ttft_p99_s": round(pct(ttft, 0.99), 3)}


async def prefix(base):
    system = " ".join(f"rule{i % 97}" for i in range(a.system_tokens // 2))
    async with httpx.AsyncClient() as client:
        body = lambda q: {"messages": [{"role": "system", "content": system}, {"role": "user", "content": q}],
                          "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 1, "temperature": 0,
                          "logprobs": True}
        cold = await stream_one(client, base, body("first question?"))
        warm = await stream_one(client, base, body("second question?"))
        usage = (await client.post(base + "/v1/chat/completions", json={**body("third?"), "stream": False}, timeout=3600)).json()["usage"]
    return cold[0], warm[0], usage


def main():
    p, base = start([])
    try:
        for c in map(int, a.streams.split(",")):
            print(json.dumps({"bench": "concurrency", **asyncio.run(concurrency(base, c))}), flush=True)
        if a.system_tokens == 0 or a.llama_server:
            return
        cold, warm, usage = asyncio.run(prefix(base))
        print(json.dumps({"bench": "prefix_cache_on", "prompt_tokens": usage["prompt_tokens"],
                          "cached_tokens": usage["prompt_tokens_details"]["cached_tokens"],
                          "ttft_first_s": round(cold, 3), "ttft_repeat_s": round(warm, 3)}), flush=True)
    finally:
        p.terminate()
        p.wait()
    p, base = start(["--prefix-cache-mb", "0"])
    try:
        cold, warm, usage = asyncio.run(prefix(base))
        print(json.dumps({"bench": "prefix_cache_off", "prompt_tokens": usage["prompt_tokens"],
                          "ttft_first_s": round(cold, 3), "ttft_repeat_s": round(warm, 3)}), flush=True)
    finally:
        p.terminate()
        p.wait()


main()
