#!/usr/bin/env python3
"""stalled-reader.py SECONDS CMD ARGS...: runs CMD with stdout a 4 KiB pipe that nobody reads,
sends SIGINT after SECONDS, and prints "exit <status> after <seconds>" (or "no exit in 10 s"),
then the tail of CMD's stderr. Node cannot shrink a pipe (F_SETPIPE_SZ); Python can."""
import fcntl, os, signal, subprocess, sys, time
F_SETPIPE_SZ = 1031
r, w = os.pipe()
fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
p = subprocess.Popen(sys.argv[2:], stdout=w, stderr=subprocess.PIPE)
os.close(w)
time.sleep(float(sys.argv[1]))
t0 = time.time()
p.send_signal(signal.SIGINT)
try:
    code = p.wait(timeout=10)
    print(f"exit {code} after {time.time()-t0:.3f}")
except subprocess.TimeoutExpired:
    print("no exit in 10 s"); p.kill(); p.wait()
sys.stdout.write(p.stderr.read().decode()[-300:])
