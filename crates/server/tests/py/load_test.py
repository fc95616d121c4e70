"""200 concurrent streaming clients against `reasoner serve` on loopback. Every request must end
with [DONE] after a finish_reason, or be refused cleanly with 429/503 in OpenAI's error shape;
/health must answer throughout and after; the server's resident memory must stay under the bound.
Usage: load_test.py BASE SERVER_PID CLIENTS RSS_BOUND_MB"""
import asyncio
import json
import sys
import time

import httpx

base, pid, clients, bound_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
BODY = {"messages": [{"role": "user", "content": "Tell me a story."}], "stream": True, "max_tokens": 24,
        "temperature": 0.8, "ignore_eos": True}


def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def one(client, i, out):
    try:
        async with client.stream("POST", base + "/v1/chat/completions", json=BODY, timeout=120) as r:
            if r.status_code in (429, 503):
                body = json.loads(await r.aread())
                out.append(("refused", r.status_code) if "message" in body["error"] else ("bad-refusal", r.status_code))
                return
            if r.status_code != 200:
                out.append(("status", r.status_code))
                return
            finished, done = False, False
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    done = True
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    out.append(("stream-error", chunk["error"]["message"]))
                    return
                finished |= any(c.get("finish_reason") for c in chunk.get("choices", []))
            out.append(("ok", 200) if finished and done else ("truncated", 200))
    except Exception as e:  # noqa: BLE001 - any transport failure is a failed request
        out.append(("exception", repr(e)))


async def health_watch(client, stop, slow):
    while not stop.is_set():
        t = time.monotonic()
        try:
            r = await client.get(base + "/health", timeout=5)
            if r.status_code != 200:
                slow.append(("status", r.status_code))
        except Exception as e:  # noqa: BLE001
            slow.append(("exception", repr(e)))
        slow_t = time.monotonic() - t
        if slow_t > 2.0:
            slow.append(("slow", slow_t))
        await asyncio.sleep(0.1)


async def main():
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(limits=limits) as client:
        out, slow, stop = [], [], asyncio.Event()
        peak = rss_mb()
        watcher = asyncio.create_task(health_watch(client, stop, slow))
        t0 = time.monotonic()
        tasks = [asyncio.create_task(one(client, i, out)) for i in range(clients)]
        while not all(t.done() for t in tasks):
            peak = max(peak, rss_mb())
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - t0
        stop.set()
        await watcher
        after = await client.get(base + "/health", timeout=5)
    kinds = {}
    for k, _ in out:
        kinds[k] = kinds.get(k, 0) + 1
    print(f"load: {clients} clients in {elapsed:.1f}s: {kinds}; peak RSS {peak:.0f} MB (bound {bound_mb:.0f}); health issues {slow}")
    bad = [o for o in out if o[0] not in ("ok", "refused")]
    assert len(out) == clients, f"{len(out)} of {clients} requests ended"
    assert not bad, f"requests that neither completed nor were refused cleanly: {bad[:5]}"
    assert kinds.get("ok", 0) >= 16, f"at least a batch completes: {kinds}"
    assert not slow, f"/health failed or was slow during the load: {slow[:5]}"
    assert after.status_code == 200, "health after the load"
    assert peak < bound_mb, f"peak RSS {peak:.0f} MB over the bound {bound_mb:.0f} MB"


asyncio.run(main())
