// The bin's bundle, dist/bin/droptrace.mjs: src/cli/bin.ts and everything it imports (see that
// file for why). Run by `npm run build:ts` after tsc; the unbundled dist/ stays for the library
// (dist/index.js) and the tests.
//
// Split at each dynamic import(): the entry is only what starts the BPF load (src/cli/warm.ts),
// so that the load starts before the rest of the CLI is even parsed; the CLI is a chunk of its own,
// and so is `serve` with prom-client. In one file, the lazy imports would be hoisted into the
// entry's static ones (prom-client at every start) and all of it parsed before the load starts.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = 'dist/bin';
// chunks are named by their hash: the last build's must not linger beside this one's
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { droptrace: 'src/cli/bin.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Loaded lazily by the verbs that need them, and large: bundled in, they would be parsed at every
  // start. They ship in the package's own node_modules (bundleDependencies).
  external: ['@grpc/grpc-js', '@grpc/proto-loader', 'prom-client'],
  // commander is CommonJS and requires Node's built-ins: an ES module has no `require` of its own
  banner: { js: "import { createRequire as __droptraceRequire } from 'node:module';\nconst require = __droptraceRequire(import.meta.url);" },
  // readable stack traces and `node --cpu-prof` profiles; the file is parsed lazily all the same
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
