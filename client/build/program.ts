/** The TypeScript program the package is built from: the client's entry with the repository's compiler options. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const clientDir = path.join(repoRoot, 'client');

/** A program over client/index.ts (and, through it, the server types it names) that emits declarations into `outDir`. */
export function createClientProgram(outDir: string): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(repoRoot, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!config) throw new Error('cannot read tsconfig.json');
  const options: ts.CompilerOptions = { ...config.options, noEmit: false, declaration: true, emitDeclarationOnly: true, rootDir: repoRoot, outDir };
  return ts.createProgram({ rootNames: [path.join(clientDir, 'index.ts')], options });
}

/** The package's own sources: client/*.ts, not the examples or this build. */
export const clientSources = (program: ts.Program): ts.SourceFile[] =>
  program.getSourceFiles().filter((sf) => !sf.isDeclarationFile && path.dirname(sf.fileName) === clientDir);
