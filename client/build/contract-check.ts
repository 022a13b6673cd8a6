/**
 * Proves the generated contract says exactly what the server's AppRouter
 * says: a program over two in-memory files compares, with the compiler's own
 * identity check, every input, output and error shape a client can see, and
 * the domain codes. A printer mistake fails the build here, not a user's.
 */
import path from 'node:path';
import ts from 'typescript';

const CHECK = `import type { inferRouterError, inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter as Server, DomainErrorCode as ServerCodes } from './server-types.js';
import type { AppRouter as Contract, DomainErrorCode as ContractCodes } from './__contract__.js';
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export const inputs: Equal<inferRouterInputs<Contract>, inferRouterInputs<Server>> = true;
export const outputs: Equal<inferRouterOutputs<Contract>, inferRouterOutputs<Server>> = true;
export const errors: Equal<inferRouterError<Contract>, inferRouterError<Server>> = true;
export const codes: Equal<ContractCodes, ServerCodes> = true;
`;

/** Throws with the compiler's messages unless the contract and the server's types are identical. */
export function checkContract(program: ts.Program, clientDir: string, contract: string): void {
  const files = new Map([
    [path.join(clientDir, '__contract__.d.ts'), contract],
    [path.join(clientDir, '__contract_check__.ts'), CHECK],
  ]);
  const options = program.getCompilerOptions();
  const host = ts.createCompilerHost(options);
  const real = { getSourceFile: host.getSourceFile.bind(host), fileExists: host.fileExists.bind(host), readFile: host.readFile.bind(host) };
  host.getSourceFile = (name, language, onError, shouldCreate) => {
    const text = files.get(path.resolve(name));
    return text === undefined ? real.getSourceFile(name, language, onError, shouldCreate) : ts.createSourceFile(name, text, language);
  };
  host.fileExists = (name) => files.has(path.resolve(name)) || real.fileExists(name);
  host.readFile = (name) => files.get(path.resolve(name)) ?? real.readFile(name);

  const checkFile = [...files.keys()][1] as string;
  const check = ts.createProgram({ rootNames: [checkFile], options: { ...options, noEmit: true }, host, oldProgram: program });
  const diagnostics = [...files.keys()].flatMap((f) => {
    const source = check.getSourceFile(f);
    return source ? [...check.getSyntacticDiagnostics(source), ...check.getSemanticDiagnostics(source)] : [];
  });
  if (diagnostics.length > 0) {
    // A failed comparison names itself (inputs, outputs, errors, codes); anything else is shown as the compiler said it.
    const differing = diagnostics.map((d) => {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
      const name = /^export const (\w+):/.exec(CHECK.split('\n')[line] ?? '')?.[1];
      return d.file?.fileName === checkFile && name ? name : `${path.basename(d.file?.fileName ?? '')}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    throw new Error(`the generated contract differs from the server's AppRouter in: ${differing.join('; ')}`);
  }
}
