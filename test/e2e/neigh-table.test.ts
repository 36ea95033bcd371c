/**
 * Neighbour table full: the hint names the table, how many entries it held and its limit. The limit
 * (gc_thresh3) is one per table for the whole host, so the test lowers it for well under a second,
 * and puts it back whatever happens. At the limit each creation first makes forced GC evict one
 * unused entry older than 5 s (net/core/neighbour.c, neigh_forced_gc); the test's sends to fresh
 * addresses use those up (evicted entries are resolved again on next use), after which the table
 * holds only fresh entries and creation fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DroptraceRun } from '../helpers/droptrace-cli.js';
import { SKIP_KERNEL } from '../helpers/kernel-env.js';
import { sample } from '../helpers/samples.js';
import { Lab } from './lab/netns.js';
import { sleep, traffic } from './lab/traffic.js';

const esc = (s: string) => s.replace(/\./g, '\\.');
const THRESH3 = '/proc/sys/net/ipv4/neigh/default/gc_thresh3';
const OWN_ENTRIES = 4;

const labs: Lab[] = [];
const runs: DroptraceRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) r.kill();
  for (const l of labs.splice(0)) await l.destroy();
});

/** /proc/net/stat/arp_cache: the host's table_fulls (hex columns, same value on every CPU line's sum). */
function tableFulls(): number {
  const [head, ...rows] = readFileSync('/proc/net/stat/arp_cache', 'utf8').trim().split('\n');
  const col = head.trim().split(/\s+/).indexOf('table_fulls');
  return rows.reduce((n, r) => n + Number.parseInt(r.trim().split(/\s+/)[col], 16), 0);
}

describe.skipIf(SKIP_KERNEL)('neighbour table full', () => {
  // tp_btf reads the table's limit in the kernel; the classic tracepoint has only its entries, and
  // the limit is read from the sysctl when the drop is explained
  it.each(['tp_btf', 'tracepoint'])('%s: names the table, its entries and gc_thresh3, and the sysctl is restored', async (attach) => {
    const lab = await Lab.create('dtau');
    labs.push(lab);
    const [o1, o2, o3] = lab.a.ipv4.split('.');
    for (let i = 0; i < OWN_ENTRIES; i++) {
      await lab.ip('a', [
        'neigh',
        'add',
        `${o1}.${o2}.${o3}.${100 + i}`,
        'lladdr',
        `02:00:00:00:00:0${i}`,
        'dev',
        lab.a.ifname,
        'nud',
        'stale',
      ]);
    }
    const run = await DroptraceRun.start(['--json', '--all', '--attach', attach, '--netns', lab.a.ns]);
    runs.push(run);
    const unknown = `${o1}.${o2}.${o3}.120`;
    const old = readFileSync(THRESH3, 'utf8').trim();
    const fullsBefore = tableFulls();
    let sent: { sport: number };
    try {
      writeFileSync(THRESH3, String(OWN_ENTRIES));
      sent = (await traffic(lab, 'a', ['udp-send', '--dst', unknown, '--spread', '100', '--dport', '9', '--count', '100'])) as {
        sport: number;
      };
      // the drops are explained within tens of ms of arriving: the limit they are given is this one
      await sleep(300);
    } finally {
      writeFileSync(THRESH3, old);
    }
    expect(readFileSync(THRESH3, 'utf8').trim()).toBe(old);
    const fulls = tableFulls() - fullsBefore;
    await sleep(200);
    expect(await run.stop()).toBe(0);
    const drops = run.drops().filter((d) => d.reason === 'NEIGH_CREATEFAIL' && d.netns === lab.a.inode && d.sport === sent.sport);
    expect(drops.length).toBeGreaterThan(0);
    expect(fulls).toBeGreaterThanOrEqual(drops.length);
    for (const d of drops) {
      expect(d.evidence.gc_thresh3).toBe(OWN_ENTRIES);
      expect(d.evidence.neigh_entries).toBeGreaterThanOrEqual(OWN_ENTRIES);
      expect(d.hint).toMatch(
        new RegExp(
          `^neighbour table arp_cache full \\(${d.evidence.neigh_entries}/${OWN_ENTRIES} entries\\): no entry for ${esc(d.daddr ?? '')}; raise net\\.ipv4\\.neigh\\.default\\.gc_thresh3`,
        ),
      );
    }
    sample(
      `neighbour table full (${attach})`,
      `table_fulls +${fulls}, events ${drops.length}: ${drops[0].layer}/${drops[0].component}: ${drops[0].hint}  evidence=${JSON.stringify(drops[0].evidence)}`,
    );
  });
});
