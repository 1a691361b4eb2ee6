// A reference ATProto network for chive-admin's interop tests: one PLC directory and two PDSes
// (both registered in that PLC), from the pinned npm package @atproto/dev-env.
//
// Protocol (what testnet/harness.py relies on):
//   * stdout carries exactly ONE line, a JSON object, printed once everything listens:
//       {"plc": url, "pds": url, "pds2": url, "pdsDid": did, "pds2Did": did, "adminPassword": str,
//        "handleDomain": ".test", "dataDir": path, "pid": int, "node": version, "devEnv": version}
//     Nothing else is ever written to stdout (console.log/info/debug are sent to stderr).
//   * all logs go to stderr. dev-env's own logging stays off unless LOG_ENABLED=true (then it is
//     sent to stderr as well, never stdout).
//   * it runs until stdin closes (EOF), or SIGTERM / SIGINT / SIGHUP arrives; then it closes both PDSes
//     and the PLC, removes its data directory (unless it was given one) and exits 0 (1 if closing failed).
//     With TESTNET_IGNORE_STDIN=1 it ignores stdin (for `node testnet.mjs < /dev/null &`).
//   * a start-up failure prints the error on stderr and exits 1 without printing the JSON line.
//
// Environment:
//   TESTNET_NODE_MODULES  directory holding node_modules/@atproto/dev-env (the install dir printed by
//                         scripts/install-testnet.sh); default: this script's directory.
//   TESTNET_DATA_DIR      where both PDSes keep their SQLite files and blobs; default: a fresh temp dir,
//                         removed on exit. If given, the caller owns (and removes) it.
//   TESTNET_PLC_PORT, TESTNET_PDS_PORT, TESTNET_PDS2_PORT  fixed ports (default: free ports).
//   TESTNET_PDS_BACKFILL_LIMIT_MS  how far back the first PDS's subscribeRepos replays (default: a day).
//   TESTNET_HOST          address every server binds to (default 127.0.0.1; loopback only, please).
//   TESTNET_CLOSE_TIMEOUT_MS  give up closing after this long and exit 1 (default 20000).
//   LOG_ENABLED, LOG_LEVEL, LOG_SYSTEMS  dev-env/PDS logging (pino), sent to stderr. pino reopens
//                         /dev/stderr, so if stderr is a file, open it in append mode (`2>>log`).
//
// Every server listens on loopback only: dev-env's servers call listen(port), which would bind all
// interfaces, so listen() is wrapped below to add TESTNET_HOST. Their URLs are http://localhost:<port>.

import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import netModule from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const log = (...args) => console.error('[testnet]', ...args);

// Keep stdout for the one JSON line: anything a library prints with console.log goes to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

// Must be set before @atproto/common's logger module is loaded (it reads env at import time).
if (/^(true|t|1)$/i.test(process.env.LOG_ENABLED ?? '') && !process.env.LOG_DESTINATION) {
  process.env.LOG_DESTINATION = '/dev/stderr';
}
process.env.DOTENV_CONFIG_QUIET ??= 'true';

// Bind every server this process starts to loopback (dev-env's PLC/PDS call `listen(port)` with no host).
const bindHost = process.env.TESTNET_HOST || '127.0.0.1';
const originalListen = netModule.Server.prototype.listen;
netModule.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args;
  if (first === undefined || first === null || typeof first === 'function') {
    args.splice(0, first == null ? 1 : 0, 0, bindHost); // listen() / listen(cb): any port, loopback
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, bindHost);
  } else if (first && typeof first === 'object' && first.path === undefined && first.host === undefined) {
    args[0] = { ...first, host: bindHost };
  }
  return originalListen.apply(this, args);
};

const here = path.dirname(fileURLToPath(import.meta.url));
const modulesRoot = path.resolve(process.env.TESTNET_NODE_MODULES || here);
const closeTimeoutMs = Number(process.env.TESTNET_CLOSE_TIMEOUT_MS || 20000);

// Only keys that are set: dev-env spreads these configs over its own defaults, so an explicit
// `port: undefined` would silently replace the port it picked.
const definedOnly = (obj) => Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));

const portFromEnv = (name) => {
  const raw = process.env[name];
  if (!raw) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`${name}=${raw} is not a TCP port`);
  }
  return port;
};

const millisFromEnv = (name) => {
  const raw = process.env[name];
  if (!raw) return undefined;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`${name}=${raw} is not a positive number of milliseconds`);
  return ms;
};

const loadDevEnv = async () => {
  const require = createRequire(path.join(modulesRoot, 'package.json'));
  let entry;
  try {
    entry = require.resolve('@atproto/dev-env');
  } catch (err) {
    throw new Error(
      `cannot find @atproto/dev-env under ${modulesRoot} (set TESTNET_NODE_MODULES to the directory ` +
        `printed by scripts/install-testnet.sh): ${err.message}`,
    );
  }
  const pkgJson = JSON.parse(
    await fs.readFile(path.join(path.dirname(entry), '..', 'package.json'), 'utf8'),
  );
  const devEnv = await import(pathToFileURL(entry).href);
  // dev-env's port reservation helper (not re-exported from its index; the version is pinned).
  const { default: getPort } = await import(pathToFileURL(path.join(path.dirname(entry), 'get-port.js')).href);
  return { devEnv, getPort, version: pkgJson.version };
};

// Explicit data/blob locations (dev-env's TestPds would otherwise scatter random dirs in os.tmpdir()).
const pdsStorage = async (dataDir, name) => {
  const root = path.join(dataDir, name);
  await fs.mkdir(path.join(root, 'data'), { recursive: true });
  await fs.mkdir(path.join(root, 'blobs'), { recursive: true });
  return {
    dataDirectory: path.join(root, 'data'),
    blobstoreDiskLocation: path.join(root, 'blobs'),
  };
};

let net; // TestNetworkNoAppView
let pds2; // second TestPds on the same PLC
let dataDir;
let ownsDataDir = false;
let closing;

const closeAll = async () => {
  const errors = [];
  if (pds2) {
    try {
      await pds2.close();
    } catch (err) {
      errors.push(err);
    }
  }
  if (net) {
    try {
      await net.close(); // first PDS, then PLC
    } catch (err) {
      errors.push(err);
    }
  }
  if (ownsDataDir && dataDir) {
    try {
      await fs.rm(dataDir, { recursive: true, force: true });
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
};

const shutdown = (reason) => {
  if (closing) return closing;
  log(`shutting down (${reason})`);
  const timer = setTimeout(() => {
    log(`close did not finish within ${closeTimeoutMs} ms; exiting 1`);
    process.exit(1);
  }, closeTimeoutMs);
  timer.unref();
  closing = closeAll().then(
    (errors) => {
      for (const err of errors) log('error while closing:', err);
      log(errors.length ? 'closed with errors' : 'closed');
      process.exit(errors.length ? 1 : 0);
    },
    (err) => {
      log('error while closing:', err);
      process.exit(1);
    },
  );
  return closing;
};

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => shutdown(sig));
}
process.on('unhandledRejection', (err) => {
  log('unhandled rejection:', err);
});

const main = async () => {
  const started = Date.now();
  const { devEnv, getPort, version } = await loadDevEnv();
  const { TestNetworkNoAppView, TestPds, mockNetworkUtilities, ADMIN_PASSWORD } = devEnv;

  if (process.env.TESTNET_DATA_DIR) {
    dataDir = path.resolve(process.env.TESTNET_DATA_DIR);
    await fs.mkdir(dataDir, { recursive: true });
  } else {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'chive-testnet-'));
    ownsDataDir = true;
  }

  net = await TestNetworkNoAppView.create({
    plc: definedOnly({ port: portFromEnv('TESTNET_PLC_PORT') }),
    pds: definedOnly({
      port: portFromEnv('TESTNET_PDS_PORT'),
      // how far back subscribeRepos replays (a day by default): a short window makes an old cursor outdated
      repoBackfillLimitMs: millisFromEnv('TESTNET_PDS_BACKFILL_LIMIT_MS'),
      ...(await pdsStorage(dataDir, 'pds')),
    }),
  });
  if (closing) return;

  // The second PDS: same PLC, its own port, keys, data and blobs, and its own service DID
  // (dev-env would give both PDSes did:web:localhost), so the two can be told apart.
  const pds2Port = portFromEnv('TESTNET_PDS2_PORT') ?? (await getPort());
  pds2 = await TestPds.create({
    didPlcUrl: net.plc.url,
    port: pds2Port,
    serviceDid: `did:web:localhost%3A${pds2Port}`,
    ...(await pdsStorage(dataDir, 'pds2')),
  });
  if (closing) return;
  mockNetworkUtilities(pds2);

  const info = {
    plc: net.plc.url,
    pds: net.pds.url,
    pds2: pds2.url,
    pdsDid: net.pds.ctx.cfg.service.did,
    pds2Did: pds2.ctx.cfg.service.did,
    adminPassword: ADMIN_PASSWORD,
    handleDomain: net.pds.ctx.cfg.identity.serviceHandleDomains[0],
    dataDir,
    pid: process.pid,
    node: process.version,
    devEnv: version,
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  log(`ready in ${((Date.now() - started) / 1000).toFixed(2)} s: plc ${info.plc} pds ${info.pds} pds2 ${info.pds2}`);

  if (!/^(true|t|1)$/i.test(process.env.TESTNET_IGNORE_STDIN ?? '')) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume(); // data is read and discarded
  }
};

main().catch(async (err) => {
  log('failed to start:', err);
  const errors = await closeAll().catch((e) => [e]);
  for (const e of errors) log('error while closing after failed start:', e);
  process.exit(1);
});
