import type { EntityManager } from '@mikro-orm/postgresql';
import { RetirementCertificateEntity, type RetirementCertificateRecord } from '../db/entities.js';
import { columns, insertValues, prefixedColumns, selectRows } from '../db/rows.js';

/*
 * Every query on `retirement_certificates`. Append-only: a certificate is
 * written once, with the `retired` event it certifies, and never changed.
 */

export async function insertCertificate(em: EntityManager, row: RetirementCertificateRecord): Promise<void> {
  const { sql, params } = insertValues(em, RetirementCertificateEntity, [row]);
  await em.execute(`insert into retirement_certificates ${sql}`, params);
}

export async function findCertificate(em: EntityManager, creditId: string): Promise<RetirementCertificateRecord | null> {
  const [row] = await selectRows(em, RetirementCertificateEntity, `select ${columns(em, RetirementCertificateEntity)} from retirement_certificates where credit_id = ?`, [
    creditId,
  ]);
  return row ?? null;
}

/** A certificate with the event now at its `retired` position (null fields when there is none): what verify checks. */
export type CertificateWithEvent = RetirementCertificateRecord & { event: { creditId: string; type: string; hash: string } | null };

/** Certificates in credit ID order after `afterCreditId`, a page at a time, each with the event at its position. */
export async function certificatesWithEvents(em: EntityManager, afterCreditId: string, limit: number): Promise<CertificateWithEvent[]> {
  const rows = await em.execute<(Record<string, unknown> & { e_credit_id: string | null; e_type: string | null; e_hash: string | null })[]>(
    `select ${prefixedColumns(em, RetirementCertificateEntity, 'c', '')}, e.credit_id as e_credit_id, e.type as e_type, e.hash as e_hash
     from retirement_certificates c left join events e on e.position = c.retired_position
     where c.credit_id > ? order by c.credit_id limit ?`,
    [afterCreditId, limit],
  );
  const driver = em.getDriver();
  const meta = em.getMetadata().get(RetirementCertificateEntity);
  return rows.map((r) => ({
    ...(driver.mapResult(r as never, meta) as unknown as RetirementCertificateRecord),
    event: r.e_credit_id === null ? null : { creditId: r.e_credit_id, type: r.e_type ?? '', hash: r.e_hash ?? '' },
  }));
}
