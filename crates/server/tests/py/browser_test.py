"""Headless Chromium (Debian's) drives the chat page over the DevTools protocol: load it, set a
thinking budget, send a message, wait for the streamed answer, check the thinking block is
folded and has a token count, reload, and find the conversation again from SQLite. Saves a
screenshot. Usage: browser_test.py BASE CHROMIUM SCREENSHOT_PNG"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

base, chromium, shot = sys.argv[1:4]
profile = tempfile.mkdtemp(prefix="reasoner-chromium-")
proc = subprocess.Popen(
    [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
     "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1200,900", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + 60
    while not os.path.exists(port_file) or not open(port_file).read().strip():
        assert time.time() < deadline, "chromium did not start"
        time.sleep(0.1)
    port = open(port_file).read().split()[0]
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
    page = next(t for t in targets if t["type"] == "page")
    ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
    next_id = [0]

    def cdp(method, **params):
        next_id[0] += 1
        ws.send(json.dumps({"id": next_id[0], "method": method, "params": params}))
        while True:
            msg = json.loads(ws.recv())
            if msg.get("id") == next_id[0]:
                assert "error" not in msg, msg
                return msg.get("result", {})

    def js(expr):
        r = cdp("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    def wait(expr, what, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if js(expr):
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    cdp("Page.enable")
    cdp("Page.navigate", url=base + "/")
    wait("document.body && document.body.dataset.ready === '1'", "the page to load")
    js("document.getElementById('thinking_budget').value = '12'; document.getElementById('max_tokens').value = '60';"
       "document.getElementById('temperature').value = '0'; true")
    js("document.getElementById('input').value = 'What is 2+3?'; document.getElementById('send').click(); true")
    wait("document.querySelector('.msg.assistant') !== null", "the answer to start")
    wait("document.querySelector('.msg.assistant[data-done=\"1\"]') !== null", "the answer to finish")
    answer = js("document.querySelector('.msg.assistant .answer').textContent")
    folded = js("!document.querySelector('.msg.assistant details.thinking').open")
    summary = js("document.querySelector('.msg.assistant details.thinking summary').textContent")
    reasoning = js("document.querySelector('.msg.assistant .reasoning').textContent")
    assert answer and answer.strip(), "the streamed answer is shown"
    assert reasoning, "the thinking is shown"
    assert folded, "the thinking folds once the answer starts"
    assert "12 tokens" in summary, f"thinking summary gives the token count: {summary!r}"
    wait("document.querySelectorAll('#conversations li').length === 1", "the conversation in the list")
    # Markdown and math: the bundled KaTeX typesets inline and display TeX; markup stays escaped.
    math = js("(() => { const d = document.createElement('div');"
              "renderMarkdownInto(d, '**Area** $\\\\pi r^2$ and $$\\\\frac{a}{b}$$ <b>x</b>');"
              "return [d.querySelectorAll('.katex').length, d.querySelectorAll('.katex-display').length,"
              " d.querySelectorAll('strong').length, d.querySelectorAll('b').length,"
              " d.querySelector('.katex-mathml annotation') ? d.querySelector('.katex-mathml annotation').textContent : ''];"
              "})()")
    assert math[:4] == [2, 1, 1, 0] and math[4] == "\\pi r^2", f"markdown + KaTeX: {math}"
    time.sleep(0.5)  # the assistant message is saved after the stream ends
    png = cdp("Page.captureScreenshot", format="png")["data"]
    os.makedirs(os.path.dirname(shot) or ".", exist_ok=True)
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png))
    # Reload: the conversation comes back from the server's database.
    cdp("Page.reload")
    time.sleep(0.3)
    wait("document.body && document.body.dataset.ready === '1'", "the page to load again")
    wait("document.querySelectorAll('#conversations li').length === 1", "the saved conversation")
    js("document.querySelector('#conversations li .title').click(); true")
    wait("document.querySelectorAll('#messages .msg').length === 2", "the saved messages")
    again = js("document.querySelector('.msg.assistant .answer').textContent")
    assert again == answer, f"the saved answer: {again!r} vs {answer!r}"
    assert js("document.querySelector('.msg.assistant .reasoning').textContent") == reasoning
    print(f"browser: answer {len(answer)} chars, thinking folded ({summary}); conversation restored; screenshot {shot}")
finally:
    proc.kill()
    proc.wait()
