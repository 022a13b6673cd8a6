import { EntitySchema } from '@mikro-orm/core';
import type { Role } from '../auth/roles.js';

/** One row of the append-only log. Never updated, never deleted. */
export interface EventRow {
  position: string; // bigint, kept as a string so it never loses precision
  creditId: string;
  version: number;
  type: string;
  payload: Record<string, unknown>;
  actor: string;
  occurredAt: Date;
  prevHash: string | null;
  hash: string;
}

export const EventEntity = new EntitySchema<EventRow>({
  name: 'Event',
  tableName: 'events',
  properties: {
    position: { type: 'bigint', primary: true, autoincrement: true },
    creditId: { type: 'text' },
    version: { type: 'integer' },
    type: { type: 'text' },
    payload: { type: 'json' },
    actor: { type: 'text' },
    occurredAt: { type: 'Date', columnType: 'timestamptz' },
    prevHash: { type: 'text', nullable: true },
    hash: { type: 'text' },
  },
});

export type RetirementState = 'none' | 'pending' | 'failed' | 'retired';

/** The projection of each credit's current state; rebuildable from events. */
export interface CreditRow {
  id: string;
  projectName: string;
  registry: string;
  vintage: number;
  quantity: string;
  serialNumber: string;
  registryKey: string;
  serialKey: string;
  status: 'active' | 'retired';
  retirementState: RetirementState;
  createdAt: Date;
  retiredAt: Date | null;
  version: number;
}

export const CreditEntity = new EntitySchema<CreditRow>({
  name: 'Credit',
  tableName: 'credits',
  properties: {
    id: { type: 'text', primary: true },
    projectName: { type: 'text' },
    registry: { type: 'text' },
    vintage: { type: 'integer' },
    quantity: { type: 'decimal', columnType: 'numeric' },
    serialNumber: { type: 'text' },
    registryKey: { type: 'text' },
    serialKey: { type: 'text' },
    status: { type: 'text' },
    retirementState: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    retiredAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    version: { type: 'integer' },
  },
});

export interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  keyHash: string;
  createdAt: Date;
  createdBy: string;
  revokedAt: Date | null;
}

export const ApiKeyEntity = new EntitySchema<ApiKeyRow>({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: { type: 'text', primary: true },
    name: { type: 'text' },
    role: { type: 'text' },
    keyHash: { type: 'text', unique: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    createdBy: { type: 'text' },
    revokedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});

export const entities = [EventEntity, CreditEntity, ApiKeyEntity];
