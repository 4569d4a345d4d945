/**
 * Live delivery to logged-in connections: what an applied batch produced for each account (new messages, read
 * receipts, ended sessions), and the backlog a connection missed while it was away.
 */
import type { ClientConn, ClientEndpoint } from '../net/client-endpoint.js';
import type { ApplyOutcome, ChatStateMachine } from '../chat/state-machine.js';

/** Messages per page when sending a backlog (one query each). */
const BACKLOG_PAGE = 500;

/** Pushes every event of an applied batch to its account's connections; an ended session unbinds its connections. */
export function pushApplied(clients: ClientEndpoint, outcomes: ApplyOutcome[]): void {
  for (const outcome of outcomes) {
    for (const event of outcome.events) {
      clients.pushTo(event.toAccount, event.frame, event.tokenHash);
      if (event.frame.event === 'sessionEnded') {
        for (const conn of clients.connectionsOf(event.toAccount, event.tokenHash)) conn.account = null;
      }
    }
  }
}

/** Sends `conn` every message of the account newer than `after`; it receives live pushes from then on. */
export function pushBacklog(stateMachine: ChatStateMachine, conn: ClientConn, accountId: number, after: number): void {
  let cursor = after;
  for (;;) {
    // Stops as soon as the connection is gone (e.g. dropped for not reading): the client resumes from what it got.
    if (conn.closed) return;
    const page = stateMachine.messagesAfter(accountId, cursor, BACKLOG_PAGE);
    for (const message of page) conn.push({ type: 'push', event: 'message', message });
    if (page.length < BACKLOG_PAGE) break;
    cursor = page[page.length - 1].id;
  }
}
