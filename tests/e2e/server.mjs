// Starts a fresh keyflow server for the browser tests: a free loopback port, a new data
// directory, a random administrator password. Resolves once it prints where it listens.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const STARTUP_MS = 30_000;

export async function startServer() {
  const binary = process.env.KEYFLOW_BIN ?? resolve(import.meta.dirname, '../../target/debug/keyflow');
  const dataDir = mkdtempSync(join(tmpdir(), 'keyflow-e2e-'));
  const password = randomBytes(12).toString('hex');
  const env = { ...process.env, KEYFLOW_ADMIN_PASSWORD: password };
  // Settings of the caller's environment that would change what the tests expect.
  for (const name of ['KEYFLOW_ADMIN_EMAIL', 'KEYFLOW_KEY_REVEAL', 'KEYFLOW_LISTEN', 'KEYFLOW_DATA_DIR', 'KEYFLOW_SECURE_COOKIES']) {
    delete env[name];
  }
  const child = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = [];
  child.stderr.on('data', (chunk) => output.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  let tenantId = null;
  const base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(() => reject(new Error(`keyflow did not start within ${STARTUP_MS} ms:\n${output.join('')}`)), STARTUP_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`keyflow exited with ${code} before listening:\n${output.join('')}`));
    });
    lines.on('line', (line) => {
      output.push(line + '\n');
      const tenant = line.match(/created the tenant Example \(([0-9a-f-]{36})\)/);
      if (tenant) {
        tenantId = tenant[1];
      }
      const listening = line.match(/listening on (http:\/\/\S+)/);
      if (listening) {
        clearTimeout(timer);
        resolveBase(listening[1]);
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    base,
    email: 'admin@example.com',
    password,
    tenantId,
    log: () => output.join(''),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
