import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { RateLimited, type RateLimits } from '../auth/rate-limits.js';
import { CREDIT_ID_PATTERN } from '../credits/credit.schema.js';
import type { Orm } from '../db/orm.js';
import { certificateOfCredit } from './certificates.js';
import type { LedgerJwks } from './jwks.js';
import { busyPage, certificatePage, notFoundPage } from './retirement-page.js';

/*
 * What anyone may read without a key: the ledger's public keys
 * (/.well-known/jwks.json) and, unless PUBLIC_RETIREMENTS=false, each
 * retirement's certificate page (/retirements/<credit ID>). Both count
 * against the per-address limit of callers without a key.
 */

export type PublicProofs = { jwks: LedgerJwks; publicRetirements: boolean };

const JWKS_PATH = '/.well-known/jwks.json';

// The page is one document with its own inline style: nothing else may load, run, frame it or be sent from it.
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'public, max-age=300',
};

export function publicProofRoutes(deps: { orm: Orm; logger: Logger; rateLimits: RateLimits }, cfg: PublicProofs): Router {
  const routes = Router();

  /** Counts the call against the caller's address; false (and the answer sent) when over the limit. */
  const admitted = async (req: Request, res: Response, refuse: (retryAfterSeconds: number) => void): Promise<boolean> => {
    try {
      await deps.rateLimits.take('anonymous', req.ip ?? req.socket.remoteAddress ?? 'unknown');
      return true;
    } catch (err) {
      if (!(err instanceof RateLimited)) throw err;
      const seconds = Math.max(1, Math.ceil(err.retryAfterMs / 1000));
      res.set('retry-after', String(seconds));
      refuse(seconds);
      return false;
    }
  };

  routes.get(JWKS_PATH, async (req, res) => {
    if (!(await admitted(req, res, () => res.status(429).json({ error: 'too many requests' })))) return;
    // Public keys: any page or program may fetch them.
    res.set({ 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*', 'x-content-type-options': 'nosniff' });
    res.type('application/jwk-set+json').send(JSON.stringify(cfg.jwks));
  });

  if (cfg.publicRetirements) {
    routes.get('/retirements/:id', async (req, res) => {
      res.set(PAGE_HEADERS);
      if (!(await admitted(req, res, (s) => res.status(429).type('html').send(busyPage(s))))) return;
      const id = String(req.params.id);
      const found = CREDIT_ID_PATTERN.test(id) ? await certificateOfCredit(deps.orm.em.fork(), id) : null;
      if (!found) {
        res.status(404).type('html').send(notFoundPage());
        return;
      }
      res.type('html').send(certificatePage(found.certificate, found.jws, found.kid, JWKS_PATH));
    });
  }
  return routes;
}
