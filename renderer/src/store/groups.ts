/**
 * Group conversations: creating a group, adding and removing members, leaving, renaming (the group list itself and
 * the `#name` conversations are kept by threads.ts). Each action answers null when done, or the sentence to show.
 */
import { GroupName, Username } from '../../../replica/protocol/client.js';
import { LIMITS } from '../../../replica/protocol/limits.js';
import type { GroupSummary } from '../net/api.js';
import { teamError } from '../errors.js';
import { groupKey } from './messages.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export interface GroupsActions {
  /** Creates a group with this account and `members` (usernames; written with commas or spaces) and opens it. */
  createGroup(name: string, members: string): Promise<GroupFormErrors | null>;
  addMembers(group: string, members: string): Promise<string | null>;
  removeMember(group: string, member: string): Promise<string | null>;
  leaveGroup(group: string): Promise<string | null>;
  renameGroup(group: string, name: string): Promise<string | null>;
}

/** What is wrong with a group form, per field (shown next to the field), or from the cluster (`form`). */
export interface GroupFormErrors {
  name?: string;
  members?: string;
  form?: string;
}

/** Usernames as a person writes them: separated by commas or spaces, an `@` allowed in front, each once. */
export function parseMembers(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of text.split(/[\s,;]+/)) {
    const name = raw.replace(/^@/, '');
    if (name === '' || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out;
}

/** Why a group name cannot be used, or null. */
export function groupNameError(name: string): string | null {
  const n = name.replace(/^#/, '');
  if (n === '') return 'Give the group a name.';
  if (!GroupName.safeParse(n).success) return `Group names are 1–${LIMITS.groupNameMax} letters, digits, “_”, “.” or “-”.`;
  return null;
}

/** Why a member list cannot be used (unknown accounts are the cluster's to say), or null. */
export function membersError(members: string[], me: string | null): string | null {
  const bad = members.filter((m) => !Username.safeParse(m).success);
  if (bad.length) return `Not a username: ${bad.join(', ')}. Usernames are letters, digits, “_”, “.” or “-”.`;
  const others = members.filter((m) => m.toLowerCase() !== me?.toLowerCase());
  if (others.length + 1 > LIMITS.groupMembersMax) return `A group has at most ${LIMITS.groupMembersMax} members.`;
  return null;
}

export function createGroupsSlice(set: SetState, get: GetState, { api, ops }: SliceDeps): GroupsActions {
  /** Keeps the group's summary an answer returned (members, admins, name). */
  const take = (g: GroupSummary, oldName?: string) =>
    set((s) => {
      const groups = { ...s.groups };
      if (oldName !== undefined && oldName !== g.name) delete groups[oldName];
      const prev = s.groups[g.name] ?? (oldName !== undefined ? s.groups[oldName] : undefined);
      groups[g.name] = { ...g, ...(prev?.lastMessage && !g.lastMessage ? { lastMessage: prev.lastMessage } : {}) };
      return { groups };
    });

  const run = async (action: () => Promise<void>): Promise<string | null> => {
    if (!api.team) return 'This connection has no groups.';
    try {
      await action();
      return null;
    } catch (err) {
      return teamError(err);
    }
  };

  return {
    async createGroup(nameText, membersText) {
      const name = nameText.trim().replace(/^#/, '');
      const members = parseMembers(membersText);
      const me = get().user;
      const errors: GroupFormErrors = {};
      const nameProblem = groupNameError(name);
      if (nameProblem) errors.name = nameProblem;
      const membersProblem = membersError(members, me);
      if (membersProblem) errors.members = membersProblem;
      if (errors.name || errors.members) return errors;
      if (!api.team || !me) return { form: 'This connection has no groups.' };
      try {
        const r = await api.team.createGroup(
          name,
          members.filter((m) => m.toLowerCase() !== me.toLowerCase()),
        );
        take(r.group);
        const key = groupKey(r.group.name);
        set((s) => (s.conversations[key] ? {} : { conversations: { ...s.conversations, [key]: { with: key, lastMessage: { id: 0, from: me, to: key, text: '', sentAt: Date.now(), deliveredAt: null, readAt: null, group: r.group.name }, unread: 0 } } }));
        get().openConversation(key);
        ops.watchPresence();
        return null;
      } catch (err) {
        return { form: teamError(err) };
      }
    },

    addMembers(group, membersText) {
      const members = parseMembers(membersText);
      const problem = members.length === 0 ? 'Name at least one account to add.' : membersError(members, get().user);
      if (problem) return Promise.resolve(problem);
      return run(async () => {
        take((await api.team!.addMembers(group, members)).group);
        ops.watchPresence();
      });
    },

    removeMember(group, member) {
      return run(async () => take((await api.team!.removeMembers(group, [member])).group));
    },

    leaveGroup(group) {
      return run(async () => {
        await api.team!.leaveGroup(group);
        const key = groupKey(group);
        set((s) => {
          const { [group]: _gone, ...groups } = s.groups;
          const { [key]: _conv, ...conversations } = s.conversations;
          const { [key]: _thread, ...threads } = s.threads;
          return { groups, conversations, threads, active: s.active === key ? null : s.active };
        });
        ops.reportUnread();
      });
    },

    renameGroup(group, nameText) {
      const name = nameText.trim().replace(/^#/, '');
      const problem = groupNameError(name);
      if (problem) return Promise.resolve(problem);
      return run(async () => take((await api.team!.renameGroup(group, name)).group, group));
    },
  };
}
