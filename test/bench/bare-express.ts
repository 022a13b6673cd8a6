/**
 * The HTTP limit: a bare Express 5 app in its own process that answers
 * credits.get and credits.create with the very bytes the real API answered,
 * without auth, validation or a database. The bodies are read (once) from the
 * files GET_BODY and CREATE_BODY at the first request, so the app can start
 * before they are captured.
 * Run: PORT=… GET_BODY=… CREATE_BODY=… node --import tsx test/bench/bare-express.ts
 */
import { readFileSync } from 'node:fs';
import express from 'express';

let getBody: string | undefined;
let createBody: string | undefined;

const app = express();
app.disable('x-powered-by');
app.get('/healthz', (_req, res) => {
  res.json({ ok: true });
});
app.get('/trpc/credits.get', (_req, res) => {
  res.type('application/json').send((getBody ??= readFileSync(process.env.GET_BODY ?? '', 'utf8')));
});
// The real endpoint parses a JSON body too.
app.post('/trpc/credits.create', express.json(), (_req, res) => {
  res.type('application/json').send((createBody ??= readFileSync(process.env.CREATE_BODY ?? '', 'utf8')));
});
app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
