export const ROLES = ['issuer', 'retirer', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who may do what. `admin` may do everything; reads need `auditor` or above. */
export const ACCESS = {
  create: ['issuer', 'admin'],
  // Issuers manage what they hold: carving parts off, cancelling units.
  split: ['issuer', 'admin'],
  cancel: ['issuer', 'admin'],
  retire: ['retirer', 'admin'],
  read: ['auditor', 'admin'],
  // Callers that retire must be able to poll the outcome of their own request.
  retirementStatus: ['retirer', 'auditor', 'admin'],
  manageKeys: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Right = keyof typeof ACCESS;

export type Actor = { keyId: string; role: Role };
