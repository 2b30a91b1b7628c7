/**
 * A Server new host's mark on its Auto Scaling group: a group tag (PropagateAtLaunch false, so no
 * instance gets it) written before the launch raises the desired capacity, naming the release, the
 * region, the wave, the desired capacity before, the launch's time and, once a round has seen it,
 * the new instance. It is what the group itself remembers of a launch, so that
 *
 * - a launch retried (StartBake retried by the state machine after its launch had already raised
 *   the capacity) finds its own mark and does not raise again (`adoptedMark`, `beforeOfMark`);
 * - the sweep of a release's end, which knows only the release, finds a launch no round ever saw
 *   (the execution died first): the instance the mark names, else the one tagged as the release's
 *   new host of that region, else the first launched since the mark that no other release claims;
 *   with none, the capacity the launch added is given back (`leftovers`).
 *
 * Key `flotilla:new-host:<release>:<region>` (at most 128 characters: a region name that would
 * not fit is replaced by a hash of it); value `<release> <wave> <desired before> <ms> [<instance>]`
 * (release ids are Step Functions execution names: at most 80 characters, no whitespace; the value
 * stays well under Auto Scaling's 256). https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Tag.html
 * Pure: the shapes below are the parts of Auto Scaling's and EC2's answers read.
 */
import { type AsgInstanceView, type AsgNewHost, leavingGroup } from './asg-instance.ts';

export const MARK_PREFIX = 'flotilla:new-host:';
/** The EC2 tags a new-host instance carries (adapters/aws/asg-new-host.ts writes them). */
export const RELEASE_TAG = 'flotilla:release';
export const REGION_TAG = 'flotilla:new-host';

const KEY_MAX = 128;
const VALUE_MAX = 256;

export interface AsgMark {
  /** The group tag's key. */
  key: string;
  releaseId: string;
  wave: number;
  desiredBefore: number;
  /** When the launch was marked (ms), before it raised the capacity. */
  at: number;
  /** The new instance, once a round (or a stop) has seen it. */
  instanceId?: string;
  /** The region, read back from the key (none when the key has its hash). */
  region?: string;
}

/** FNV-1a, 32 bits, as 8 hex digits: a short stable name for a region that would not fit in a key. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** The mark's key for a release's new host of a region. */
export function markKey(releaseId: string, region: string): string {
  const plain = `${MARK_PREFIX}${releaseId}:${region}`;
  return plain.length <= KEY_MAX ? plain : `${MARK_PREFIX}${releaseId}:#${hash(region)}`;
}

/** The mark's tag value. Throws on a value Auto Scaling would refuse (it cannot happen with an execution name). */
export function markValue(mark: Omit<AsgMark, 'key'>): string {
  const value = [mark.releaseId, mark.wave, mark.desiredBefore, mark.at, ...(mark.instanceId ? [mark.instanceId] : [])]
    .map(String)
    .join(' ');
  if (value.length > VALUE_MAX || /\s/.test(mark.releaseId))
    throw new Error(`release id ${mark.releaseId} cannot mark a launch`);
  return value;
}

/** The group's marks among its tags; a tag under the prefix that does not read as one is not a mark. */
export function parseMarks(tags: readonly { key: string; value: string }[]): AsgMark[] {
  return tags.flatMap(({ key, value }) => {
    if (!key.startsWith(MARK_PREFIX)) return [];
    const [releaseId, wave, desired, at, instanceId] = value.split(' ');
    const numbers = [Number(wave), Number(desired), Number(at)];
    if (!releaseId || !numbers.every((n) => Number.isInteger(n) && n >= 0)) return [];
    const [w, d, t] = numbers as [number, number, number];
    const head = `${MARK_PREFIX}${releaseId}:`;
    const region = key.startsWith(head) && !key.startsWith(`${head}#`) ? key.slice(head.length) : undefined;
    return [
      {
        key,
        releaseId,
        wave: w,
        desiredBefore: d,
        at: t,
        ...(instanceId ? { instanceId } : {}),
        ...(region ? { region } : {}),
      },
    ];
  });
}

/**
 * The mark a launch of the release's new host of `region` already made, if it is recent enough
 * (younger than `maxAgeMs`: a retry of the same StartBake) to be this launch's: then it does not
 * raise again. An older one is a launch of before (a wave run again) and is marked over.
 */
export function adoptedMark(
  marks: readonly AsgMark[],
  at: { releaseId: string; region: string; now: number; maxAgeMs: number },
): AsgMark | undefined {
  const key = markKey(at.releaseId, at.region);
  return marks.find(
    (m) => m.key === key && m.releaseId === at.releaseId && at.now - m.at < at.maxAgeMs && m.at <= at.now,
  );
}

/** One instance as EC2 DescribeInstances answers it: its launch time (ms) and tags. */
export interface Ec2InstanceView {
  instanceId: string;
  launchedAt?: number;
  tags: Record<string, string>;
}

/**
 * Whether an instance may be the marked launch's: launched in the mark's second or later (EC2's
 * LaunchTime has whole seconds; the mark is written before the capacity is raised, so the new
 * instance is never older).
 */
const launchedSince = (mark: AsgMark, i: Ec2InstanceView) =>
  i.launchedAt !== undefined && i.launchedAt >= mark.at - (mark.at % 1000);

/**
 * The group's instances of before an adopted launch (the handle's `before`): all but the one the
 * mark names, or, when it names none yet, all launched before the mark.
 */
export function beforeOfMark(mark: AsgMark, inGroup: readonly string[], ec2: readonly Ec2InstanceView[]): string[] {
  if (mark.instanceId) return inGroup.filter((id) => id !== mark.instanceId);
  return inGroup.filter((id) => {
    const seen = ec2.find((i) => i.instanceId === id);
    return !seen || !launchedSince(mark, seen);
  });
}

export interface LeftoverFacts {
  /** The release whose new hosts are left; undefined: every release's. */
  releaseId?: string;
  marks: readonly AsgMark[];
  desired: number;
  min: number;
  inGroup: readonly AsgInstanceView[];
  /** The group's instances as EC2 lists them (pending or running), with their tags and launch times. */
  ec2: readonly Ec2InstanceView[];
}

export interface Leftovers {
  /** Instances to terminate with the capacity decremented, with the region each was the new host of. */
  terminate: { instanceId: string; region?: string }[];
  /** The desired capacity to set, for launches that have launched nothing yet. */
  desiredTo?: number;
  /** The regions (else mark keys) of those launches. */
  givenBack: string[];
  /** Mark keys to delete once the rest is done. */
  deleteMarks: string[];
}

/**
 * What the release left in one group: every instance tagged with it (with any release, without an
 * id) still in service there, and, for each of its marks, the mark's instance (named, tagged as
 * its new host of its region, or the first launched since the mark that no other release and no
 * other mark claims) or, with none, one unit of the capacity it added, while the group is still
 * above the mark's capacity of before and its MinSize. An instance already on its way out or gone
 * from the group is left alone. Every one of the release's marks is then deleted.
 */
export function leftovers(facts: LeftoverFacts): Leftovers {
  const ours = (releaseId: string | undefined) =>
    releaseId !== undefined && (facts.releaseId === undefined || releaseId === facts.releaseId);
  const member = new Map(facts.inGroup.map((i) => [i.instanceId, i]));
  const live = (id: string) => {
    const m = member.get(id);
    return m !== undefined && !leavingGroup(m.lifecycleState);
  };
  const terminate = new Map<string, string | undefined>();
  for (const i of facts.ec2) {
    if (ours(i.tags[RELEASE_TAG]) && live(i.instanceId)) terminate.set(i.instanceId, i.tags[REGION_TAG]);
  }
  const mine = facts.marks.filter((m) => ours(m.releaseId)).sort((a, b) => a.at - b.at);
  // Claimed already: named by any mark, or tagged with any release (another's is not ours).
  const claimed = new Set<string>(facts.marks.flatMap((m) => (m.instanceId ? [m.instanceId] : [])));
  for (const i of facts.ec2) if (i.tags[RELEASE_TAG] !== undefined) claimed.add(i.instanceId);
  const givenBack: string[] = [];
  for (const mark of mine) {
    const regionTagged = facts.ec2.find(
      (i) =>
        i.tags[RELEASE_TAG] === mark.releaseId &&
        i.tags[REGION_TAG] !== undefined &&
        markKey(mark.releaseId, i.tags[REGION_TAG]) === mark.key,
    );
    const found =
      mark.instanceId ??
      regionTagged?.instanceId ??
      [...facts.ec2]
        .filter((i) => !claimed.has(i.instanceId) && launchedSince(mark, i) && member.has(i.instanceId))
        .sort((a, b) => (a.launchedAt ?? 0) - (b.launchedAt ?? 0) || a.instanceId.localeCompare(b.instanceId))[0]
        ?.instanceId;
    if (found) {
      claimed.add(found);
      const region = facts.ec2.find((i) => i.instanceId === found)?.tags[REGION_TAG] ?? mark.region;
      if (live(found) && !terminate.has(found)) terminate.set(found, region);
      continue;
    }
    const desired = facts.desired - givenBack.length;
    if (desired > mark.desiredBefore && desired > facts.min) givenBack.push(mark.region ?? mark.key);
  }
  return {
    terminate: [...terminate].map(([instanceId, region]) => ({ instanceId, ...(region ? { region } : {}) })),
    ...(givenBack.length > 0 ? { desiredTo: facts.desired - givenBack.length } : {}),
    givenBack,
    deleteMarks: mine.map((m) => m.key),
  };
}

/** What stopping a new host does, in order: name its instance in the mark, terminate it or lower the capacity, delete the mark. */
export interface StopPlan {
  /** The instance to name in the mark before terminating it (found by difference: no round saw it). */
  nameInMark?: string;
  terminate?: string;
  desiredTo?: number;
  deleteMark?: string;
}

/**
 * Stopping a new host whose launch the handle knows: its instance (tagged, or found by
 * difference) terminated unless already on its way out; with none launched yet, the capacity the
 * launch added lowered while the group is still above the launch's capacity and its MinSize; the
 * mark deleted last. The mark names an instance found by difference first, so that a stop that
 * dies between terminating and deleting leaves a mark the sweep reads right (its instance gone:
 * nothing more to do), never one that would take another instance for it.
 */
export function stopPlan(facts: {
  seen: AsgNewHost;
  mark?: AsgMark;
  desired: number;
  min: number;
  desiredBefore: number;
}): StopPlan {
  const { seen, mark } = facts;
  const deleteMark = mark ? { deleteMark: mark.key } : {};
  if (seen.instance) {
    if (leavingGroup(seen.instance.lifecycleState)) return deleteMark;
    return {
      ...(mark && mark.instanceId !== seen.instance.instanceId ? { nameInMark: seen.instance.instanceId } : {}),
      terminate: seen.instance.instanceId,
      ...deleteMark,
    };
  }
  if (seen.instanceId) return deleteMark; // Tagged and already gone from the group: nothing left of it.
  const raised =
    Number.isFinite(facts.desiredBefore) && facts.desired > facts.desiredBefore && facts.desired > facts.min;
  return { ...(raised ? { desiredTo: facts.desired - 1 } : {}), ...deleteMark };
}

/** The instance a probe round should name in the mark: the new one it found, when the mark does not name it yet. */
export function toNameInMark(seen: AsgNewHost, mark: AsgMark | undefined): string | undefined {
  return mark && seen.instanceId && seen.instance && mark.instanceId !== seen.instanceId ? seen.instanceId : undefined;
}
