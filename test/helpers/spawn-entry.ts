import { inject } from 'vitest';
import { entryArgs, type Entry } from './entry-points.js';

/** The node arguments that start `entry` in this test run (see entry-points.ts). */
export const nodeArgsFor = (entry: Entry): string[] => entryArgs(entry, inject('entryBundles'));
