#!/usr/bin/env python3
"""Helpers for bench/syscalls.sh: the client that makes N short request/response connections, and the side-by-side
table of two `strace -c -f` summaries. Standard library only.

  syscalls.py client PORT N BYTES CONCURRENCY      -> one JSON line: ok, failed, seconds, first error
  syscalls.py table N NAME=LOADED[,IDLE] ...       -> markdown: calls per connection, side by side
  syscalls.py threads N NAME=TRACE,THREADS[,IDLE_TRACE,IDLE_THREADS] ...
                                                   -> markdown: calls per connection by thread (strace -C output)
"""
import json
import re
import socket
import sys
import threading
import time


# ---------------------------------------------------------------- client

def one_connection(port, path, size):
    """Connects, sends one HTTP/1.1 request with Connection: close, reads to EOF, closes. True if the answer is a
    200 with exactly `size` body bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /" + path + b" HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, body = bytes(data).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or not sep or len(body) != size:
        raise ValueError("bad answer: %r... (%d body bytes)" % (head[:40], len(body)))


def client(port, n, size, concurrency=1):
    """n connections in all, `concurrency` at a time (1: one after the other), each a whole request/response."""
    port, n, size, concurrency = int(port), int(n), int(size), max(1, int(concurrency))
    path = str(size).encode()
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "failed": 0, "error": None}

    def worker():
        while True:
            with lock:
                if state["next"] >= n:
                    return
                state["next"] += 1
            try:
                one_connection(port, path, size)
                with lock:
                    state["ok"] += 1
            except (OSError, ValueError) as e:
                with lock:
                    state["failed"] += 1
                    state["error"] = state["error"] or str(e)

    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"ok": state["ok"], "failed": state["failed"], "seconds": round(time.time() - t0, 3),
                      "first_error": state["error"]}))


# ---------------------------------------------------------------- strace -c tables

def parse_strace_c(path):
    """syscall -> (calls, errors) from `strace -c` output, read by the column spans of its dashed rule (strace
    leaves cells empty, e.g. errors, so splitting on blanks would misplace them). The total row is kept as 'total'."""
    lines = open(path).read().splitlines()
    header = next((i for i, l in enumerate(lines) if l.lstrip().startswith("% time")), None)
    if header is None or header + 1 >= len(lines):
        raise ValueError("%s: no strace -c table" % path)
    rule = lines[header + 1]
    spans, i = [], 0
    while i < len(rule):
        if rule[i] == "-":
            j = i
            while j < len(rule) and rule[j] == "-":
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    names = [lines[header][a:b].strip() if k < len(spans) - 1 else lines[header][a:].strip()
             for k, (a, b) in enumerate(spans)]
    col = {name: k for k, name in enumerate(names)}
    out = {}
    for line in lines[header + 2:]:
        if not line.strip() or line.startswith("---"):
            continue
        cells = [line[a:b].strip() for a, b in spans[:-1]] + [line[spans[-1][0]:].strip()]
        name = cells[col["syscall"]]
        calls = int(cells[col["calls"]] or 0)
        errors = int(cells[col["errors"]] or 0) if "errors" in col else 0
        out[name] = (calls, errors)
    return out


def table(n, *specs):
    """Markdown: per syscall, calls per connection (and errors) for each proxy, side by side; then the totals of an
    idle window of the same length, where given, as the background the loaded figures include."""
    n = float(n)
    names, loaded, idle = [], {}, {}
    for spec in specs:
        name, _, files = spec.partition("=")
        paths = files.split(",")
        names.append(name)
        loaded[name] = parse_strace_c(paths[0])
        if len(paths) > 1 and paths[1]:
            idle[name] = parse_strace_c(paths[1])
    calls = sorted({c for name in names for c in loaded[name] if c != "total"},
                   key=lambda c: -max(loaded[name].get(c, (0, 0))[0] for name in names))
    print("| syscall | " + " | ".join("%s calls/conn | %s errors/conn" % (x, x) for x in names) + " |")
    print("|---|" + "---|---|" * len(names))
    for c in calls + ["total"]:
        cells = []
        for name in names:
            k, e = loaded[name].get(c, (0, 0))
            cells += ["%.2f" % (k / n) if k else "–", "%.2f" % (e / n) if e else "–"]
        label = "**total**" if c == "total" else "`%s`" % c
        print("| %s | %s |" % (label, " | ".join(cells)))
    if idle:
        print()
        print("Background: the same process, strace attached for an equal window with no connection:")
        print()
        for name in names:
            if name in idle:
                top = sorted(((k, c) for c, (k, _e) in idle[name].items() if c != "total"), reverse=True)[:4]
                print("- %s: %d calls in all (%.2f per connection of the loaded window); most: %s" % (
                    name, idle[name].get("total", (0, 0))[0], idle[name].get("total", (0, 0))[0] / n,
                    ", ".join("`%s` %d" % (c, k) for k, c in top) or "none"))


# ---------------------------------------------------------------- by thread

CALL = re.compile(r"^(\d+)\s+([a-z_][a-z0-9_]*)\(")


def calls_by_thread(trace_path, threads_path):
    """Thread name (digits folded to #) -> calls, from the call lines of `strace -f -C -o` output (a call split by
    another thread's line counts once: its '<... resumed>' half does not match) and a 'tid comm' list taken while
    the threads still ran."""
    names = {}
    for line in open(threads_path):
        tid, _, comm = line.strip().partition(" ")
        names[tid] = re.sub(r"\d+", "#", comm.strip()) or "?"
    out = {}
    for line in open(trace_path):
        m = CALL.match(line)
        if m:
            name = names.get(m.group(1), "(a thread that has ended)")
            out[name] = out.get(name, 0) + 1
    return out


def threads(n, *specs):
    """Markdown: for each proxy, its calls per connection by thread, and the same threads' calls in the idle
    window: which threads make the calls the connections cost, and which would have made them anyway."""
    n = float(n)
    for spec in specs:
        name, _, files = spec.partition("=")
        paths = files.split(",")
        loaded = calls_by_thread(paths[0], paths[1])
        idle = calls_by_thread(paths[2], paths[3]) if len(paths) > 3 else {}
        print()
        print("%s, calls by thread (names as the kernel keeps them, at most 15 characters):" % name)
        print()
        print("| thread | calls/conn | calls in the idle window |")
        print("|---|---|---|")
        for t in sorted(set(loaded) | set(idle), key=lambda t: -loaded.get(t, 0)):
            print("| %s | %s | %s |" % (t, "%.2f" % (loaded[t] / n) if loaded.get(t) else "–", idle.get(t, "–")))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"client": client, "table": table, "threads": threads}[cmd](*args)
