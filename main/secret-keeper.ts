/**
 * Keeps the desktop's secrets (the cluster secret, a pending invite's secret, the login token) at rest with the OS
 * keystore through Electron's safeStorage (macOS Keychain, Windows DPAPI, libsecret or kwallet on Linux), so a copy
 * of the data folder or of the settings file alone does not carry them.
 *
 * Where the OS offers no keystore (Linux without a keyring: safeStorage then falls back to a hard-coded key, which
 * protects nothing) the secrets are stored as they are, in files only this user can read, and `protection()` says so:
 * the app shows it in Settings and docs/security.md explains it. A value stored that way is sealed properly the next
 * time it is written once a keystore is available.
 */
import * as z from 'zod';
import type { SecretProtection } from './ipc-contract.js';

/** The part of Electron's safeStorage used here. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: 'basic_text' means no keyring (a hard-coded key). */
  getSelectedStorageBackend?(): string;
}

/** A secret as stored: encrypted by the OS keystore (base64), or as it is when there is no keystore. */
export const SealedSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('keystore'), data: z.string().min(1).max(16_384) }),
  z.strictObject({ kind: z.literal('file'), data: z.string().min(1).max(16_384) }),
]);
export type Sealed = z.infer<typeof SealedSchema>;

/** Electron's names of Linux keystores, as a person knows them. */
const LINUX_BACKENDS: Record<string, string> = {
  gnome_libsecret: 'the GNOME Keyring (libsecret)',
  kwallet: 'KWallet',
  kwallet5: 'KWallet',
  kwallet6: 'KWallet',
};

export class SecretUnreadableError extends Error {
  readonly code = 'UNAVAILABLE';
}

export class SecretKeeper {
  constructor(
    private readonly safeStorage: SafeStorageLike,
    private readonly platform: string,
  ) {}

  protection(): SecretProtection {
    if (!this.safeStorage.isEncryptionAvailable()) {
      return {
        kind: 'file',
        detail: 'this system offers no keystore to Quorum, so the cluster secret and your login are kept in files only your user account can read',
      };
    }
    if (this.platform === 'linux' && this.safeStorage.getSelectedStorageBackend?.() === 'basic_text') {
      return {
        kind: 'file',
        detail:
          'no keyring (GNOME Keyring, KWallet) is running, so the cluster secret and your login are kept in files only your user account can read; ' +
          'start a keyring and restart Quorum to have them encrypted',
      };
    }
    const backend =
      this.platform === 'linux'
        ? (LINUX_BACKENDS[this.safeStorage.getSelectedStorageBackend?.() ?? ''] ?? 'the keyring')
        : this.platform === 'darwin'
          ? 'the Keychain'
          : 'the Windows data protection API (DPAPI)';
    return { kind: 'keystore', detail: `the cluster secret and your login are encrypted with ${backend}` };
  }

  seal(plain: string): Sealed {
    if (this.protection().kind === 'keystore') return { kind: 'keystore', data: this.safeStorage.encryptString(plain).toString('base64') };
    return { kind: 'file', data: plain };
  }

  /** The secret back; throws SecretUnreadableError when the keystore cannot decrypt it (another machine or user, a reset keyring). */
  open(sealed: Sealed): string {
    if (sealed.kind === 'file') return sealed.data;
    if (!this.safeStorage.isEncryptionAvailable()) {
      throw new SecretUnreadableError('the OS keystore that encrypted this secret is not available now (is the keyring unlocked?)');
    }
    try {
      return this.safeStorage.decryptString(Buffer.from(sealed.data, 'base64'));
    } catch (err) {
      throw new SecretUnreadableError(`the OS keystore could not decrypt a kept secret (${(err as Error).message}): it was made by another user, machine or keyring`);
    }
  }

  /** True when `sealed` should be sealed again (stored as a file, and a keystore is available now). */
  shouldReseal(sealed: Sealed): boolean {
    return sealed.kind === 'file' && this.protection().kind === 'keystore';
  }
}
