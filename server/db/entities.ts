import { defineEntity, type InferEntity, type Opt } from '@mikro-orm/core';
import type { Role } from '../auth/roles.js';
import type { CreditEvent } from '../credits/events.js';

/*
 * The one description of each table's row. Types are inferred from these
 * definitions; the raw-SQL store modules (one per table) select and insert
 * the columns named here and map rows back through the same metadata
 * (server/db/rows.ts), so no row shape is written out twice. The schema itself
 * comes from the committed migrations.
 */

const p = defineEntity.properties;

/**
 * A row's columns as a plain object type: the inferred entity type also
 * carries MikroORM's symbol-keyed markers and `Opt` brands, which are of no
 * use to code that reads or writes rows and would leak into the API's types.
 */
type Row<E> = { [K in keyof E as K extends string ? K : never]-?: E[K] extends Opt<infer V> ? V : E[K] };

/** One row of the append-only log. Never updated, never deleted. */
export const EventEntity = defineEntity({
  name: 'Event',
  tableName: 'events',
  properties: {
    // bigint, kept as a string so it never loses precision
    position: p.bigint('string').primary().autoincrement(),
    creditId: p.text(),
    version: p.integer(),
    type: p.text().$type<CreditEvent['type']>(),
    data: p.json<CreditEvent['data']>().fieldName('payload'),
    actor: p.text(),
    occurredAt: p.datetime().columnType('timestamptz'),
    prevHash: p.text().nullable(),
    hash: p.text(),
    // The writing transaction's ID (xid8, as a decimal string): the global feed's order, given by the database.
    txId: p.text().columnType('xid8').defaultRaw('pg_current_xact_id()'),
  },
});

export type EventRecord = Row<InferEntity<typeof EventEntity>>;

export type CreditStatus = 'active' | 'retired' | 'cancelled';
export type RetirementState = 'none' | 'pending' | 'failed' | 'retired';

/** The projection of each credit's current state; rebuildable from its events. */
export const CreditEntity = defineEntity({
  name: 'Credit',
  tableName: 'credits',
  properties: {
    id: p.text().primary(),
    projectName: p.text(),
    registry: p.text(),
    vintage: p.integer(),
    // Exact decimal, read and written as text.
    quantity: p.decimal('string').columnType('numeric'),
    serialNumber: p.text(),
    /** Canonical forms of registry and serial: together the credit's natural unique key. */
    registryKey: p.text(),
    serialKey: p.text(),
    status: p.text().$type<CreditStatus>(),
    retirementState: p.text().$type<RetirementState>(),
    createdAt: p.datetime().columnType('timestamptz'),
    retiredAt: p.datetime().columnType('timestamptz').nullable(),
    version: p.integer(),
    // The units the credit holds now (a block's lowest units go first when it is split); null for amount-only credits.
    unitFirst: p.bigint('number').nullable(),
    unitLast: p.bigint('number').nullable(),
    /** The issued block its units belong to (canonical): no unit of a block is held by two credits. */
    blockKey: p.text().nullable(),
    /** The credit this one was carved off; null for an issued block. */
    parentId: p.text().nullable(),
  },
});

export type CreditRecord = Row<InferEntity<typeof CreditEntity>>;

export const ApiKeyEntity = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.text().primary(),
    name: p.text(),
    role: p.text().$type<Role>(),
    keyHash: p.text().unique(),
    createdAt: p.datetime().columnType('timestamptz'),
    createdBy: p.text(),
    revokedAt: p.datetime().columnType('timestamptz').nullable(),
  },
});

export type ApiKeyRecord = Row<InferEntity<typeof ApiKeyEntity>>;

/** One line of the key trail: append-only, like the event log. */
export const ApiKeyAuditEntity = defineEntity({
  name: 'ApiKeyAudit',
  tableName: 'api_key_audit',
  properties: {
    id: p.bigint('string').primary().autoincrement(),
    at: p.datetime().columnType('timestamptz'),
    /** The key that made the change. */
    actor: p.text(),
    action: p.text().$type<'created' | 'revoked'>(),
    keyId: p.text(),
    keyRole: p.text().$type<Role>(),
    keyName: p.text(),
  },
});

export type ApiKeyAuditRecord = Row<InferEntity<typeof ApiKeyAuditEntity>>;

/** A retirement certificate (server/proofs/certificate.ts): append-only, one per retired credit. */
export const RetirementCertificateEntity = defineEntity({
  name: 'RetirementCertificate',
  tableName: 'retirement_certificates',
  properties: {
    creditId: p.text().primary(),
    /** The `retired` event the certificate was issued for. */
    retiredPosition: p.bigint('string'),
    retiredHash: p.text(),
    /** The signing key's ID (RFC 7638 thumbprint). */
    kid: p.text(),
    /** The certificate itself: a compact JWS. */
    jws: p.text(),
    issuedAt: p.datetime().columnType('timestamptz'),
  },
});

export type RetirementCertificateRecord = Row<InferEntity<typeof RetirementCertificateEntity>>;

/** A signed checkpoint of the first `size` events of the feed (server/proofs/checkpoint.ts): append-only. */
export const CheckpointEntity = defineEntity({
  name: 'Checkpoint',
  tableName: 'checkpoints',
  properties: {
    size: p.bigint('string').primary().autoincrement(false),
    /** The RFC 6962 Merkle root of those events' hashes, hex. */
    root: p.text(),
    /** The feed cursor of the last event covered. */
    cursorTxId: p.text().columnType('xid8'),
    cursorPosition: p.bigint('string'),
    issuedAt: p.datetime().columnType('timestamptz'),
    kid: p.text(),
    jws: p.text(),
    /** The roots of the tree's perfect subtrees, largest first (hex): where the next checkpoint carries on. */
    frontier: p.json<string[]>(),
  },
});

export type CheckpointRecord = Row<InferEntity<typeof CheckpointEntity>>;

/** One leaf of the checkpointed tree: the event it was, and its hash when it was signed. Append-only. */
export const CheckpointLeafEntity = defineEntity({
  name: 'CheckpointLeaf',
  tableName: 'checkpoint_leaves',
  properties: {
    leafIndex: p.bigint('string').primary().autoincrement(false),
    txId: p.text().columnType('xid8'),
    position: p.bigint('string'),
    creditId: p.text(),
    hash: p.text(),
  },
});

export type CheckpointLeafRecord = Row<InferEntity<typeof CheckpointLeafEntity>>;

export const entities = [EventEntity, CreditEntity, ApiKeyEntity, ApiKeyAuditEntity, RetirementCertificateEntity, CheckpointEntity, CheckpointLeafEntity];
