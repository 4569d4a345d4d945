/** How a connection reached the replica's port: in plain text, or over TLS with the client certificate it presented. */
import type { X509Certificate } from 'node:crypto';

export interface Transport {
  encrypted: boolean;
  /** The certificate the client presented (peers do; browsers and the CLI do not). */
  certificate?: X509Certificate;
}
