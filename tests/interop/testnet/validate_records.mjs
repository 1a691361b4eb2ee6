// Validate records against lexicons with the reference validator (@atproto/lexicon, from the pinned
// dev-env install). Used by testnet/harness.py:validate_records.
//
// stdin:  {"lexiconDir": "/path/to/lexicons", "records": [{"collection": nsid, "record": {...}}, ...]}
// stdout: {"results": [{"ok": true} | {"ok": false, "error": "message"}, ...]}  (same order)
// Records are in the JSON form (blob refs as {"$type": "blob", "ref": {"$link": cid}, ...}); they are
// converted with jsonToLex first, as a PDS would. Exit 1 (message on stderr) if the input or a lexicon
// file cannot be read.
//
// TESTNET_NODE_MODULES: directory holding node_modules (the install dir), default: this directory.

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { addLexicons } from './lexicon_files.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modulesRoot = path.resolve(process.env.TESTNET_NODE_MODULES || here);
const require = createRequire(path.join(modulesRoot, 'package.json'));
const { Lexicons, jsonToLex } = await import(pathToFileURL(require.resolve('@atproto/lexicon')).href);

const readStdin = async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};

const input = JSON.parse(await readStdin());
const lexicons = new Lexicons();
const { unloadable } = await addLexicons(lexicons, input.lexiconDir);
for (const { file, error } of unloadable) process.stderr.write(`skipping lexicon ${file}: ${error}\n`);

const results = input.records.map(({ collection, record }) => {
  try {
    lexicons.assertValidRecord(collection, jsonToLex(record));
    return { ok: true };
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err) };
  }
});
process.stdout.write(`${JSON.stringify({ results })}\n`);
