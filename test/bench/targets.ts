/**
 * The team's targets for the service, checked against this run: figures
 * against the limits measured on the same machine in the same run, against
 * themselves at two ledger sizes, and against the original service.
 */
import type { Plan } from './plan.js';
import { fmt, type Limit, type Report } from './report.js';

/** The original service's figures (from the issue), in requests or retirements per second. */
const ORIGINAL = { create: 183, get: 290, retire: 185 };

export function judge(report: Report, limits: Map<string, Limit>, ctx: { plan: Plan; sizes: { small: number; large: number } }): void {
  const value = (id: string) => report.get(id)?.value;
  const limit = (id: string) => limits.get(id)?.value;
  const attach = (id: string, ...limitIds: string[]) => {
    const m = report.get(id);
    if (m) m.limits = limitIds.flatMap((l) => limits.get(l) ?? []);
  };

  for (const c of ctx.plan.createConnections) attach(`create@${c}`, `pgbench.create@${c}`, `bare.create@${c}`);
  for (const c of ctx.plan.readConnections) {
    attach(`get@${c}`, `bare.get@${c}`, `pgbench.get@${c}`);
    attach(`listFirst@${c}`, `pgbench.list@${c}`);
    attach(`listDeep@${c}`, `pgbench.list@${c}`);
  }
  attach('get@16/large', 'bare.get@16', 'pgbench.get@16');
  attach('listFirst@16/large', 'pgbench.list@16');
  attach('listDeep@16/large', 'pgbench.list@16');
  attach('retire@16', 'pgbench.retire@16', 'bullmq.add');
  for (const w of ctx.plan.workers) attach(`e2e/${w}w`, 'pgbench.retire@16', 'bullmq.process');

  report.ratio('credits.create @16 ≥ 30% of pgbench create-shaped -c16', value('create@16'), limit('pgbench.create@16'), 0.3);
  report.ratio('credits.get @16 ≥ 35% of bare Express GET @16', value('get@16'), limit('bare.get@16'), 0.35);
  report.ratio('credits.get @16 ≥ 20% of pgbench get-shaped -c16', value('get@16'), limit('pgbench.get@16'), 0.2);
  report.ratio('retirement end to end, 2 workers ≥ 25% of pgbench retire-shaped -c16', value('e2e/2w'), limit('pgbench.retire@16'), 0.25);
  report.bound('credits.retire request p99 < 25 ms', report.get('retire@16')?.p99Ms, { max: 25 }, 'ms');

  const sizes = `${fmt(ctx.sizes.small)} → ${fmt(ctx.sizes.large)} credits`;
  for (const [id, what] of [['get', 'credits.get'], ['listFirst', 'credits.list first page'], ['listDeep', 'credits.list deep cursor']]) {
    report.ratio(`${what} @16 slows < 2× from ${sizes} (req/s before ÷ after)`, value(`${id}@16`), value(`${id}@16/large`), 2, { atMost: true, unit: '×' });
  }
  const events = report.get('verify')?.label.match(/[\d,]+ events/)?.[0] ?? 'the log';
  report.bound(`admin verify of ${events}: peak RSS growth < 100 MB`, value('rss.verify'), { max: 100 }, 'MB');
  report.bound(`admin export of ${events}: peak RSS growth < 100 MB`, value('rss.export'), { max: 100 }, 'MB');
  report.bound(`admin import of ${fmt(ctx.plan.importRows)} rows < 30 s`, value('import'), { max: 30 }, 's');

  report.ratio(`credits.create @16 ≥ 10× the original ${ORIGINAL.create}/s`, value('create@16'), ORIGINAL.create, 10, { unit: '×' });
  report.ratio(`credits.get @16 ≥ 10× the original ${ORIGINAL.get}/s`, value('get@16'), ORIGINAL.get, 10, { unit: '×' });
  report.ratio(`retirement end to end, 2 workers ≥ 5× the original ${ORIGINAL.retire}/s`, value('e2e/2w'), ORIGINAL.retire, 5, { unit: '×' });
}
