// producer.js - a Node.js producer (standard library only): each line of
// stdin becomes one message in QUEUE, sent through shmqd's HTTP API on its
// Unix socket over one keep-alive connection. shmqd waits up to 5 s for room
// (?timeout=5000); a queue still full (429/503) is retried after the
// server's Retry-After; any other answer stops with its error.
// Usage: node producer.js SOCKET QUEUE < lines
'use strict';
const http = require('http');
const readline = require('readline');

const [socketPath, queue] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, agent, method: 'POST',
      path: `/v1/queues/${encodeURIComponent(queue)}/messages?timeout=5000` }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'], text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function send(line) {
  for (;;) {
    const r = await post(line);
    if (r.status === 201) return;
    if (r.status !== 429 && r.status !== 503) throw new Error(`HTTP ${r.status}: ${r.text}`);
    await new Promise((ok) => setTimeout(ok, 1000 * Number(r.retryAfter || 1)));
  }
}

async function main() {
  let sent = 0;
  for await (const line of readline.createInterface({ input: process.stdin })) {
    await send(line);
    sent += 1;
  }
  agent.destroy();
  console.error(`producer: ${sent} message(s) sent`);
}

main().catch((e) => { console.error(`producer: ${e.message}`); process.exit(1); });
