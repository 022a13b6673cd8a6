import type { EntityManager } from '@mikro-orm/postgresql';
import { TRPCError } from '@trpc/server';
import { BOOTSTRAP_ADMIN_ID, BOOTSTRAP_ADMIN_NAME } from '../auth/api-keys.js';
import type { Actor } from '../auth/roles.js';
import { beneficiarySchema } from '../credits/credit.schema.js';
import { ApiKeyEntity } from '../db/entities.js';

/**
 * The beneficiary of a retirement asked for without one: the calling key's
 * name. The original service's retire took no body, so its clients name no
 * beneficiary, and a retirement must always say on whose behalf it was made.
 * The name is checked as a beneficiary typed by the caller would be.
 */
export async function defaultBeneficiary(em: EntityManager, actor: Actor): Promise<string> {
  const name =
    actor.keyId === BOOTSTRAP_ADMIN_ID
      ? BOOTSTRAP_ADMIN_NAME
      : (await em.findOne(ApiKeyEntity, { id: actor.keyId }, { fields: ['name'], disableIdentityMap: true }))?.name;
  const parsed = beneficiarySchema.safeParse(name);
  if (!parsed.success) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `beneficiary is required: the name of API key ${actor.keyId} cannot stand in for it (${parsed.error.issues[0]?.message ?? 'not a valid beneficiary'})`,
    });
  }
  return parsed.data;
}
