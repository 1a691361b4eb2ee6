// Validate XRPC answers (and request bodies) against lexicons with the reference validator, @atproto/lexicon from
// the testnet's Node install — what a real @atproto/xrpc client holding those lexicons checks. Used by
// tests/conformance/test_answers.py.
//
// argv[2]: a JSON file {"lexiconDir": "/path", "checks": [{"nsid": id, "kind": "output" | "input", "value": {...}}]}
// stdout:  {"lexicons": n, "unloadable": [{"file", "error"}], "failures": [{"index": i, "error": "message"}]}
// Values are the JSON the server sent; they go through jsonToLex first, as the xrpc client's body parser does.
// Exit 1 (message on stderr) when the input or a lexicon file cannot be read.
//
// TESTNET_NODE_MODULES: the directory holding node_modules (the testnet install).

import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { addLexicons } from '../interop/testnet/lexicon_files.mjs';

const require = createRequire(path.join(path.resolve(process.env.TESTNET_NODE_MODULES || '.'), 'package.json'));
const { Lexicons, jsonToLex } = await import(pathToFileURL(require.resolve('@atproto/lexicon')).href);

const input = JSON.parse(await fs.readFile(process.argv[2], 'utf8'));
const lexicons = new Lexicons();
const { loaded, unloadable } = await addLexicons(lexicons, input.lexiconDir);

const assert = { output: 'assertValidXrpcOutput', input: 'assertValidXrpcInput' };
const failures = [];
input.checks.forEach(({ nsid, kind, value }, index) => {
  try {
    if (!(kind in assert)) throw new Error(`unknown check kind ${kind}`);
    lexicons[assert[kind]](nsid, jsonToLex(value));
  } catch (err) {
    failures.push({ index, error: String(err?.message ?? err) });
  }
});
process.stdout.write(`${JSON.stringify({ lexicons: loaded, unloadable, failures })}\n`);
