"""Records a HAR of one page load in headless Chromium over the DevTools protocol.

usage: record-chromium-har.py URL OUT.har

It drives /usr/bin/chromium through --remote-debugging-pipe (fds 3 and 4), enables the Network
domain with the cache disabled, navigates to URL, collects events until 1.5 s after the load
event, and writes one HAR 1.2 entry per request in the order the browser sent them, the way
chrome-har and DevTools' own export map them: `_initiator` as Chrome reports it (parser URL,
script stack), `connection` (the connection id), `serverIPAddress`, timings from the
response's ResourceTiming (connect includes ssl), content.size as the bytes decoded and
`_transferSize` as the bytes received. chromium-nginx-h2.har was recorded with it from
nginx 1.22 serving, over TLS with ALPN h2 on 127.0.0.1:18443, a page of an HTML document, a
stylesheet (a @font-face font and a background image), two scripts (one fetching the same
JSON URL twice), sixteen PNG images and a favicon. Not run by the tests: it is here so the
fixture can be recorded again."""
import json, os, subprocess, sys, tempfile, time, datetime, select

url, out = sys.argv[1], sys.argv[2]
r_to_chrome, w_to_chrome = os.pipe()
r_from_chrome, w_from_chrome = os.pipe()
profile = tempfile.mkdtemp(prefix="chromehar-")
def setup():
    os.dup2(r_to_chrome, 3)
    os.dup2(w_from_chrome, 4)
flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--ignore-certificate-errors", "--remote-debugging-pipe", f"--user-data-dir={profile}",
         "--disk-cache-size=1", "about:blank"]
proc = subprocess.Popen(["/usr/bin/chromium", *flags], pass_fds=(3, 4), preexec_fn=setup,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(r_to_chrome); os.close(w_from_chrome)
buf = b""
next_id = 0
events = []
def send(method, params=None, session=None):
    global next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session: msg["sessionId"] = session
    os.write(w_to_chrome, json.dumps(msg).encode() + b"\0")
    return next_id
def read(timeout):
    global buf
    while b"\0" not in buf:
        ready, _, _ = select.select([r_from_chrome], [], [], timeout)
        if not ready: return None
        chunk = os.read(r_from_chrome, 1 << 20)
        if not chunk: return None
        buf += chunk
    msg, buf = buf.split(b"\0", 1)
    return json.loads(msg)
def call(method, params=None, session=None):
    i = send(method, params, session)
    while True:
        m = read(30)
        if m is None: raise SystemExit(f"no answer to {method}")
        if m.get("id") == i:
            if "error" in m: raise SystemExit(f"{method}: {m['error']}")
            return m["result"]
        events.append(m)
target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
call("Network.enable", {}, session)
call("Network.setCacheDisabled", {"cacheDisabled": True}, session)
call("Page.enable", {}, session)
call("Page.navigate", {"url": url}, session)
loaded = None
deadline = time.time() + 60
while time.time() < deadline:
    m = read(1.5 if loaded else 30)
    if m is None:
        if loaded: break
        continue
    events.append(m)
    if m.get("method") == "Page.loadEventFired":
        loaded = m["params"]["timestamp"]
proc.kill(); proc.wait()

reqs = {}
order = []
for m in events:
    p = m.get("params", {})
    meth = m.get("method", "")
    rid = p.get("requestId")
    if meth == "Network.requestWillBeSent":
        if rid in reqs and p.get("redirectResponse"):
            rid_old = rid + "-r" + str(len(order))
            reqs[rid_old] = reqs.pop(rid); order[order.index(rid)] = rid_old
            reqs[rid_old]["response"] = p["redirectResponse"]; reqs[rid_old]["end"] = p["timestamp"]
        reqs[rid] = {"sent": p, "data": 0}
        order.append(rid)
    elif rid in reqs:
        r = reqs[rid]
        if meth == "Network.responseReceived": r["response"] = p["response"]; r["type"] = p.get("type")
        elif meth == "Network.dataReceived": r["data"] += p["dataLength"]
        elif meth == "Network.loadingFinished": r["end"] = p["timestamp"]; r["encoded"] = p["encodedDataLength"]
        elif meth == "Network.loadingFailed": r["end"] = p["timestamp"]; r["error"] = p["errorText"]
        elif meth == "Network.requestServedFromCache": r["cache"] = "disk"

def iso(wall):
    return datetime.datetime.fromtimestamp(wall, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
entries = []
first_wall = None
for rid in order:
    r = reqs[rid]; s = r["sent"]; res = r.get("response", {})
    t = res.get("timing")
    wall = s["wallTime"]
    if first_wall is None: first_wall = wall
    if t:
        d = lambda a, b: round(t[b] - t[a], 3) if t[a] >= 0 else -1
        starts = [x for x in (t["dnsStart"], t["connectStart"], t["sendStart"]) if x >= 0]
        blocked = round(starts[0], 3) if starts else 0
        # from requestWillBeSent to requestTime
        blocked += round((t["requestTime"] - s["timestamp"]) * 1000, 3)
        dns = d("dnsStart", "dnsEnd"); connect = d("connectStart", "connectEnd"); ssl = d("sslStart", "sslEnd")
        send_ = round(t["sendEnd"] - t["sendStart"], 3)
        wait = round(t["receiveHeadersEnd"] - t["sendEnd"], 3)
        end = r.get("end", t["requestTime"])
        receive = round(max(0.0, (end - t["requestTime"]) * 1000 - t["receiveHeadersEnd"]), 3)
    else:
        blocked, dns, connect, ssl, send_, wait = 0, -1, -1, -1, 0, 0
        receive = round(max(0.0, (r.get("end", s["timestamp"]) - s["timestamp"]) * 1000), 3)
    timings = {"blocked": round(max(blocked, 0), 3), "dns": dns, "ssl": ssl, "connect": connect,
               "send": send_, "wait": wait, "receive": receive}
    total = sum(max(v, 0) for k, v in timings.items() if k != "ssl")
    req = s["request"]
    e = {
        "_initiator": s.get("initiator"),
        "_resourceType": (r.get("type") or s.get("type") or "").lower(),
        "cache": {},
        "pageref": "page_1",
        "request": {"method": req["method"], "url": req["url"] + req.get("urlFragment", ""), "httpVersion": res.get("protocol", ""),
                    "headers": [{"name": k, "value": v} for k, v in req.get("headers", {}).items()],
                    "queryString": [], "cookies": [], "headersSize": -1,
                    "bodySize": len(req.get("postData", "")) if req.get("postData") else 0},
        "response": {"status": res.get("status", 0), "statusText": res.get("statusText", ""), "httpVersion": res.get("protocol", ""),
                     "headers": [{"name": k, "value": v} for k, v in res.get("headers", {}).items()], "cookies": [],
                     "content": {"size": r["data"], "mimeType": res.get("mimeType", "x-unknown")},
                     "redirectURL": "", "headersSize": -1, "bodySize": -1, "_transferSize": r.get("encoded", 0),
                     "_error": r.get("error")},
        "startedDateTime": iso(wall),
        "time": round(total, 3),
        "timings": timings,
    }
    if "connectionId" in res: e["connection"] = str(res["connectionId"])
    if "remoteIPAddress" in res: e["serverIPAddress"] = res["remoteIPAddress"]
    if r.get("cache") or res.get("fromDiskCache") or res.get("fromPrefetchCache"): e["_fromCache"] = "disk"
    if r.get("error"): e["_error"] = r["error"]
    entries.append(e)
version = "unknown"
har = {"log": {"version": "1.2", "creator": {"name": "httplab record.py (Chromium DevTools protocol)", "version": "1"},
               "pages": [{"startedDateTime": iso(first_wall or time.time()), "id": "page_1", "title": url, "pageTimings": {}}],
               "entries": entries}}
json.dump(har, open(out, "w"), indent=1)
print(f"{len(entries)} entries, load event {'seen' if loaded else 'NOT seen'}")
