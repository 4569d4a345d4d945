/** Who a command acts for and about: its login's account, a recipient by name, a conversation's peer. */
import { refuse } from './apply-context.js';
import type { AccountIdentity, AccountRow, Statements } from './statements.js';

/** Most accounts kept in the identity cache before it starts over. */
const IDENTITY_CACHE_MAX = 50_000;

/** The live account a login token hash belongs to, or a refusal (the login ended). */
export function authenticate(statements: Statements, tokenHash: string): AccountRow {
  return statements.tokenAccount.get(tokenHash) ?? refuse('UNAUTHENTICATED', 'this login has ended (logged out or account deleted); log in again');
}

/** A live account by name, else a deleted one with that name that `ownerId` still has a conversation with. */
export function resolvePeer(statements: Statements, ownerId: number, name: string): number | null {
  const lower = name.toLowerCase();
  const live = statements.accountLive.get(lower);
  if (live) return live.id;
  return statements.deletedPeer.get(lower, ownerId)?.id ?? null;
}

/**
 * Identities of live accounts for `send` (every replica resolves both parties of every message): login token hash
 * → account id, lowercase username → account id, id → identity. Filled only from committed-or-applied reads, emptied
 * by whatever can end a login, an account or a name (logout, deleteAccount) and by any rolled-back batch, so a hit is
 * always what the database would answer. A command's own savepoint never needs it emptied: the only command that
 * fills it (send) writes nothing before its lookups.
 */
export class IdentityCache {
  private readonly accountIdByToken = new Map<string, number>();
  private readonly accountIdByName = new Map<string, number>();
  private readonly identities = new Map<number, AccountIdentity>();

  /** `max`: accounts kept before it starts over (IDENTITY_CACHE_MAX; less in tests). */
  constructor(
    private readonly statements: Statements,
    private readonly max = IDENTITY_CACHE_MAX,
  ) {}

  forget(): void {
    this.accountIdByToken.clear();
    this.accountIdByName.clear();
    this.identities.clear();
  }

  forgetToken(tokenHash: string): void {
    this.accountIdByToken.delete(tokenHash);
  }

  /** The live account a login token hash belongs to (as authenticate). */
  sender(tokenHash: string): AccountIdentity {
    const id = this.accountIdByToken.get(tokenHash);
    const known = id === undefined ? undefined : this.identities.get(id);
    if (known) return known;
    const identity = this.remember(authenticate(this.statements, tokenHash));
    this.accountIdByToken.set(tokenHash, identity.id);
    return identity;
  }

  /** The live account named `name` (any case). */
  liveAccount(name: string): AccountIdentity | undefined {
    const lower = name.toLowerCase();
    const id = this.accountIdByName.get(lower);
    const known = id === undefined ? undefined : this.identities.get(id);
    if (known) return known;
    const row = this.statements.accountLive.get(lower);
    if (!row) return undefined;
    const identity = this.remember(row);
    this.accountIdByName.set(lower, identity.id);
    return identity;
  }

  private remember(row: AccountIdentity): AccountIdentity {
    if (this.identities.size >= this.max) this.forget();
    const identity: AccountIdentity = { id: row.id, username: row.username, username_lower: row.username_lower, deleted: row.deleted };
    this.identities.set(row.id, identity);
    return identity;
  }
}
