// Preloaded by bench/profile.mjs (node --import): starts V8's CPU profiler only once droptrace is
// attached. `node --cpu-prof` cannot be used: its SIGPROF ticks interrupt the BPF verifier, whose
// load then fails with EAGAIN. Writes the profile to $DTPROF_OUT when the process exits.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: Number(process.env.DTPROF_INTERVAL_US ?? 200) });
const timer = setTimeout(() => session.post('Profiler.start'), Number(process.env.DTPROF_DELAY_MS ?? 1500));
timer.unref();
process.on('exit', () => {
  // on the main thread's own session the callback runs before post() returns
  session.post('Profiler.stop', (err, result) => {
    if (!err) writeFileSync(process.env.DTPROF_OUT, JSON.stringify(result.profile));
  });
});
