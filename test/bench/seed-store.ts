/**
 * A small, faithful model of the seed's persistent store (../shared/seed notebook): "we instead chose to just write
 * the entire users database to a json file every time it gets updated". The whole user database — every account
 * with its password and its messages — lives in memory as one object; every change serializes all of it with
 * JSON.stringify and rewrites the one file, then fsyncs it (the durability Quorum promises for an acknowledged write;
 * the seed itself did not fsync, which would make its number meaningless after a power cut). One change at a time,
 * as the seed's server applied them.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

export interface SeedMessage {
  id: number;
  from: string;
  to: string;
  text: string;
  sentAt: number;
  read: boolean;
}

export interface SeedUser {
  password: string;
  messages: SeedMessage[];
}

export class SeedStore {
  private users: Record<string, SeedUser> = {};
  private nextId = 1;

  constructor(readonly file: string) {}

  static load(file: string): SeedStore {
    const s = new SeedStore(file);
    s.users = JSON.parse(readFileSync(file, 'utf8')) as Record<string, SeedUser>;
    for (const u of Object.values(s.users)) for (const m of u.messages) s.nextId = Math.max(s.nextId, m.id + 1);
    return s;
  }

  signup(username: string, password: string, save = true): void {
    if (this.users[username]) throw new Error('USERNAME_TAKEN');
    this.users[username] = { password, messages: [] };
    if (save) this.save();
  }

  /** Stores a message in the recipient's list and rewrites the whole database. */
  send(from: string, to: string, text: string, save = true): number {
    const u = this.users[to];
    if (!this.users[from] || !u) throw new Error('NOT_FOUND');
    const id = this.nextId++;
    u.messages.push({ id, from, to, text, sentAt: Date.now(), read: false });
    if (save) this.save();
    return id;
  }

  messageCount(): number {
    let n = 0;
    for (const u of Object.values(this.users)) n += u.messages.length;
    return n;
  }

  /** The seed's persistence step: the entire users database to one JSON file (here followed by fsync). */
  save(): void {
    const data = JSON.stringify(this.users);
    const fd = openSync(this.file, 'w');
    try {
      const buf = Buffer.from(data, 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
