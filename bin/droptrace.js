#!/usr/bin/env -S node --max-semi-space-size=4
// A drop storm allocates a few hundred MB/s of short-lived records: a 4 MB young generation
// (V8's grows to 16 MB) keeps the process about 25 MB smaller at the same throughput (bench/).
// It can only be set on node's command line, hence the shebang.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
