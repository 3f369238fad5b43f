#!/usr/bin/env python3
"""Helpers for bench/run.sh: CPU accounting from /proc, RSS, the idle sink and client, wrk/iperf3 parsing,
the report (markdown + chart) and the JFR hot-method summary. Standard library only, except matplotlib for the
chart (optional: an SVG is written by hand when it is missing)."""
import json
import os
import re
import selectors
import socket
import statistics
import sys
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- /proc accounting

def proc_table():
    """pid -> (sid, utime+stime ticks, comm) for every process, plus reaped children's ticks (cutime+cstime)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        r = s.rfind(")")
        comm = s[s.find("(") + 1:r]
        f = s[r + 2:].split()
        # fields after comm: state(0) ppid(1) pgrp(2) session(3) ... utime(11) stime(12) cutime(13) cstime(14)
        out[int(d)] = (int(f[3]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]), comm)
    return out


def thread_names(path):
    """nid (decimal tid) -> Java thread name, from a `jcmd <pid> Thread.print` dump."""
    names = {}
    if path and os.path.exists(path):
        for line in open(path):
            m = re.match(r'^"([^"]+)".* nid=0x([0-9a-f]+)', line)
            if m:
                names[str(int(m.group(2), 16))] = m.group(1)
    return names


def session_threads(sid, map_path=None):
    """tid -> [thread name, utime+stime ticks, context switches] for every thread of every process of session sid."""
    out = {}
    java_names = thread_names(map_path)
    for pid, (s, _t, _c, _comm) in proc_table().items():
        if s != sid:
            continue
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                st = open(f"/proc/{pid}/task/{tid}/stat").read()
                r = st.rfind(")")
                name = st[st.find("(") + 1:r]
                f = st[r + 2:].split()
                cs = 0
                for line in open(f"/proc/{pid}/task/{tid}/status"):
                    if "ctxt_switches" in line:
                        cs += int(line.split()[1])
                name = java_names.get(tid, name)
                out[tid] = [name, int(f[11]) + int(f[12]), cs]
            except OSError:
                pass
    return out


def cpu_snap(path, sid="", map_path=None):
    t = proc_table()
    snap = {"t": time.time(), "p": {str(k): v for k, v in t.items()}}
    if sid:
        snap["threads"] = session_threads(int(sid), map_path)
    with open(path, "w") as fh:
        json.dump(snap, fh)


def _delta(a, b, pick, children=True):
    """Ticks used between snapshots a and b by processes for which pick(sid) is true; with children, also the ticks
    of children they reaped in the window (cutime+cstime)."""
    total = 0
    for pid, (sid, ticks, cticks, _comm) in b["p"].items():
        if not pick(sid):
            continue
        c = cticks if children else 0
        prev = a["p"].get(pid)
        if prev is not None and prev[0] == sid:
            total += (ticks - prev[1]) + (c - (prev[2] if children else 0))
        else:
            total += ticks + c  # born during the window
    return total


def cpu_diff(a_path, b_path, proxy_sids, our_sids):
    a = json.load(open(a_path))
    b = json.load(open(b_path))
    wall = b["t"] - a["t"]
    proxy = set(int(x) for x in proxy_sids.split(",") if x)
    ours = set(int(x) for x in our_sids.split(",") if x) | proxy | {0}
    p = _delta(a, b, lambda s: s in proxy) / CLK
    # The bench's own side: wrk, iperf3, backends, the idle client and this tooling (children reaped included).
    bench = ours - proxy - {0}
    own = _delta(a, b, lambda s: s in bench) / CLK
    # Other user-space processes: everything not started by this bench (session 0 = kernel threads excluded).
    # Own ticks only: a build tool reaping a long test JVM would otherwise add that JVM's whole life at once.
    o = _delta(a, b, lambda s: s not in ours, children=False) / CLK
    r = {"wall_s": round(wall, 3), "proxy_cpu_pct": round(100 * p / wall, 1), "others_cpu_pct": round(100 * o / wall, 1),
         "bench_cpu_pct": round(100 * own / wall, 1)}
    if "threads" in a and "threads" in b:
        # Context switches of the proxy's threads, and its CPU by thread name (digits folded), % of one core.
        cs, by = 0, {}
        for tid, (name, ticks, c) in b["threads"].items():
            prev = a["threads"].get(tid, [name, 0, 0])
            cs += c - prev[2]
            by[name] = by.get(name, 0) + (ticks - prev[1])
        r["ctxsw"] = cs
        r["threads_pct"] = {k: round(100.0 * v / CLK / wall, 1) for k, v in sorted(by.items(), key=lambda x: -x[1])
                            if v > 0}
    print(json.dumps(r))


def others_now(secs, our_sids):
    a = {"t": time.time(), "p": {str(k): v for k, v in proc_table().items()}}
    time.sleep(float(secs))
    b = {"t": time.time(), "p": {str(k): v for k, v in proc_table().items()}}
    ours = set(int(x) for x in our_sids.split(",") if x) | {0}
    o = _delta(a, b, lambda s: s not in ours, children=False) / CLK
    print(round(100 * o / (b["t"] - a["t"]), 1))


def rss_kb(sid):
    sid = int(sid)
    total = 0
    for pid, (s, _t, _c, _comm) in proc_table().items():
        if s != sid:
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    print(total)


def histo_diff(before, after, n_conns, top=20):
    """Top classes by bytes gained between two `jcmd GC.class_histogram` dumps, per connection."""
    def read(p):
        d = {}
        for line in open(p):
            m = re.match(r"\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)", line)
            if m:
                d[m.group(3)] = (int(m.group(1)), int(m.group(2)))
        return d
    a, b = read(before), read(after)
    n = float(n_conns)
    rows = []
    for k, (cnt, by) in b.items():
        c0, b0 = a.get(k, (0, 0))
        rows.append((by - b0, cnt - c0, k))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    print("| class | instances per conn | bytes per conn |")
    print("|---|---|---|")
    for by, cnt, k in rows[:top]:
        print("| %s | %.2f | %.0f |" % (k, cnt / n, by / n))
    print("| **all classes** | | **%.0f** |" % (total / n))
    return total / n


def heap_bytes(url):
    """Sum of jvm_memory_used_bytes{area="heap"} from a Prometheus text page, eden excluded: read right after a full
    GC, the old and survivor pools hold exactly the live objects, while eden already holds whatever was allocated
    since (the scrape itself, timers)."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("jvm_memory_used_bytes") and 'area="heap"' in line and "eden" not in line.lower():
            total += float(line.rsplit(" ", 1)[1])
    print(int(total))


# ---------------------------------------------------------------- idle sink and client

def sink(port, count_file, life):
    """Accepts and holds connections on 127.0.0.1:port; writes the number held to count_file every 0.2 s."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(port)))
    srv.listen(4096)
    srv.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ, None)
    held = set()
    end = time.time() + float(life)
    last = 0
    while time.time() < end:
        for key, _ in sel.select(0.1):
            if key.data is None:
                while True:
                    try:
                        c, _ = srv.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, "c")
                    held.add(c)
            else:
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c)
                    c.close()
                    held.discard(c)
        if time.time() - last > 0.2:
            last = time.time()
            tmp = count_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(str(len(held)))
            os.replace(tmp, count_file)


def idle_client(port, n, count_file, ready_file, stop_file, life):
    """Opens n idle connections to 127.0.0.1:port, waits until the sink holds n, touches ready_file, holds until
    stop_file exists (or life s), then closes them."""
    n = int(n)
    socks = []
    for i in range(n):
        s = socket.socket()
        s.connect(("127.0.0.1", int(port)))
        socks.append(s)
        if i % 200 == 199:
            time.sleep(0.02)
    end = time.time() + float(life)
    seen = -1
    while time.time() < end:
        try:
            seen = int(open(count_file).read() or 0)
        except (OSError, ValueError):
            pass
        if seen >= n:
            break
        time.sleep(0.1)
    with open(ready_file, "w") as f:
        f.write(str(seen))
    while time.time() < end and not os.path.exists(stop_file):
        time.sleep(0.1)
    for s in socks:
        s.close()


# ---------------------------------------------------------------- parsing

def _ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    x = float(m.group(1))
    return {"us": x / 1000, "ms": x, "s": x * 1000}[m.group(2)]


def parse_wrk(path):
    text = open(path).read()
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    r["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, text, re.M)
        if m:
            r["p" + pct + "_ms"] = _ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    return r


def parse_iperf(path):
    d = json.load(open(path))
    if "error" in d:
        return {"gbps": None, "error": d["error"]}
    return {"gbps": d["end"]["sum_received"]["bits_per_second"] / 1e9}


def emit(path, **kv):
    """Appends one JSON line of results."""
    with open(path, "a") as f:
        f.write(json.dumps(kv) + "\n")


# ---------------------------------------------------------------- report

ROWS = ["direct", "haproxy", "haproxy-splice", "nginx-stream", "ferry"]
# The peers a "best peer" figure is taken from (issue #4's targets: the better of HAProxy and nginx stream).
PEERS = ("haproxy", "nginx-stream")
HTTP_WL = re.compile(r"^(tls-)?(rr|churn)(-c\d+)?(-\d+k)?$")


def keepalive(wl):
    """True for a keep-alive workload (rr, tls-rr...: requests), false for churn (connections, over TLS handshakes)."""
    return re.sub(r"^tls-", "", wl).startswith("rr")
# key, label, workload, higher-is-better (None: no better), format
BULK_FIGS = [
    ("gbps", "bulk 1 stream Gbit/s", "bulk1", True, "{:.2f}"),
    ("cpu", "bulk 1 proxy CPU %", "bulk1", None, "{:.0f}"),
    ("gbps", "bulk 4 streams Gbit/s", "bulk4", True, "{:.2f}"),
]
IDLE_FIGS = [
    ("mem_per_conn", "idle memory B/conn (RSS; Ferry: off-heap RSS + live heap)", "idle", False, "{:,.0f}"),
    ("rss_per_conn", "idle RSS growth B/conn (Ferry: heap pre-touched)", "idle", False, "{:,.0f}"),
    ("heap_per_conn", "idle live heap B/conn (class histogram diff)", "idle", False, "{:,.0f}"),
    ("heap_metrics_per_conn", "idle heap B/conn (/metrics, non-eden, after GC)", "idle", False, "{:,.0f}"),
]


def http_workloads(rows, meta):
    """The keep-alive and churn workloads that ran (rr, rr-c512, rr-32k, churn, ...), in the order WORKLOADS gave."""
    ran = [r["wl"] for r in rows]
    order = [w for w in (meta.get("http_workloads") or {}) if w in ran]
    for w in ran:
        if HTTP_WL.match(w) and w not in order:
            order.append(w)
    return order


def http_figs(wl):
    """Throughput, p99 beside it, proxy CPU and per core-second for one keep-alive (rr...) or churn workload."""
    unit = "req" if keepalive(wl) else "conn"
    figs = [("rps", "%s %s/s" % (wl, unit), wl, True, "{:,.0f}")]
    if unit == "req":
        figs.append(("p50_ms", "%s p50 ms" % wl, wl, False, "{:.3f}"))
    return figs + [("p99_ms", "%s p99 ms" % wl, wl, False, "{:.3f}"),
                   ("cpu", "%s proxy CPU %%" % wl, wl, None, "{:.0f}"),
                   ("per_core", "%s %s per core-s" % (wl, unit), wl, True, "{:,.0f}")]


def figs(http):
    """Every figure of the main table: each HTTP workload's, bulk, context switches, idle."""
    out = [f for wl in http for f in http_figs(wl)] + BULK_FIGS
    out += [("cs_per", "%s proxy ctx switches per %s" % (wl, "req" if keepalive(wl) else "conn"), wl, False,
             "{:.2f}") for wl in http]
    return out + IDLE_FIGS


def workload_legend(http, meta):
    """One line naming each HTTP workload's load, from meta.json."""
    spec = meta.get("http_workloads") or {}
    parts = []
    for wl in http:
        s = spec.get(wl)
        if s:
            size = "%d KiB" % (s["bytes"] // 1024) if s["bytes"] % 1024 == 0 else "%d B" % s["bytes"]
            parts.append("%s: %s, %d connections, %s body" % (wl, s["mode"], s["conns"], size))
    return "Workloads: " + "; ".join(parts) + "." if parts else ""


def load(result_dir):
    rows = [json.loads(l) for l in open(os.path.join(result_dir, "results.jsonl")) if l.strip()]
    for r in rows:
        if r.get("cpu") and r.get("rps"):
            r["per_core"] = r["rps"] / (r["cpu"] / 100.0)
        if r.get("ctxsw") is not None and r.get("rps") and r.get("wall"):
            r["cs_per"] = r["ctxsw"] / (r["rps"] * r["wall"])
        if r.get("rss_per_conn") is not None:
            r["mem_per_conn"] = r["rss_per_conn"] + (r.get("heap_per_conn") or 0)
    return rows


def values(rows, row, wl, key):
    return [r[key] for r in rows if r["row"] == row and r["wl"] == wl and r.get(key) is not None]


def med(v):
    return statistics.median(v) if v else None


def spread(v):
    if len(v) < 2:
        return None
    m = statistics.median(v)
    return 100.0 * (max(v) - min(v)) / m if m else None


def report(result_dir, out_md, chart_path):
    rows = load(result_dir)
    meta = json.load(open(os.path.join(result_dir, "meta.json")))
    present = []
    for x in rows:
        if x["row"] not in present:
            present.append(x["row"])
    present.sort(key=lambda r: ROWS.index(r) if r in ROWS else ROWS.index("ferry") + 0.5)
    http = http_workloads(rows, meta)
    L = []
    legend = workload_legend(http, meta)
    if legend:
        L += [legend, ""]
    L.append("| figure | " + " | ".join(present) + " | ferry / direct | ferry / haproxy | ferry / best peer |")
    L.append("|---|" + "---|" * (len(present) + 3))
    summary = {}
    for key, label, wl, hib, fmt in figs(http):
        cells = []
        for r in present:
            v = values(rows, r, wl, key)
            m = med(v)
            summary[(label, r)] = m
            if m is None:
                cells.append("–")
            else:
                s = spread(v)
                cells.append(fmt.format(m) + ("" if s is None else " ±%.0f%%" % (s / 2)))
        def ratio(a, b):
            x, y = summary.get((label, a)), summary.get((label, b))
            return "%.2f×" % (x / y) if x and y else "–"
        def best_peer():
            got = [summary.get((label, p)) for p in PEERS if summary.get((label, p))]
            x = summary.get((label, "ferry"))
            if hib is None or not got or not x:
                return "–"
            return "%.2f×" % (x / (max(got) if hib else min(got)))
        L.append("| %s | %s | %s | %s | %s |" % (label, " | ".join(cells), ratio("ferry", "direct"),
                                                 ratio("ferry", "haproxy"), best_peer()))
    # noise table
    N = ["", "| workload | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for wl in http + ["bulk1", "bulk4", "idle", "scale-rr", "scale-churn"]:
        if not any(r["wl"] == wl for r in rows):
            continue
        cells = []
        for r in present:
            v = values(rows, r, wl, "others")
            cells.append("–" if not v else "%.0f (max %.0f)" % (med(v), max(v)))
        N.append("| %s | %s |" % (wl, " | ".join(cells)))
    # per-round raw
    R = ["", "| round | row | workload | value | p99 ms | wrk socket errors | proxy CPU % | others CPU % |",
         "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v = r.get("rps") or r.get("gbps") or r.get("mem_per_conn")
        R.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["round"], r["row"], wl_label(r), "–" if v is None else "%.2f" % v, r.get("p99_ms", "–"),
            r.get("errors", "–"), r.get("cpu", "–"), r.get("others", "–")))
    # Ferry's CPU by thread (median over rounds, % of one core)
    T = ["", "| workload | Ferry CPU by thread, % of one core (median over rounds) |", "|---|---|"]
    for wl in http + ["bulk1", "bulk4", "scale-rr i=1", "scale-rr i=2", "scale-churn i=1", "scale-churn i=2"]:
        per = {}
        for r in rows:
            if r["row"] == "ferry" and wl_label(r) == wl and r.get("threads"):
                for k, v in r["threads"].items():
                    per.setdefault(k, []).append(v)
        if per:
            T.append("| %s | %s |" % (wl, ", ".join("%s %.0f" % (k, med(v)) for k, v in
                                                    sorted(per.items(), key=lambda x: -med(x[1])) if med(v) >= 1)))
    S, scale = scale_section(rows, meta)
    B, vs_splice = splice_section(summary, present, meta)
    with open(out_md, "w") as f:
        f.write("\n".join(L) + "\n")
        f.write("\n".join(B) + "\n")
        f.write("\n".join(ferry_rows_section(meta, present, result_dir)) + "\n")
        f.write("\n".join(S) + "\n")
        f.write("\n".join(T) + "\n")
        f.write("\nOther processes' CPU during each measured run, % of one core, median (max) over rounds:\n")
        f.write("\n".join(N) + "\n")
        f.write("\nEvery measured run:\n")
        f.write("\n".join(R) + "\n")
    with open(os.path.join(result_dir, "summary.json"), "w") as f:
        json.dump({"meta": meta, "median": {"%s|%s" % k: v for k, v in summary.items()}, "scale": scale,
                   "bulk_vs_haproxy_splice": vs_splice}, f, indent=1)
    chart(rows, present, chart_path, http)
    print(open(out_md).read())


def wl_label(r):
    return r["wl"] + (" i=%d" % r["instances"] if "instances" in r else "")


def splice_section(summary, present, meta):
    """Bulk throughput of every Ferry row over haproxy-splice (HAProxy with kernel splicing), when both ran: the
    ratio columns of the main table stay against plain haproxy."""
    if "haproxy-splice" not in present:
        return [], {}
    opts = meta.get("haproxy_splice", "kernel splicing")
    out = ["", "haproxy-splice is HAProxy with `%s`, not in the ratio columns (those are against plain haproxy)."
           % opts]
    vs = {}
    parts = []
    for r in [x for x in present if x.startswith("ferry")]:
        cells = []
        for label, short in (("bulk 1 stream Gbit/s", "1 stream"), ("bulk 4 streams Gbit/s", "4 streams")):
            x, y = summary.get((label, r)), summary.get((label, "haproxy-splice"))
            if x and y:
                vs.setdefault(r, {})[short] = x / y
                cells.append("%s %.2f×" % (short, x / y))
        if cells:
            parts.append("%s %s" % (r, ", ".join(cells)))
    if parts:
        out.append("Bulk Gbit/s, Ferry rows ÷ haproxy-splice: " + "; ".join(parts) + ".")
    return out, vs


def ferry_rows_section(meta, present, result_dir=None):
    """Jar, JVM options and environment of every Ferry row (from meta.json), and the JVM settings each row's first
    process reported at start (ferry-jvm.tsv), so that a variant's figures can be read next to them."""
    fr = meta.get("ferry_rows") or {}
    names = [r for r in present if r in fr] + [r for r in fr if r not in present]
    if not names:
        return []
    launcher = meta.get("ferry_launcher")
    flags_head = "JAVA_OPTS for bin/ferry" if launcher else "JVM flags"
    none = "(none: bin/ferry's defaults)" if launcher else "(none: JVM defaults)"
    out = ["", "| Ferry row | %s | env | jar |" % flags_head, "|---|---|---|---|"]
    for r in names:
        env = fr[r].get("env") or {}
        out.append("| %s | %s | %s | %s |" % (r, "`%s`" % fr[r]["jvm_flags"] if fr[r]["jvm_flags"] else none,
                                            " ".join("`%s=%s`" % kv for kv in env.items()) or "–", fr[r]["jar"]))
    out.append("")
    if launcher:
        out.append("Every Ferry process is started by `%s`, as the README starts Ferry; its defaults: `%s` (a setting "
                   "given in JAVA_OPTS replaces its default; `FERRY_JVM_DEFAULTS` in a row's env replaces them all)."
                   % (launcher, meta.get("ferry_launcher_defaults") or "?"))
    jvm = os.path.join(result_dir or "", "ferry-jvm.tsv")
    if result_dir and os.path.exists(jvm):
        out += ["", "What each row's first Ferry process reported at start:", ""]
        for line in open(jvm):
            row, _, said = line.rstrip("\n").partition("\t")
            out.append("- %s: `%s`" % (row, said or "no JVM line (a build before JvmReport)"))
        out.append("")
    out.append("Idle runs add `-XX:+AlwaysPreTouch` to these flags. Every Ferry process gets `FERRY_INSTANCES=1` (scale: "
               "1, then 2), `FERRY_ACCESS_LOG=false`, `FERRY_ECHO_ENABLED=false` and its listen, admin and upstream "
               "addresses; the env column is what a row adds or overrides (not `FERRY_INSTANCES` in scale).")
    inh = meta.get("ferry_env_inherited") or {}
    if inh:
        out.append("Every Ferry row also inherited from the caller's environment: %s."
                   % " ".join("`%s=%s`" % kv for kv in inh.items()))
    return out


SCALE_FIGS = [
    # key, label (rr / churn), format
    ("rps", ("req/s", "conn/s"), "{:,.0f}"),
    ("cpu", ("Ferry CPU % (200 = both cores)",) * 2, "{:.0f}"),
    ("per_core", ("req per Ferry core-s", "conn per Ferry core-s"), "{:,.0f}"),
    ("p99_ms", ("p99 ms",) * 2, "{:.3f}"),
    ("bench_cpu", ("bench side CPU % (wrk, backends, tooling)",) * 2, "{:.0f}"),
    ("box_cpu", ("box CPU % (Ferry + bench side + others; 200 = both cores)",) * 2, "{:.0f}"),
]


def scale_section(rows, meta):
    """The scale workload: for each Ferry row and figure, instances=2 / instances=1 within each round, then the
    median and min..max of those per-round factors; and the direct row's figures with the same load (the ceiling)."""
    out, summ = [], {}
    srows = [r for r in rows if r["wl"] in ("scale-rr", "scale-churn")]
    if not srows:
        return out, summ
    for r in srows:
        if r.get("cpu") is not None and r.get("bench_cpu") is not None:
            r["box_cpu"] = r["cpu"] + r["bench_cpu"] + (r.get("others") or 0)
    names = []
    for r in srows:
        if "instances" in r and r["row"] not in names:
            names.append(r["row"])

    def cell(v, fmt):
        if not v:
            return "–"
        s = spread(v)
        return fmt.format(med(v)) + ("" if s is None else " ±%.0f%%" % (s / 2))

    out += ["", "### Scaling: FERRY_INSTANCES=2 over 1, Ferry not pinned (%s, %s wrk threads)"
            % (meta.get("scale_pinning", "?"), meta.get("scale_threads", "?")), "",
            "| row | workload | figure | instances=1 | instances=2 | factor 2/1, median of rounds | factor min–max "
            "| rounds |", "|---|---|---|---|---|---|---|---|"]
    for name in names:
        summ[name] = {}
        for j, wl in enumerate(("rr", "churn")):
            mine = [r for r in srows if r["row"] == name and r["wl"] == "scale-" + wl]
            if not mine:
                continue
            summ[name][wl] = {}
            for key, labels, fmt in SCALE_FIGS:
                by = {1: {}, 2: {}}
                for r in mine:
                    if r.get(key) is not None and r.get("instances") in by:
                        by[r["instances"]][r["round"]] = r[key]
                v1, v2 = list(by[1].values()), list(by[2].values())
                factors = [by[2][k] / by[1][k] for k in sorted(by[1]) if k in by[2] and by[1][k]]
                if not v1 and not v2:
                    continue
                fs = spread(factors)
                summ[name][wl][key] = {
                    "instances_1": med(v1), "instances_2": med(v2), "factor_median": med(factors),
                    "factor_min": min(factors) if factors else None, "factor_max": max(factors) if factors else None,
                    "factor_pm_pct": None if fs is None else round(fs / 2, 1), "factors": factors}
                out.append("| %s | %s | %s | %s | %s | %s | %s | %d |" % (
                    name, wl, labels[j], cell(v1, fmt), cell(v2, fmt),
                    "–" if not factors else "**%.2f×**" % med(factors) if key == "rps" else "%.2f×" % med(factors),
                    "–" if not factors else "%.2f–%.2f" % (min(factors), max(factors)), len(factors)))
    direct = [r for r in srows if r["row"] == "direct"]
    if direct:
        summ["direct"] = {}
        line = []
        for wl, unit in (("rr", "req/s"), ("churn", "conn/s")):
            v = [r["rps"] for r in direct if r["wl"] == "scale-" + wl and r.get("rps")]
            b = [r["bench_cpu"] for r in direct if r["wl"] == "scale-" + wl and r.get("bench_cpu") is not None]
            if v:
                summ["direct"][wl] = {"rps": med(v), "bench_cpu": med(b)}
                line.append("%s %s %s (bench side %s%% CPU)" % (wl, cell(v, "{:,.0f}"), unit,
                                                                    "%.0f" % med(b) if b else "?"))
        out += ["", "Same load without a proxy (direct row), the most this load side reaches on this box: "
                + "; ".join(line) + "."]
    out += ["", "Read with care: this box has %s cores, and wrk, the backend nginx and Ferry share them (Ferry and wrk "
            "are not pinned, the backends stay on their CPU). What a second event loop gains has to come out of the "
            "cores the load side also needs, so the factor is bounded well below 2 and is not what a 2-core container "
            "running only Ferry would get; the box CPU row shows how close the whole box is to saturation. Each "
            "round starts a fresh Ferry per instance count (prewarmed), instances=1 first in odd rounds and second "
            "in even ones; the factor is taken within each round." % meta.get("nproc", "?")]
    return out, summ


def chart(rows, present, path, http=("rr", "churn")):
    # Per HTTP workload its throughput per core-second and its p99 side by side; then bulk and idle.
    panels = []
    for wl in http:
        unit = "req" if wl.startswith("rr") else "conn"
        panels += [("per_core", wl, "%s %s per core-s" % (wl, unit)), ("p99_ms", wl, "%s p99 ms" % wl)]
    panels += [("gbps", "bulk1", "bulk 1 stream Gbit/s"), ("gbps", "bulk4", "bulk 4 streams Gbit/s"),
               ("mem_per_conn", "idle", "idle memory bytes/conn")]
    colors = {"direct": "#999999", "haproxy": "#1f77b4", "haproxy-splice": "#9ecae1", "nginx-stream": "#2ca02c",
              "ferry": "#d62728"}
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return svg_chart(rows, present, panels, colors, os.path.splitext(path)[0] + ".svg")
    nrows = (len(panels) + 3) // 4
    fig, axes = plt.subplots(nrows, 4, figsize=(16, 3.5 * nrows), squeeze=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    for ax, (key, wl, title) in zip(axes.flat, panels):
        meds, los, his = [], [], []
        for r in present:
            v = values(rows, r, wl, key)
            m = med(v) or 0
            meds.append(m)
            los.append(m - min(v) if v else 0)
            his.append(max(v) - m if v else 0)
        ax.bar(present, meds, yerr=[los, his], color=[colors.get(r, "#f4a6a6") for r in present], capsize=4)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8, rotation=20)
    fig.suptitle("Ferry vs peers on loopback, proxy pinned to 1 core (median of rounds, bars = min..max)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def svg_chart(rows, present, panels, colors, path):
    w, pw, ph = 1200, 290, 240
    h = 10 + ((len(panels) + 3) // 4) * (ph + 10)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="11">' % (w, h)]
    for i, (key, wl, title) in enumerate(panels):
        x0, y0 = 10 + (i % 4) * (pw + 10), 10 + (i // 4) * (ph + 10)
        out.append('<text x="%d" y="%d">%s</text>' % (x0 + 5, y0 + 14, title))
        meds = [med(values(rows, r, wl, key)) or 0 for r in present]
        top = max(meds) or 1
        bw = (pw - 20) / max(1, len(present))
        for j, (r, m) in enumerate(zip(present, meds)):
            bh = (ph - 60) * m / top
            bx = x0 + 10 + j * bw
            out.append('<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="%s"/>'
                       % (bx, y0 + ph - 30 - bh, bw * 0.8, bh, colors.get(r, "#f4a6a6")))
            out.append('<text x="%.0f" y="%d">%s</text>' % (bx, y0 + ph - 15, r))
            out.append('<text x="%.0f" y="%.0f">%.3g</text>' % (bx, y0 + ph - 34 - bh, m))
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


# ---------------------------------------------------------------- JFR

def jfr_native(json_path, top=15):
    """Top frames of `jdk.NativeMethodSample` on event-loop threads, idle epoll waits excluded: where the loops sit
    in syscalls (JFR does not see kernel time as Java execution samples)."""
    d = json.load(open(json_path))
    c, n, idle = {}, 0, 0
    for e in d["recording"]["events"]:
        v = e["values"]
        th = (v.get("sampledThread") or {}).get("javaName") or ""
        st = v.get("stackTrace")
        if not st or not st["frames"] or "eventloop" not in th:
            continue
        names = [("%s.%s" % (f["method"]["type"]["name"], f["method"]["name"])).replace("/", ".")
                 for f in st["frames"][:3]]
        if "epollWait" in names[0] or "epollBusyWait" in names[0]:
            idle += 1
            continue
        n += 1
        key = " < ".join(names[:2])
        c[key] = c.get(key, 0) + 1
    print("\n## native frames on event-loop threads (%d samples in native, %d more idle in epoll_wait)\n" % (n, idle))
    for k, v in sorted(c.items(), key=lambda x: -x[1])[:top]:
        print("| %s | %d | %.1f%% |" % (k, v, 100.0 * v / max(1, n)))


def jfr_summary(json_path, top=25, native_path=None):
    """Hot methods from `jfr print --json --events jdk.ExecutionSample`: self (top frame) and inclusive, plus a
    coarse split of samples by area."""
    d = json.load(open(json_path))
    events = d["recording"]["events"]
    self_c, incl_c, area_c = {}, {}, {}
    n = 0
    threads = {}
    for e in events:
        th = (e["values"].get("sampledThread") or {}).get("javaName") or "?"
        threads[th] = threads.get(th, 0) + 1
        st = e["values"].get("stackTrace")
        if not st:
            continue
        frames = st["frames"]
        if not frames:
            continue
        n += 1
        names = []
        for fr in frames:
            m = fr["method"]
            names.append(("%s.%s" % (m["type"]["name"], m["name"])).replace("/", "."))
        self_c[names[0]] = self_c.get(names[0], 0) + 1
        for nm in set(names):
            incl_c[nm] = incl_c.get(nm, 0) + 1
        area_c[classify(names)] = area_c.get(classify(names), 0) + 1
    print("Java execution samples: %d; by thread: %s" % (n, ", ".join("%s %d" % kv for kv in
                                                                   sorted(threads.items(), key=lambda x: -x[1]))))
    print("\n## by area (first matching rule over the stack, top frame first)\n")
    for k, v in sorted(area_c.items(), key=lambda x: -x[1]):
        print("| %s | %d | %.1f%% |" % (k, v, 100.0 * v / n))
    print("\n## self (top frame)\n")
    for k, v in sorted(self_c.items(), key=lambda x: -x[1])[:top]:
        print("| %s | %d | %.1f%% |" % (k, v, 100.0 * v / n))
    print("\n## inclusive, dev.ferry and selected vertx/netty/micrometer frames\n")
    for k, v in sorted(incl_c.items(), key=lambda x: -x[1]):
        if any(k.startswith(p) for p in ("dev.ferry", "io.vertx.core.eventbus", "io.vertx.micrometer",
                                          "io.micrometer", "io.vertx.core.net.impl", "io.vertx.core.impl.future",
                                          "io.vertx.core.internal", "io.netty.channel.epoll",
                                          "io.vertx.core.impl.ContextImpl", "io.netty.channel.AbstractChannel",
                                          "io.netty.channel.DefaultChannelPipeline", "io.netty.util.concurrent")):
            if v * 100.0 / n >= 1.0:
                print("| %s | %d | %.1f%% |" % (k, v, 100.0 * v / n))
    if native_path:
        jfr_native(native_path)


def classify(names):
    top = names[0]
    joined = " ".join(names)
    if top.startswith("io.netty.channel.epoll.Native") or "epollWait" in top:
        return "epoll_wait / native poll"
    if "writev" in top or "sendAddress" in top or "writeAddress" in top or "FileDescriptor.write" in top:
        return "socket write syscall"
    if "readAddress" in top or "FileDescriptor.read" in top:
        return "socket read syscall"
    if "io.micrometer" in joined or "io.vertx.micrometer" in joined:
        return "metrics (micrometer / vertx-micrometer)"
    if "io.vertx.core.eventbus" in joined:
        return "event bus"
    if "io.vertx.core.impl.future" in joined or "io.vertx.core.Promise" in joined or "PromiseImpl" in joined:
        return "futures / promises"
    if top.startswith("dev.ferry"):
        return "dev.ferry (self)"
    if top.startswith("io.netty"):
        return "netty (other)"
    if top.startswith("io.vertx"):
        return "vertx (other)"
    return "other (JDK, GC helpers, ...)"


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "cpu-snap": cpu_snap, "cpu-diff": cpu_diff, "others-now": others_now, "rss": rss_kb, "heap": heap_bytes,
        "sink": sink, "idle-client": idle_client, "histo-diff": histo_diff,
        "wrk": lambda p: print(json.dumps(parse_wrk(p))), "iperf": lambda p: print(json.dumps(parse_iperf(p))),
        "report": report, "jfr": lambda a, b=None: jfr_summary(a, 25, b),
    }[cmd](*args)
