/** The desktop app's persisted settings (replica hosting), JSON in userData, validated on load. */
import { z } from 'zod';
import { HostConfigSchema, type HostConfig } from './ipc-contract.js';
import type { FileAccess } from './window-state.js';

/** Port the desktop replica listens on by default (teammates connect to host:port). */
export const DEFAULT_REPLICA_PORT = 7420;

const SettingsSchema = z.object({ replica: HostConfigSchema });
export type Settings = z.infer<typeof SettingsSchema>;

export function defaultSettings(userData: string, join: (...p: string[]) => string): Settings {
  // A first install hosts a one-member cluster, so the app works alone at once.
  return { replica: { enabled: true, dataDir: join(userData, 'replica'), port: DEFAULT_REPLICA_PORT } };
}

export function loadSettings(file: string, fs: FileAccess, defaults: Settings): Settings {
  const text = fs.readFile(file);
  if (!text) return defaults;
  try {
    const r = SettingsSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : defaults;
  } catch {
    return defaults;
  }
}

export function saveSettings(file: string, fs: FileAccess, s: Settings): void {
  fs.writeFile(file, JSON.stringify(s, null, 2));
}

export function withReplica(s: Settings, replica: HostConfig): Settings {
  return { ...s, replica };
}
