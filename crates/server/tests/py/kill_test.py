"""Writes conversations and messages through the history API until the server dies (kill -9),
recording each write the server acknowledged; then, against the restarted server, checks every
acknowledged write is there and the database passes SQLite's integrity check.
Usage: kill_test.py write BASE ACKS_FILE | kill_test.py check BASE ACKS_FILE DB_FILE"""
import os
import sqlite3
import sys

import httpx

mode, base, acks = sys.argv[1:4]

if mode == "write":
    with open(acks, "w") as f, httpx.Client(timeout=5) as c:
        n = 0
        try:
            while True:
                conv = c.post(base + "/api/conversations", json={"title": f"conversation {n}"})
                assert conv.status_code == 201, conv.text
                cid = conv.json()["id"]
                f.write(f"conv {cid} conversation {n}\n")
                for k in range(3):
                    r = c.post(f"{base}/api/conversations/{cid}/messages", json={"role": "user", "content": f"message {n}.{k}"})
                    assert r.status_code == 201, r.text
                    f.write(f"msg {cid} message {n}.{k}\n")
                f.flush()
                os.fsync(f.fileno())
                n += 1
        except (httpx.TransportError, OSError):
            f.flush()
            print(f"writer stopped after {n} conversations (server gone)")
else:
    db = sys.argv[4]
    convs, msgs = {}, {}
    for line in open(acks):
        kind, cid, text = line.rstrip("\n").split(" ", 2)
        if kind == "conv":
            convs[cid] = text
        else:
            msgs.setdefault(cid, []).append(text)
    assert len(convs) >= 3, f"only {len(convs)} conversations were written before the kill"
    with httpx.Client(timeout=5) as c:
        for cid, title in convs.items():
            r = c.get(f"{base}/api/conversations/{cid}")
            assert r.status_code == 200, f"acknowledged conversation {cid} is gone: {r.status_code}"
            got = [m["content"] for m in r.json()["messages"]]
            assert r.json()["conversation"]["title"] == title
            want = msgs.get(cid, [])
            assert got[:len(want)] == want, f"conversation {cid}: acknowledged {want}, found {got}"
    ok = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok", f"integrity_check: {ok}"
    print(f"kill -9: all {len(convs)} acknowledged conversations and {sum(map(len, msgs.values()))} messages survived; integrity ok")
