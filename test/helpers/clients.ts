/** QuorumClient helpers shared by the real-process tests. */
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/client.js';

const open: QuorumClient[] = [];

/** A client of the given replicas that retries for up to 30 s (closed by closeClients). */
export function client(servers: string[]): QuorumClient {
  const c = new QuorumClient({ servers, WebSocket: WebSocket as never, giveUpAfterMs: 30_000, requestTimeoutMs: 5_000 });
  open.push(c);
  return c;
}

export function closeClients(): void {
  for (const c of open.splice(0)) c.close();
}

/** Every message text of the conversation with `withUser`, oldest first, paging through the whole history. */
export async function conversationTexts(c: QuorumClient, withUser: string): Promise<string[]> {
  const out: string[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await c.history(withUser, { limit: 500, before });
    out.unshift(...page.messages.map((m) => m.text));
    if (page.messages.length < 500) return out;
    before = page.messages[0].id;
  }
}
