/**
 * Which instance of an Auto Scaling group is a Server wave's new host, and whether it is up, still
 * starting, or down, from what Auto Scaling and EC2 say of the group. The new host is the instance
 * one more unit of desired capacity launched: CodeDeploy's launch lifecycle hook holds it in
 * `Pending:Wait` while it installs the group's last successful revision (this build: the region's
 * deployment succeeded before the gate runs), then lets it go InService
 * (https://docs.aws.amazon.com/codedeploy/latest/userguide/integrations-aws-auto-scaling.html#integrations-aws-auto-scaling-behaviors).
 * A failed install abandons the launch and the instance terminates.
 *
 * Ours: the instance already tagged with the release (kept even once it has left the group, so one
 * replaced by Auto Scaling reads as down, never as its replacement), else the first the group lists
 * that was not there before the launch. Up: InService and Healthy. Starting: none yet, or Pending,
 * Pending:Wait, Pending:Proceed. Down: Unhealthy, Terminating/Terminated, Detaching/Detached,
 * Standby, or no longer in the group; the latest scaling activity's message says why when known.
 * Lifecycle states: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Instance.html
 * Pure: the shapes below are the parts of Auto Scaling's and EC2's answers it reads.
 */
import type { HostReadiness } from './new-host.ts';

/** One instance of DescribeAutoScalingGroups' `Instances`. */
export interface AsgInstanceView {
  instanceId: string;
  lifecycleState?: string;
  /** `Healthy` or `Unhealthy`. */
  healthStatus?: string;
}

export interface AsgNewHostFacts {
  /** The group's instances now. */
  inGroup: readonly AsgInstanceView[];
  /** The instance ids the group had before the launch. */
  before: readonly string[];
  /** The instance already tagged as this release's new host in the group (EC2 DescribeInstances), with EC2's state name. */
  tagged?: { instanceId: string; state?: string };
  /** The group's latest scaling activity about it (its StatusMessage or Description), when one was read. */
  activity?: string;
}

export interface AsgNewHost {
  /** Ours, when there is one yet. */
  instanceId?: string;
  /** Whether it still needs the release's tag (found by difference, not by its tag). */
  untagged: boolean;
  /** What it is in the group (`InService`…), when it is in the group. */
  instance?: AsgInstanceView;
  readiness: HostReadiness;
}

const STARTING = new Set(['Pending', 'Pending:Wait', 'Pending:Proceed']);

/** The group's new instance and its readiness (see the top comment). */
export function asgNewHost(facts: AsgNewHostFacts): AsgNewHost {
  const why = (text: string) => (facts.activity ? `${text}; latest scaling activity: ${facts.activity}` : text);
  const before = new Set(facts.before);
  if (facts.tagged) {
    const instance = facts.inGroup.find((i) => i.instanceId === facts.tagged?.instanceId);
    if (!instance) {
      return {
        instanceId: facts.tagged.instanceId,
        untagged: false,
        readiness: {
          kind: 'down',
          why: why(`is no longer in the group (EC2: ${facts.tagged.state ?? 'unknown state'})`),
        },
      };
    }
    return { instanceId: instance.instanceId, untagged: false, instance, readiness: readinessOf(instance, why) };
  }
  const fresh = facts.inGroup.find((i) => !before.has(i.instanceId));
  if (!fresh) return { untagged: false, readiness: { kind: 'starting', why: why('no new instance in the group yet') } };
  return { instanceId: fresh.instanceId, untagged: true, instance: fresh, readiness: readinessOf(fresh, why) };
}

function readinessOf(instance: AsgInstanceView, why: (text: string) => string): HostReadiness {
  const state = instance.lifecycleState ?? 'Pending';
  const health = instance.healthStatus ?? 'no health status';
  if (instance.healthStatus === 'Unhealthy') return { kind: 'down', why: why(`is ${state}, Unhealthy`) };
  if (state === 'InService') {
    return instance.healthStatus === 'Healthy'
      ? { kind: 'up', why: 'InService, Healthy' }
      : { kind: 'starting', why: `InService, ${health}` };
  }
  if (STARTING.has(state)) {
    return {
      kind: 'starting',
      why: state === 'Pending:Wait' ? `${state}: its launch hooks run, CodeDeploy's install among them` : state,
    };
  }
  // Terminating*, Terminated, Detaching, Detached, EnteringStandby, Standby, Quarantined, Warmed:*:
  // none of them goes InService by itself.
  return { kind: 'down', why: why(`is ${state}`) };
}

/** Whether a lifecycle state is on the way out of the group (nothing left to terminate). */
export function leavingGroup(state: string | undefined): boolean {
  return state !== undefined && (state.startsWith('Terminat') || state.startsWith('Detach'));
}
