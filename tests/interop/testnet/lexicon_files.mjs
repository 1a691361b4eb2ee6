// Loading a tree of lexicon JSON files into an @atproto/lexicon Lexicons, for the validator scripts
// (validate_records.mjs here, tests/conformance/validate_answers.mjs).

import fs from 'node:fs/promises';
import path from 'node:path';

// Every *.json file under dir, sorted.
export const lexiconFiles = async (dir) => {
  const out = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await lexiconFiles(p)));
    else if (entry.name.endsWith('.json')) out.push(p);
  }
  return out.sort();
};

// Add every lexicon document under dir to lexicons (other JSON, such as manifest.json, is passed over).
// Returns how many were added and the ones the Lexicons refused: [{file, error}], file relative to dir.
export const addLexicons = async (lexicons, dir) => {
  let loaded = 0;
  const unloadable = [];
  for (const file of await lexiconFiles(dir)) {
    const doc = JSON.parse(await fs.readFile(file, 'utf8'));
    if (doc?.lexicon !== 1 || typeof doc.id !== 'string') continue;
    try {
      lexicons.add(doc);
      loaded += 1;
    } catch (err) {
      unloadable.push({ file: path.relative(dir, file), error: String(err?.message ?? err) });
    }
  }
  return { loaded, unloadable };
};
