import type { Command } from 'commander';
import { verifyCertificate, type RetirementCertificate } from '../../client/verify-certificate.js';
import { EXIT, type ExitCode } from './errors.js';
import { Output, table } from './output.js';
import { jwsIn, readInput, readJwks } from './proof-files.js';

type VerifyCertificateOptions = { jwks: string; json?: boolean };

export function registerCertificate(program: Command): void {
  const certificate = program.command('certificate').description('retirement certificates: check one offline');
  certificate
    .command('verify')
    .description("check a retirement certificate's signature offline against the ledger's public keys (no call to the ledger)")
    .argument('<file>', 'the certificate: its compact JWS, or the JSON credits.certificate answered; - reads stdin')
    .requiredOption('--jwks <url|file>', "the ledger's JWK Set: its /.well-known/jwks.json URL, or a saved copy")
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Says which key signed the certificate and prints what it certifies, or why
it fails: malformed (truncated, not a JWS, not a certificate), unknown_kid
(signed with a key that is not in the JWK Set), bad_signature (altered after
signing, or signed by another key), wrong_type (another kind of JWS).

Exit code: 0 valid, 1 invalid, 2 usage error or the JWK Set could not be read.`,
    )
    .action(async (file: string, opts: VerifyCertificateOptions) => {
      process.exitCode = await runVerifyCertificate(file, opts, new Output(Boolean(opts.json)));
    });
}

const unitsOf = (c: RetirementCertificate) => (c.unitRange ? `${c.unitRange.first}–${c.unitRange.last} (${c.unitRange.last - c.unitRange.first + 1} units)` : '-');

async function runVerifyCertificate(file: string, opts: VerifyCertificateOptions, out: Output): Promise<ExitCode> {
  const [text, jwks] = await Promise.all([readInput(file), readJwks(opts.jwks)]);
  const result = await verifyCertificate(jwsIn(text), jwks);
  if (!result.ok) {
    out.result(result, () => [`certificate INVALID (${result.reason}): ${result.message}`]);
    return EXIT.failures;
  }
  const c = result.certificate;
  out.result(result, () => [
    `certificate OK: signed by key ${result.kid}`,
    ...table([
      ['credit', c.creditId],
      ['project', c.projectName],
      ['registry', c.registry],
      ['vintage', String(c.vintage)],
      ['serial number', c.serialNumber],
      ['units', unitsOf(c)],
      ['quantity', `${c.quantity} tCO2e`],
      ...(c.partOf ? [['carved off', c.partOf]] : []),
      ['beneficiary', c.beneficiary],
      ['reason', c.reason ?? '-'],
      ['requested by', `${c.requestedBy} at ${c.requestedAt}`],
      ['retired at', c.retiredAt],
      ['ledger event', `position ${c.retiredEvent.position}, hash ${c.retiredEvent.hash}`],
      ['issuer', c.iss],
    ]).map((l) => `  ${l}`),
  ]);
  return EXIT.ok;
}
