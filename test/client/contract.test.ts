/*
 * The published client's router types are generated (client/build/): the
 * check that they equal the server's AppRouter must pass on what is
 * generated and fail on anything else, or the package could ship wrong types.
 */
import os from 'node:os';
import path from 'node:path';
import type ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkContract } from '../../client/build/contract-check.js';
import { createClientProgram, repoRoot } from '../../client/build/program.js';
import { routerContract } from '../../client/build/router-contract.js';

const clientDir = path.join(repoRoot, 'client');

describe('router contract of the client package', () => {
  let program: ts.Program;
  let contract: string;
  beforeAll(() => {
    // Nothing is emitted here; outDir only has to be somewhere harmless.
    program = createClientProgram(path.join(os.tmpdir(), 'ledger-contract-unused'));
    contract = routerContract(program, path.join(clientDir, 'server-types.ts'));
  }, 180_000);

  it('spells out the procedures as plain data and imports only tRPC', () => {
    expect([...contract.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1])).toEqual(['@trpc/server']);
    expect(contract).toMatch(/\n {4}create: TRPCMutationProcedure<\{\n {6}input: \{\n {8}projectName: string;\n {8}registry: string;\n {8}vintage: number;\n {8}quantity: string \| number;/);
    expect(contract).toMatch(/\n {4}retirementStatus: TRPCQueryProcedure<\{/);
    expect(contract).toMatch(/^export type DomainErrorCode = "CREDIT_NOT_FOUND" \| .*"CREDIT_BUSY"/m);
  });

  it('is identical to the server types, as generated', () => {
    expect(() => checkContract(program, clientDir, contract)).not.toThrow();
  }, 120_000);

  it('is refused when an input, an output or the domain codes differ, naming each', () => {
    // One program checks all three (each check compiles the server's types again).
    const wrong = contract
      .replace(/(create: TRPCMutationProcedure<\{\n\s+input: \{[^}]*?vintage: )number;/, '$1number | string;')
      .replace(/(type CreditView = \{\n[^}]*?quantity: )string;/, '$1number;')
      .replace('"CREDIT_BUSY"', '"CREDIT_BUSY" | "NEW_CODE"');
    expect(wrong.split('\n').filter((line, i) => line !== contract.split('\n')[i])).toHaveLength(3);
    expect(() => checkContract(program, clientDir, wrong)).toThrow(/differs from the server's AppRouter in: inputs; outputs; codes$/);
  }, 120_000);
});
