import { useState, type FormEvent, type MouseEvent } from 'react';
import { useApp, useAppContext } from './context.js';
import type { ReplicaStatus, ReplicaStatusRow } from '../net/api.js';
import { clusterHealth, surviveText } from '../store/health.js';
import { readableError } from '../errors.js';
import { ViewHeader } from './FormParts.js';
import { describeMember, formatClock, formatDuration, type AutopilotSummary } from '../../../replica/protocol/autopilot.js';

interface NodeView {
  id: string;
  address: string;
  voter: boolean;
  leader: boolean;
  role: string;
  term: number | null;
  lag: number | null;
  reachable: boolean | null;
  self: boolean;
  /** The leader's autopilot on this member ("voter since 10:42", "learner: catching up"); null when not known. */
  membership: string | null;
  /** Its state differs from the majority's (state check): it serves no clients until an operator resyncs it. */
  diverged: boolean;
}

/** One row per member, joining the leader's view (match, reachable) with each replica's own answer (role, term). */
export function clusterNodes(status: ReplicaStatus, probes: Record<string, ReplicaStatus | null>, now: number): NodeView[] {
  const leaderId = status.leader?.id ?? (status.role === 'leader' ? status.id : null);
  const fromLeader = status.role === 'leader';
  return status.members.map((m: ReplicaStatusRow) => {
    const own: ReplicaStatus | null | undefined = m.id === status.id ? status : probes[m.address];
    const isLeader = m.id === leaderId;
    const reachable: boolean | null = fromLeader ? (m.id === status.id ? true : (m.reachable ?? null)) : own === undefined ? null : own !== null;
    const lag = fromLeader ? (m.id === status.id ? 0 : m.match !== undefined ? Math.max(0, status.lastIndex - m.match) : null) : null;
    // A member that did not answer this window (e.g. it refuses this page's origin) but that the leader reaches has the
    // role its membership gives it.
    const role = own ? own.role : reachable === false || (own === null && reachable !== true) ? 'unknown' : isLeader ? 'leader' : m.voter ? 'follower' : 'learner';
    const membership = describeMember(m, now);
    // The answering replica's comparison: this member's latest checkpoint differs, or it is named diverged.
    const diverged = m.stateCheck?.agrees === false || (status.stateCheck?.diverged ?? []).includes(m.id);
    return { id: m.id, address: m.address, voter: m.voter, leader: isLeader, role, term: own ? own.term : null, lag, reachable, self: m.id === status.id, membership, diverged };
  });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function Diagram({ nodes, term }: { nodes: NodeView[]; term: number }) {
  const W = 520;
  const H = 340;
  const cx = W / 2;
  const cy = H / 2 + 4;
  const R = nodes.length <= 1 ? 0 : Math.min(125, 60 + nodes.length * 14);
  const at = nodes.map((_, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, nodes.length);
    return { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a) };
  });
  const li = nodes.findIndex((n) => n.leader);
  const divergedIds = nodes.filter((n) => n.diverged).map((n) => n.id);
  const summary = `${nodes.length} replicas; ${nodes.filter((n) => n.reachable === false).length} unreachable;${divergedIds.length ? ` state diverged: ${divergedIds.join(', ')};` : ''} leader ${li >= 0 ? nodes[li].id : 'unknown'}; term ${term}`;
  return (
    <svg className="diagram" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Cluster diagram: ${summary}`}>
      <circle cx={cx} cy={cy} r={R} className="ring" />
      {li >= 0 &&
        nodes.map((n, i) =>
          i === li ? null : (
            <g key={`e-${n.id}`}>
              <line x1={at[li].x} y1={at[li].y} x2={at[i].x} y2={at[i].y} className={`edge ${n.reachable === false ? 'down' : n.reachable ? 'up' : 'unknown'}`} />
              {n.lag !== null && (
                <text x={at[li].x + (at[i].x - at[li].x) * 0.5} y={at[li].y + (at[i].y - at[li].y) * 0.5 + 4} className="edge-label" textAnchor="middle">
                  {n.reachable === false ? 'unreachable' : `lag ${n.lag}`}
                </text>
              )}
            </g>
          ),
        )}
      <text x={12} y={24} className="center-label">
        term {term}
      </text>
      <text x={12} y={42} className="center-sub">
        {plural(nodes.filter((n) => n.voter).length, 'voter')}, {plural(nodes.filter((n) => !n.voter).length, 'learner')}
      </text>
      {nodes.map((n, i) => (
        <g key={n.id} className={`node ${n.leader ? 'leader' : ''} ${n.reachable === false ? 'down' : ''} ${n.voter ? 'voter' : 'learner'}`} transform={`translate(${at[i].x} ${at[i].y})`}>
          <title>{`${n.id} (${n.address}): ${n.role}${n.reachable === false ? ', unreachable' : ''}${n.voter ? '' : ', learner'}${n.diverged ? ', state diverged' : ''}`}</title>
          {n.leader && <circle r={43} className="halo" />}
          <circle r={35} className="node-circle" />
          <text y={-4} textAnchor="middle" className="node-id">
            {n.id.length > 10 ? `${n.id.slice(0, 9)}…` : n.id}
          </text>
          <text y={12} textAnchor="middle" className="node-role">
            {n.reachable === false ? 'down' : n.role}
          </text>
        </g>
      ))}
    </svg>
  );
}

function ActionButton({ label, name, enabled, onClick, className = 'secondary' }: { label: string; name: string; enabled: boolean; onClick(): void; className?: string }) {
  // aria-disabled rather than disabled: stays focusable and shows why in its tooltip.
  return (
    <button
      type="button"
      className={`${className} small`}
      aria-disabled={!enabled}
      aria-label={name}
      title={enabled ? undefined : 'only the desktop app, which holds the cluster secret, can change the membership'}
      onClick={(e: MouseEvent) => {
        if (!enabled) return e.preventDefault();
        onClick();
      }}
    >
      {label}
    </button>
  );
}

/** The largest odd number that is at most `n` (at least 1), as autopilot's voter count. */
function largestOdd(n: number): number {
  return Math.max(1, n % 2 === 1 ? n : n - 1);
}

/**
 * Why caught-up learners stay learners while autopilot has the voters it wants, or null: it keeps an odd number of
 * voters (two members keep one) and at most its target. Null when the count is not explained so (e.g. a learner is
 * still catching up: its row says so).
 */
export function learnersHeldText(autopilot: AutopilotSummary, members: readonly { id: string; voter: boolean }[]): string | null {
  if (!autopilot.enabled || autopilot.waiting) return null;
  const learners = members.filter((m) => !m.voter).map((m) => m.id);
  const voters = members.length - learners.length;
  if (learners.length === 0 || voters !== autopilot.desiredVoters) return null;
  const who = `${learners.join(', ')} ${learners.length === 1 ? 'stays a learner' : 'stay learners'}`;
  if (voters >= autopilot.targetVoters) return `${who}: ${voters} voters is the most wanted (target ${autopilot.targetVoters}).`;
  if (voters !== largestOdd(members.length)) return null;
  return `${who}: ${members.length} members keep ${plural(voters, 'voter')}, an odd number (${voters + 1} would tolerate no more failures and need a larger majority); promoted when another machine joins.`;
}

/** What the leader's autopilot aims at, what it waits for, and the changes it made (with their reasons). */
function AutopilotPanel({ autopilot, members, now }: { autopilot: AutopilotSummary; members: readonly { id: string; voter: boolean }[]; now: number }) {
  const held = learnersHeldText(autopilot, members);
  return (
    <section className="autopilot" aria-labelledby="autopilot-title">
      <h3 id="autopilot-title">Autopilot</h3>
      <p>
        {autopilot.enabled
          ? `Keeps ${autopilot.desiredVoters} voter${autopilot.desiredVoters === 1 ? '' : 's'} (at most ${autopilot.targetVoters}): promotes a learner that has stayed caught up for ${formatDuration(autopilot.stabilizeMs)}, demotes a voter unreachable for ${formatDuration(autopilot.deadAfterMs)}.`
          : 'Off: voters change only by hand.'}
        {autopilot.waiting && <> {autopilot.waiting}</>}
      </p>
      {held && <p>{held}</p>}
      {autopilot.recent.length > 0 && (
        <ul className="autopilot-changes">
          {[...autopilot.recent].reverse().map((c) => (
            <li key={`${c.at}-${c.id}-${c.op}`}>
              {formatClock(c.at, now)} · {c.op === 'promote' ? 'promoted' : 'demoted'} {c.id}: {c.explanation}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function ClusterView() {
  const { api } = useAppContext();
  const status = useApp((s) => s.status);
  const statusAt = useApp((s) => s.statusAt);
  const probes = useApp((s) => s.memberStatus);
  const conn = useApp((s) => s.conn);
  const toast = useApp((s) => s.toast);
  const refresh = useApp((s) => s.refreshStatus);
  const [invite, setInvite] = useState('');
  const cluster = api.cluster;
  const can = cluster !== null;

  const act = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
      toast(what);
      void refresh(true);
    } catch (err) {
      toast(readableError(err), 'error');
    }
  };
  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!cluster || !invite.trim()) return;
    void act('Replica added as a learner; it becomes a voter once it has caught up.', () => cluster.add(invite.trim()));
    setInvite('');
  };

  const nodes = status ? clusterNodes(status, probes, statusAt ?? Date.now()) : [];
  const health = clusterHealth(status);
  return (
    <section className="cluster-view" aria-labelledby="cluster-title">
      <ViewHeader id="cluster-title" title="Cluster" />
      {!status ? (
        <p className="muted">{conn.status === 'connected' ? 'Asking the replica…' : 'Not connected to any replica. The view fills in as soon as one answers.'}</p>
      ) : (
        <>
          <p className="cluster-summary">
            {status.leader ? (
              <>
                Leader <strong>{status.leader.id}</strong> in term {status.term}.{' '}
              </>
            ) : (
              <>No leader right now (term {status.term}). </>
            )}
            {health ? `${health.reachable} of ${health.voters} voters reachable; ${surviveText(health)}.` : 'Reachability is known only to the leader.'}
            {!status.quorum && <strong className="error"> No majority reachable: read-only.</strong>}
          </p>
          <Diagram nodes={nodes} term={status.term} />
          {status.autopilot && <AutopilotPanel autopilot={status.autopilot} members={status.members} now={statusAt ?? Date.now()} />}
          {/* Scrolls by itself when narrower than its columns, instead of pushing the whole view sideways. */}
          <div className="members-scroll">
          <table className="members">
            <caption className="visually-hidden">Replicas</caption>
            <thead>
              <tr>
                <th scope="col">Replica</th>
                <th scope="col">Address</th>
                <th scope="col">Role</th>
                <th scope="col">Term</th>
                <th scope="col">Lag</th>
                <th scope="col">Reachable</th>
                <th scope="col">Membership</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((n) => (
                <tr key={n.id} className={n.reachable === false ? 'down' : ''}>
                  <th scope="row">
                    <span className="member-id">{n.id}</span>
                    {n.leader && <span className="tag accent">leader</span>}
                    {n.diverged && (
                      <span className="tag bad" role="img" aria-label={`${n.id}: state diverged from the cluster's; it serves no clients until resynced (npm run cluster -- resync ${n.id})`} title={`its state differs from the majority's: npm run cluster -- resync ${n.id}`}>
                        diverged
                      </span>
                    )}
                  </th>
                  <td className="mono">{n.address}</td>
                  <td>{n.role}</td>
                  <td>{n.term ?? '—'}</td>
                  <td className="lag">{n.lag === null ? '—' : n.lag === 0 ? 'up to date' : `${n.lag} entries`}</td>
                  <td>{n.reachable === null ? 'unknown' : n.reachable ? 'yes' : 'no'}</td>
                  <td className="membership">{n.membership ?? (n.voter ? 'voter' : 'learner')}</td>
                  <td>
                    <div className="actions">
                    {!n.leader && n.voter && (
                      <ActionButton label="Transfer leadership" name={`Transfer leadership to ${n.id}`} enabled={can} onClick={() => void act(`Leadership handed to ${n.id}.`, () => cluster!.transferLeadership(n.id))} />
                    )}
                    <ActionButton label="Remove" name={`Remove ${n.id}`} className="danger-outline" enabled={can} onClick={() => void act(`${n.id} removed from the cluster.`, () => cluster!.remove(n.id))} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <form className="add-replica" onSubmit={add}>
            <label className="field grow">
              <span>New replica (ID HOST:PORT)</span>
              <input value={invite} onChange={(e) => setInvite(e.target.value)} placeholder="r4 10.0.0.4:7400" spellCheck={false} />
            </label>
            <button
              type="submit"
              className="primary"
              aria-disabled={!can}
              title={can ? undefined : 'only the desktop app, which holds the cluster secret, can change the membership'}
              onClick={(e) => {
                if (!can) e.preventDefault();
              }}
            >
              Add replica
            </button>
          </form>
          <p className="muted small">
            Updated {statusAt ? new Date(statusAt).toLocaleTimeString() : '—'} · refreshes every second · answered by {status.id}
          </p>
        </>
      )}
    </section>
  );
}
