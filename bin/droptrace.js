#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=4 --no-allocation-site-pretenuring
// A drop storm allocates a few hundred MB/s of short-lived records: a 4 MB young generation
// (V8's grows to 16 MB) keeps the process about 25 MB smaller at the same throughput (bench/).
// Records alive at a collection (the batch being handled) make V8 allocate every later record
// from that site straight in the old generation ("pretenuring"): the storm's whole stream then
// went through major collections, at ~20 % more CPU per event and ~20 MB more RSS here (bench/).
// Both can only be set on node's command line, hence the shebang. droptrace makes no TLS
// connection, and Node 20 parses NODE_EXTRA_CA_CERTS' bundle before the first line runs
// (tens of ms of start-up where it is set): unset for it. glibc: the ring pump's 64 KiB batches
// are made on its thread and freed on the main one; with the mmap threshold fixed at 64 KiB they
// go back to the kernel when freed instead of fragmenting per-thread arenas (a 60 s storm's peak
// RSS ~17 MB lower here, bench/). musl ignores both.
// The CLI, bundled into one file (src/cli/bin.ts says why).
import '../dist/bin/droptrace.mjs';
