#!/usr/bin/env python3
"""Time from starting a mango binary to its first tools/list answer over stdio.

    scripts/startup-time.py <binary> [runs]   (MANGO_SETTINGS names the project's Mango.toml)

Prints the median and the fastest of `runs` starts (default 30), in milliseconds."""
import json, subprocess, sys, time

def once(binary):
    started = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--transport", "stdio"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    def send(msg):
        p.stdin.write(json.dumps(msg) + "\n"); p.stdin.flush()
    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "startup-time", "version": "1"}}})
    p.stdout.readline()
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    line = p.stdout.readline()
    took = time.perf_counter() - started
    assert '"tools"' in line, line
    p.stdin.close(); p.wait(10)
    return took * 1000

binary = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
times = sorted(once(binary) for _ in range(runs))
print(f"{binary}: median {times[len(times)//2]:.1f} ms, fastest {times[0]:.1f} ms over {runs} starts")
