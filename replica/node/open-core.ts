/**
 * Start-up of the consensus core over a replica's durable stores: the log is first reconciled with the state machine
 * (after a crash between installing a snapshot's state and resetting the log, the state is ahead of the log), then the
 * core is built over the log, with its configuration taken from the state machine (configuration takes effect when
 * applied, so the state machine's is the one as of the applied index). The replica (node.ts) and the simulation
 * (test/sim) both start their cores here.
 */
import type { Logger } from 'pino';
import { Raft } from '../raft/raft.js';
import type { ConfState, LogStorage, LogStore, RaftOptions } from '../raft/types.js';
import type { StateMachine } from './driver-contract.js';

const NO_CONF: ConfState = { voters: [], learners: [] };

export type CoreOptions = Omit<RaftOptions, 'storage' | 'applied'>;

export function openCore(logStore: LogStore, sm: StateMachine<unknown>, log: Logger, options: CoreOptions): Raft {
  reconcileLogWithState(logStore, sm, log);
  return new Raft({ ...options, storage: withStateMachineConf(logStore, sm), applied: sm.applied().index });
}

/**
 * The state is committed data: when the log does not hold the applied entry (an interrupted snapshot install left the
 * state ahead of the log), the log restarts from the state.
 */
export function reconcileLogWithState(logStore: LogStore, sm: StateMachine<unknown>, log: Logger): void {
  const { index, term } = sm.applied();
  if (index === 0) return;
  let consistent = index <= logStore.lastIndex() && index >= logStore.firstIndex() - 1;
  if (consistent) {
    try {
      consistent = logStore.term(index) === term;
    } catch {
      consistent = false;
    }
  }
  if (!consistent) {
    log.warn(
      { applied: index, logFirst: logStore.firstIndex(), logLast: logStore.lastIndex() },
      'log behind the applied state (interrupted snapshot install); resetting the log to the state',
    );
    logStore.resetToSnapshot({ index, term, conf: sm.conf() ?? NO_CONF });
  }
}

/** The log as the core reads it, with the state machine's configuration. */
function withStateMachineConf(logStore: LogStore, sm: StateMachine<unknown>): LogStorage {
  return {
    initialState: () => ({ hardState: logStore.initialState().hardState, conf: sm.conf() ?? NO_CONF }),
    firstIndex: () => logStore.firstIndex(),
    lastIndex: () => logStore.lastIndex(),
    term: (i) => logStore.term(i),
    entries: (lo, hi, maxBytes) => logStore.entries(lo, hi, maxBytes),
    snapshotMeta: () => logStore.snapshotMeta(),
  };
}
