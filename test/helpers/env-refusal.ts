import { InvalidEnvError, loadEnv, type EnvIssue } from '../../server/env.js';

/** The issues loadEnv refuses `source` with; fails the test when the settings are accepted. */
export function refusedSettings(source: NodeJS.ProcessEnv): EnvIssue[] {
  try {
    loadEnv(source);
  } catch (err) {
    if (err instanceof InvalidEnvError) return err.issues;
  }
  throw new Error('expected the settings to be refused');
}
