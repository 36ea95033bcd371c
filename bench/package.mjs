// What a user downloads and runs: the npm tarball's size, and the start-up of the installed
// package against this checkout's, in one run (bench/startup.mjs --installed).
//
//   node bench/package.mjs [--runs 10]
//
// Packs this checkout (the prepack script builds dist/, the BPF object and the prebuilt addon),
// installs the tarball offline into a scratch prefix, times both, and removes the scratch files.
// The image's size is measured where the image is built (test/e2e/docker/image.test.ts prints it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDir, fmt, markdownTable, repoDir, scratchDir } from './lib.mjs';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const scratch = mkdtempSync(join(scratchDir, 'dtbench-pkg-'));
try {
  const stdout = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: repoDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  // the prepack scripts print first; npm's JSON report is the last thing on stdout
  const [pkg] = JSON.parse(stdout.slice(stdout.lastIndexOf('\n[\n') + 1));
  const prefix = join(scratch, 'prefix');
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, join(scratch, pkg.filename)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const addon = pkg.files.find((f) => f.path.endsWith('.napi.node'));
  console.log('\n### Package\n');
  console.log(
    markdownTable(
      ['what', 'size'],
      [
        ['tarball (gzip)', `${fmt(pkg.size / 1024, 0)} KiB`],
        ['unpacked', `${fmt(pkg.unpackedSize / 1024, 0)} KiB in ${pkg.entryCount} files`],
        ['prebuilt addon', `${fmt((addon?.size ?? 0) / 1024, 0)} KiB`],
      ],
    ),
  );
  execFileSync(
    process.execPath,
    [join(benchDir, 'startup.mjs'), '--runs', opt.runs, '--idle', '1', '--installed', join(prefix, 'node_modules', '.bin', 'droptrace')],
    { stdio: 'inherit' },
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
