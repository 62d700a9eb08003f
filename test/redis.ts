// A real redis-server for the queue tests and the queue bench: a free local port, a throwaway folder.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { tempDir } from './temp.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 100 ms until it gives a truthy value, or fails after `seconds`. */
export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, seconds = 90): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export interface RedisServer {
  url: string;
  server: ChildProcess;
  stop(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 (openssl), for a TLS Redis: clients trust it through NODE_EXTRA_CA_CERTS. */
export function selfSignedCertificate(): { cert: string; key: string } {
  const dir = tempDir('seq-tag-tls-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const args = [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ];
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openssl failed (apt-get install openssl): ${run.error?.message ?? run.stderr}`);
  return { cert, key };
}

/**
 * Starts `redis-server` (Debian package redis-server; .ci/run installs it) and waits until it answers
 * PING. With `tls`, it listens with TLS only (rediss://); with `password`, it requires it.
 */
export async function startRedis(options: { tls?: { cert: string; key: string }; password?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir('seq-tag-redis-');
  const { tls, password } = options;
  const listen = tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        tls.cert,
        '--tls-key-file',
        tls.key,
        '--tls-ca-cert-file',
        tls.cert,
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)];
  const auth = password ? ['--requirepass', password] : [];
  const server = spawn('redis-server', [...listen, ...auth, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  server.on('error', (err) => {
    throw new Error(`cannot start redis-server (apt-get install redis-server): ${err.message}`);
  });
  const url = `${tls ? 'rediss' : 'redis'}://${password ? `:${password}@` : ''}127.0.0.1:${port}/0`;
  await until('redis-server to answer', async () => {
    const probe = new Redis(url, {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      tls: tls ? { ca: readFileSync(tls.cert) } : undefined,
    });
    probe.on('error', () => {});
    const answer = await probe
      .connect()
      .then(() => probe.ping())
      .catch(() => undefined);
    probe.disconnect();
    return answer === 'PONG';
  });
  return {
    url,
    server,
    stop: async () => {
      if (server.exitCode !== null || server.signalCode !== null) return;
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGKILL');
      await exited;
    },
  };
}
