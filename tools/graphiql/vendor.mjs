// Re-creates gateway/http/static/graphiql/vendor/ from the exact versions package-lock.json
// pins: one minified script, one stylesheet and the licence notices of every package
// that ends up in them. Run with `npm ci && npm run vendor` in this folder.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, '../../gateway/http/static/graphiql/vendor');
const LICENCE_FILE = /^(licen[cs]e|copying|notice)(\.|-|$)/i;

/** The package folder (…/node_modules/name or …/node_modules/@scope/name) of a bundled file. */
function packageRoot(input) {
  const marker = 'node_modules/';
  const at = input.lastIndexOf(marker);
  if (at < 0) return null;
  const parts = input.slice(at + marker.length).split('/');
  const depth = parts[0].startsWith('@') ? 2 : 1;
  return input.slice(0, at + marker.length) + parts.slice(0, depth).join('/');
}

function notice(root) {
  const meta = JSON.parse(readFileSync(join(here, root, 'package.json'), 'utf8'));
  const files = readdirSync(join(here, root)).filter((f) => LICENCE_FILE.test(f)).sort();
  const texts = files.map((f) => readFileSync(join(here, root, f), 'utf8').trim());
  const author = typeof meta.author === 'object' ? meta.author?.name : meta.author;
  const repository = typeof meta.repository === 'object' ? meta.repository?.url : meta.repository;
  const declared = [
    `The published package has no licence file; its package.json declares ${meta.license}`,
    `(author: ${author ?? 'not given'}; repository: ${repository ?? 'not given'}).`,
  ].join('\n');
  return {
    title: `${meta.name} ${meta.version} (${meta.license ?? 'licence not declared'})`,
    text: texts.length ? texts.join('\n\n') : declared,
  };
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  absWorkingDir: here,
  entryPoints: ['entry.mjs'],
  outfile: join(out, 'graphiql.js'),
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'GraphiQLBundle',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  banner: { js: '/*! GraphiQL for Mosaic; licences: THIRD_PARTY_NOTICES.txt */' },
  metafile: true,
  logLevel: 'warning',
});

const roots = new Set();
for (const output of Object.values(result.metafile.outputs)) {
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const root = packageRoot(input);
    if (root && bytesInOutput > 0) roots.add(root);
  }
}
const notices = [...roots].map(notice).sort((a, b) => a.title.localeCompare(b.title));
const header = [
  'Third-party software in graphiql.js and graphiql.css, bundled from the npm registry by',
  'tools/graphiql/vendor.mjs (generated; do not edit). Every package and its licence:',
  '',
  ...notices.map((n) => `  ${n.title}`),
];
const bodies = notices.map((n) => `${'='.repeat(78)}\n${n.title}\n${'='.repeat(78)}\n\n${n.text}`);
writeFileSync(join(out, 'THIRD_PARTY_NOTICES.txt'), [header.join('\n'), ...bodies].join('\n\n\n') + '\n');

for (const name of readdirSync(out).sort()) {
  console.log(`${name}\t${readFileSync(join(out, name)).length} bytes`);
}
