#!/usr/bin/env node
// BullMQ side of benches/peers/run.sh: the same three measurements as
// crates/dispatch/examples/redis_bench.rs, on the same Redis (database 15 by default).
//
//   node bullmq.js queue   --jobs 100000 --concurrency 32   add -> process -> complete, jobs/s
//   node bullmq.js delayed --jobs 100000 --window-s 10       delayed jobs: processed - due (ms)
//   node bullmq.js memory  --n 100000                       Redis bytes per waiting / delayed job
//
// With --cluster host:port,host:port,... it runs on a Redis Cluster instead (ioredis' Cluster
// client, and a hash-tagged prefix, as BullMQ requires there); memory is summed over the
// primaries.
//
// Prints key=value lines (prefixed bullmq_) for run.sh to read.
'use strict';

const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');
const { randomUUID } = require('crypto');

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const clusterNodes = flag('cluster', '')
  .split(',')
  .filter((n) => n)
  .map((n) => {
    const [host, port] = n.split(':');
    return { host, port: Number(port) };
  });
const connection =
  clusterNodes.length > 0
    ? new IORedis.Cluster(clusterNodes, { redisOptions: { maxRetriesPerRequest: null } })
    : {
        host: flag('host', '127.0.0.1'),
        port: Number(flag('port', 6379)),
        db: Number(flag('db', 15)),
        maxRetriesPerRequest: null,
      };
// On a Cluster every key of a queue must share a slot: BullMQ's documented way is a prefix
// in braces.
const prefix = clusterNodes.length > 0 ? `{${flag('prefix', 'bullbench')}}` : flag('prefix', 'bullbench');

async function usedMemory() {
  const read = async (client) => Number(/used_memory:(\d+)/.exec(await client.info('memory'))[1]);
  if (clusterNodes.length > 0) {
    await connection.ping();
    const sizes = await Promise.all(connection.nodes('master').map(read));
    return sizes.reduce((a, b) => a + b, 0);
  }
  const client = new IORedis(connection);
  const used = await read(client);
  await client.quit();
  return used;
}

// Runs `task(i)` for i in [0, n) with at most `width` in flight.
async function pool(n, width, task) {
  let next = 0;
  const lanes = Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++;
      await task(i);
    }
  });
  await Promise.all(lanes);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))];
}

async function queueThroughput() {
  const jobs = Number(flag('jobs', 100000));
  const concurrency = Number(flag('concurrency', 32));
  const name = 'throughput';
  const queue = new Queue(name, { connection, prefix });
  let completed = 0;
  let resolveDone;
  const allDone = new Promise((r) => (resolveDone = r));
  const worker = new Worker(name, async () => {}, { connection, prefix, concurrency, autorun: false });
  worker.on('completed', () => {
    completed += 1;
    if (completed === jobs) resolveDone();
  });
  await worker.waitUntilReady();
  const started = process.hrtime.bigint();
  worker.run();
  const now = Date.now();
  await pool(jobs, 64, (i) =>
    queue.add(
      'ticket',
      { ticket: randomUUID(), station: `32050500${String(i % 16).padStart(4, '0')}-css`, urgency: 'normal', due: now + 3600000 },
      { removeOnComplete: true },
    ),
  );
  await allDone;
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`bullmq_queue_jobs=${completed}`);
  console.log(`bullmq_queue_seconds=${secs.toFixed(3)}`);
  console.log(`bullmq_queue_jobs_per_s=${Math.round(completed / secs)}`);
  await worker.close();
  await queue.close();
}

async function delayedLateness() {
  const jobs = Number(flag('jobs', 100000));
  const windowMs = Number(flag('window-s', 10)) * 1000;
  const leadMs = Number(flag('lead-s', 15)) * 1000;
  const concurrency = Number(flag('concurrency', 64));
  const name = 'delayed';
  const queue = new Queue(name, { connection, prefix });
  const start = Date.now() + leadMs;
  const lateness = [];
  let resolveDone;
  const allDone = new Promise((r) => (resolveDone = r));
  const worker = new Worker(
    name,
    async (job) => {
      lateness.push(Date.now() - job.data.due);
      if (lateness.length === jobs) resolveDone();
    },
    { connection, prefix, concurrency },
  );
  const loadStarted = Date.now();
  for (let base = 0; base < jobs; base += 1000) {
    const bulk = [];
    for (let i = base; i < Math.min(jobs, base + 1000); i++) {
      const due = start + Math.floor((i * windowMs) / jobs);
      bulk.push({
        name: 'timer',
        data: { ticket: randomUUID(), clock: 'resolution', step: 'breach', due },
        opts: { delay: Math.max(0, due - Date.now()), removeOnComplete: true },
      });
    }
    await queue.addBulk(bulk);
  }
  const loadS = (Date.now() - loadStarted) / 1000;
  if (Date.now() >= start) console.error('warning: loading outlasted --lead-s');
  await allDone;
  lateness.sort((a, b) => a - b);
  console.log(`bullmq_delayed_load_seconds=${loadS.toFixed(2)}`);
  console.log(`bullmq_delayed_fired=${lateness.length}`);
  console.log(`bullmq_lateness_p50_ms=${percentile(lateness, 50)}`);
  console.log(`bullmq_lateness_p99_ms=${percentile(lateness, 99)}`);
  console.log(`bullmq_lateness_max_ms=${lateness[lateness.length - 1]}`);
  await worker.close();
  await queue.close();
}

async function memory() {
  const n = Number(flag('n', 100000));
  const waiting = new Queue('mem-waiting', { connection, prefix });
  let before = await usedMemory();
  const now = Date.now();
  for (let base = 0; base < n; base += 1000) {
    const bulk = [];
    for (let i = base; i < Math.min(n, base + 1000); i++) {
      bulk.push({
        name: 'ticket',
        data: { ticket: randomUUID(), station: `32050500${String(i % 64).padStart(4, '0')}-css`, urgency: 'normal', due: now + 3600000 },
      });
    }
    await waiting.addBulk(bulk);
  }
  let after = await usedMemory();
  console.log(`bullmq_bytes_per_job=${Math.round((after - before) / n)}`);

  const delayed = new Queue('mem-delayed', { connection, prefix });
  before = await usedMemory();
  for (let base = 0; base < n; base += 1000) {
    const bulk = [];
    for (let i = base; i < Math.min(n, base + 1000); i++) {
      bulk.push({
        name: 'timer',
        data: { ticket: randomUUID(), clock: 'resolution', step: 'breach', deadline: now + 3600000 + i },
        opts: { delay: 3600000 + i },
      });
    }
    await delayed.addBulk(bulk);
  }
  after = await usedMemory();
  console.log(`bullmq_bytes_per_delayed_job=${Math.round((after - before) / n)}`);
  await waiting.close();
  await delayed.close();
}

const modes = { queue: queueThroughput, delayed: delayedLateness, memory };
const mode = modes[process.argv[2]];
if (!mode) {
  console.error('usage: node bullmq.js queue|delayed|memory [--flags]');
  process.exit(2);
}
mode().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
