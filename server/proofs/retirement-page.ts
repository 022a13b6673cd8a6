import type { RetirementCertificate } from './certificate.js';

/*
 * The public retirement page: a printable HTML certificate made from the
 * signed payload alone, with the JWS, the key's ID and how to check it.
 * Self-contained: no script, no external font, stylesheet or image. Every
 * value is escaped.
 */

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Escapes interpolated values; `raw` marks HTML this module built itself. */
type Raw = { raw: string };
const raw = (html: string): Raw => ({ raw: html });
const html = (strings: TemplateStringsArray, ...values: (string | number | Raw)[]): string =>
  strings.reduce((out, s, i) => {
    const v = values[i - 1];
    return out + (typeof v === 'object' ? v.raw : escapeHtml(String(v))) + s;
  });

const longDate = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' });
const when = (iso: string): Raw => raw(html`<time datetime="${iso}">${longDate.format(new Date(iso))} UTC</time>`);
const grouped = (n: number): string => n.toLocaleString('en-GB');

/** Quantity with thousands separators, its decimals kept as they are. */
function quantityText(q: string): string {
  const [whole = '0', fraction] = q.split('.');
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction ? `.${fraction}` : ''}`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2a24; --muted: #5b6b63; --line: #d5ddd8; --accent: #2f6b4f; --paper: #fbfcfa; }
* { box-sizing: border-box; }
html { background: #eef2ef; }
body { margin: 0; padding: 32px 16px; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); }
main { max-width: 860px; margin: 0 auto; background: var(--paper); border: 1px solid var(--line); border-top: 6px solid var(--accent); padding: 40px 48px; }
.eyebrow { margin: 0; text-transform: uppercase; letter-spacing: .12em; font-size: 13px; color: var(--accent); font-weight: 600; }
h1 { font: 600 40px/1.15 Georgia, "Times New Roman", serif; margin: 8px 0 4px; }
.lead { font-size: 20px; margin: 0 0 4px; }
.reason { color: var(--muted); margin: 0 0 24px; font-style: italic; }
dl { display: grid; grid-template-columns: 200px 1fr; gap: 8px 24px; margin: 24px 0; padding: 24px 0; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); }
dt { color: var(--muted); font-size: 14px; padding-top: 2px; }
dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
h2 { font: 600 22px/1.3 Georgia, "Times New Roman", serif; margin: 24px 0 8px; }
ol { padding-left: 20px; }
li { margin: 6px 0; }
pre { white-space: pre-wrap; word-break: break-all; background: #f1f4f2; border: 1px solid var(--line); padding: 12px; margin: 8px 0 0; }
.kid { overflow-wrap: anywhere; }
footer { margin-top: 28px; font-size: 13px; color: var(--muted); }
a { color: var(--accent); }
@media (max-width: 640px) { main { padding: 24px 20px; } dl { grid-template-columns: 1fr; gap: 2px; } dd { margin-bottom: 10px; } h1 { font-size: 30px; } }
@media print {
  @page { size: A4; margin: 14mm; }
  html, body { background: #fff; padding: 0; }
  main { border: 0; border-top: 4px solid var(--accent); padding: 0; max-width: none; }
  a { color: inherit; text-decoration: none; }
  pre { font-size: 9px; background: #fff; }
  .verify { break-before: auto; }
}`;

const page = (title: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;

/** The certificate page: what was retired, for whom, when, which units, and how to verify it offline. */
export function certificatePage(c: RetirementCertificate, jws: string, kid: string, jwksPath = '/.well-known/jwks.json'): string {
  const units = c.unitRange
    ? raw(html`units ${grouped(c.unitRange.first)} – ${grouped(c.unitRange.last)} (${grouped(c.unitRange.last - c.unitRange.first + 1)} units)`)
    : raw('not given as units (an amount-only credit)');
  const rows: [string, Raw | string][] = [
    ['Project', c.projectName],
    ['Registry', c.registry],
    ['Vintage', String(c.vintage)],
    ['Serial number', raw(html`<code>${c.serialNumber}</code>`)],
    ['Units', units],
    ['Quantity', `${quantityText(c.quantity)} tCO2e`],
    ['Beneficiary', c.beneficiary],
    ['Reason', c.reason ?? '—'],
    ['Requested by', raw(html`<code>${c.requestedBy}</code> on ${when(c.requestedAt)}`)],
    ['Retired', when(c.retiredAt)],
    ['Credit', raw(html`<code>${c.creditId}</code>${c.partOf ? raw(html`<br>carved off <code>${c.partOf}</code>`) : ''}`)],
    ['Ledger event', raw(html`position ${c.retiredEvent.position}, hash <code>${c.retiredEvent.hash}</code>`)],
    ['Issued by', c.iss],
  ];
  const body = html`<main>
<p class="eyebrow">Retirement certificate · ${c.registry}</p>
<h1>${quantityText(c.quantity)} tCO2e retired</h1>
<p class="lead">on behalf of <strong>${c.beneficiary}</strong>, ${when(c.retiredAt)}</p>
${c.reason ? raw(html`<p class="reason">${c.reason}</p>`) : raw('')}
<dl>
${raw(rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`).join('\n'))}
</dl>
<section class="verify">
<h2>Verify this certificate</h2>
<p>This page shows a certificate signed by the ledger (a compact JWS, EdDSA with Ed25519). Its signature covers every
field above. Anyone can check it offline, without asking the ledger, with its public keys at
<a href="${jwksPath}">${jwksPath}</a>.</p>
<ol>
<li>Save the JWS below as <code>cert.jws</code>, and the public keys as <code>jwks.json</code>.</li>
<li>With the ledger's admin script: <code>npm run admin -- certificate verify cert.jws --jwks jwks.json</code></li>
<li>With the ledger's client library: <code>verifyCertificate(jws, jwks)</code>, in a browser or Node.</li>
<li>With any JOSE library: verify the compact JWS with the key whose <code>kid</code> is below (alg EdDSA); its payload is the certificate as JSON.</li>
</ol>
<p>Signing key (kid): <code class="kid">${kid}</code></p>
<pre class="jws" aria-label="The certificate as a compact JWS">${jws}</pre>
</section>
<footer>The certificate's <code>retiredEvent</code> hash is a leaf of the ledger's signed checkpoints: an auditor can ask
for its inclusion proof.</footer>
</main>`;
  return page(`Retirement certificate: ${quantityText(c.quantity)} tCO2e for ${c.beneficiary}`, body);
}

/** The same page for every ID without a certificate, whether unknown, not retired or malformed: it tells nothing more. */
export function notFoundPage(): string {
  return page(
    'No retirement certificate',
    `<main>
<p class="eyebrow">Retirement certificate</p>
<h1>No certificate here</h1>
<p class="lead">This ledger has no retirement certificate at this address.</p>
<p>Check the link you were given. A certificate appears here once a credit's retirement has been completed.</p>
</main>`,
  );
}

/** Too many requests from this address. */
export function busyPage(retryAfterSeconds: number): string {
  return page(
    'Too many requests',
    `<main>
<p class="eyebrow">Retirement certificate</p>
<h1>Too many requests</h1>
<p class="lead">Please try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.</p>
</main>`,
  );
}
