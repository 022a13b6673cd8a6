import { z } from 'zod';
import { projectNameSchema, registrySchema, vintageSchema } from './credit.schema.js';

export const listCreditsInput = z
  .object({
    cursor: z.string().max(500).optional(),
    limit: z.number().int().min(1).max(500).default(50),
    registry: registrySchema.optional(),
    vintage: vintageSchema.optional(),
    status: z.enum(['active', 'retired', 'cancelled']).optional(),
    projectName: projectNameSchema.optional(),
  })
  .strict();

export type ListCreditsInput = z.output<typeof listCreditsInput>;
