/**
 * A stateful fake of AWS CodeDeploy for aws-sdk-client-mock: enough of the service's behaviour
 * (deployment life cycle, one active deployment per group, last successful deployment, throttling,
 * auto-rollback, blue/green's wait for a traffic reroute) for adapter and backend tests that cannot reach AWS.
 *
 *   const cd = mockClient(CodeDeployClient);
 *   const fake = createFakeCodeDeploy({ pollsToComplete: 2, failWhen: (g, rev, n) => n === 2 });
 *   fake.install(cd);
 *
 * State is keyed by (AWS region, application, deployment group); the region is the calling
 * client's own (`await client.config.region()`), so one fake serves clients for many regions.
 * Errors are the SDK's own exception classes, with the names and messages CodeDeploy uses.
 */
import {
  type CodeDeployClientResolvedConfig,
  ContinueDeploymentCommand,
  type ContinueDeploymentCommandInput,
  CreateDeploymentCommand,
  type CreateDeploymentCommandInput,
  DeploymentAlreadyCompletedException,
  DeploymentDoesNotExistException,
  type DeploymentInfo,
  DeploymentIsNotInReadyStateException,
  DeploymentLimitExceededException,
  type DeploymentStatus,
  GetDeploymentCommand,
  type GetDeploymentCommandInput,
  GetDeploymentGroupCommand,
  type GetDeploymentGroupCommandInput,
  ListDeploymentsCommand,
  type ListDeploymentsCommandInput,
  type RevisionLocation,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  StopDeploymentCommand,
  type StopDeploymentCommandInput,
  ThrottlingException,
} from '@aws-sdk/client-codedeploy';
import type { AwsStub } from 'aws-sdk-client-mock';

export type CodeDeployStub = AwsStub<ServiceInputTypes, ServiceOutputTypes, CodeDeployClientResolvedConfig>;

/** Where a deployment group lives. */
export interface FakeGroupKey {
  awsRegion: string;
  application: string;
  deploymentGroup: string;
}

/** One deployment the fake knows, as tests see it. `status` is its current (eventually final) status. */
export interface FakeDeployment extends FakeGroupKey {
  deploymentId: string;
  revision: RevisionLocation;
  description: string | undefined;
  status: DeploymentStatus;
  /** GetDeployment calls so far: they drive the life cycle. */
  polls: number;
  /** Who made it: CreateDeployment, a test's `startExternal`/`seed`, or the fake's auto-rollback. */
  origin: 'create' | 'external' | 'seed' | 'rollback';
  /** Will it end Failed (a scripted failure) rather than Succeeded? */
  willFail: string | null;
  errorMessage?: string;
  rollbackDeploymentId?: string;
  rollbackTriggeringDeploymentId?: string;
  createTime: Date;
  completeTime?: Date;
  /** The deploymentWaitType of each ContinueDeployment it received. */
  continued: string[];
}

export type FakeOperation =
  | 'CreateDeployment'
  | 'GetDeployment'
  | 'GetDeploymentGroup'
  | 'ListDeployments'
  | 'StopDeployment'
  | 'ContinueDeployment';

export interface FakeCodeDeployOptions {
  /**
   * The GetDeployment poll (1-based) that first reports the final status; earlier polls say InProgress.
   * Default 2. Every GetDeployment counts, including an adapter's own reads (e.g. in a busy-group check).
   */
  pollsToComplete?: number;
  /**
   * Scripted failures: called once per CreateDeployment with the group, the revision and n, the
   * 1-based count of deployments created in that group. True (or a message) makes it end Failed.
   */
  failWhen?: (group: FakeGroupKey, revision: RevisionLocation, n: number) => boolean | string;
  /** When a deployment fails, CodeDeploy auto-rollback: a rollback deployment of the group's last good revision. */
  autoRollback?: boolean;
  /** The first N calls of each named operation throw ThrottlingException. */
  throttle?: Partial<Record<FakeOperation, number>>;
  /** ListDeployments page size, to exercise nextToken. Default 100. */
  listPageSize?: number;
  /**
   * Blue/green with a manual traffic reroute (deploymentReadyOption STOP_DEPLOYMENT): where a
   * deployment would end, it is `Ready` instead and stays so until ContinueDeployment (READY_WAIT);
   * the next poll after that ends it.
   */
  waitForReroute?: boolean;
  /** An ECS group's service, as GetDeploymentGroup's `ecsServices` names it (none by default). */
  ecsServiceOf?: (group: FakeGroupKey) => { clusterName: string; serviceName: string } | undefined;
  /** A Server group's Auto Scaling group, as GetDeploymentGroup's `autoScalingGroups` names it (none by default). */
  autoScalingGroupOf?: (group: FakeGroupKey) => string | undefined;
}

interface GroupState {
  key: FakeGroupKey;
  created: number;
  lastSuccessful?: FakeDeployment;
  lastAttempted?: FakeDeployment;
}

const ACTIVE: ReadonlySet<DeploymentStatus> = new Set(['Created', 'Queued', 'InProgress', 'Ready', 'Baking']);

export interface FakeCodeDeploy {
  /** Wires callsFake handlers for the six operations on a mockClient(CodeDeployClient) stub. */
  install(mock: CodeDeployStub): void;
  /** Every deployment, in creation order. */
  readonly deployments: readonly FakeDeployment[];
  /** Calls per operation (throttled ones included). */
  readonly calls: Record<FakeOperation, number>;
  deployment(deploymentId: string): FakeDeployment | undefined;
  /** Records a deployment that already ended (default Succeeded), e.g. what ran before Flotilla. */
  seed(
    group: FakeGroupKey,
    deployment: { revision: RevisionLocation; description?: string; status?: 'Succeeded' | 'Failed' | 'Stopped' },
  ): FakeDeployment;
  /** Starts a deployment someone else made; it occupies the group until polled or completed. */
  startExternal(group: FakeGroupKey, deployment: { revision: RevisionLocation; description?: string }): FakeDeployment;
  /** Ends an active deployment now. */
  complete(deploymentId: string, status: 'Succeeded' | 'Failed' | 'Stopped', message?: string): void;
  /** The group's last successful deployment, if any. */
  lastSuccessful(group: FakeGroupKey): FakeDeployment | undefined;
}

export function createFakeCodeDeploy(options: FakeCodeDeployOptions = {}): FakeCodeDeploy {
  const pollsToComplete = Math.max(1, options.pollsToComplete ?? 2);
  const pageSize = Math.max(1, options.listPageSize ?? 100);
  const deployments: FakeDeployment[] = [];
  const byId = new Map<string, FakeDeployment>();
  const groups = new Map<string, GroupState>();
  const calls: Record<FakeOperation, number> = {
    CreateDeployment: 0,
    GetDeployment: 0,
    GetDeploymentGroup: 0,
    ListDeployments: 0,
    StopDeployment: 0,
    ContinueDeployment: 0,
  };
  let nextId = 1;

  const groupKey = (g: FakeGroupKey) => `${g.awsRegion}\u0000${g.application}\u0000${g.deploymentGroup}`;
  const groupOf = (g: FakeGroupKey): GroupState => {
    const key = groupKey(g);
    let state = groups.get(key);
    if (!state) {
      state = {
        key: { awsRegion: g.awsRegion, application: g.application, deploymentGroup: g.deploymentGroup },
        created: 0,
      };
      groups.set(key, state);
    }
    return state;
  };
  const activeIn = (g: FakeGroupKey): FakeDeployment | undefined =>
    deployments.find((d) => groupKey(d) === groupKey(g) && ACTIVE.has(d.status));

  const meta = { httpStatusCode: 400, requestId: 'fake' };
  const throttled = (op: FakeOperation) => {
    calls[op]++;
    const limit = options.throttle?.[op] ?? 0;
    if (calls[op] <= limit) throw new ThrottlingException({ message: 'Rate exceeded', $metadata: meta });
  };

  const newDeployment = (
    g: FakeGroupKey,
    revision: RevisionLocation,
    description: string | undefined,
    origin: FakeDeployment['origin'],
    willFail: string | null,
  ): FakeDeployment => {
    const deployment: FakeDeployment = {
      deploymentId: `d-FAKE${String(nextId++).padStart(5, '0')}`,
      awsRegion: g.awsRegion,
      application: g.application,
      deploymentGroup: g.deploymentGroup,
      revision: structuredClone(revision),
      description,
      status: 'Created',
      polls: 0,
      origin,
      willFail,
      createTime: new Date(),
      continued: [],
    };
    deployments.push(deployment);
    byId.set(deployment.deploymentId, deployment);
    const state = groupOf(g);
    state.created++;
    state.lastAttempted = deployment;
    return deployment;
  };

  const finish = (
    d: FakeDeployment,
    status: 'Succeeded' | 'Failed' | 'Stopped',
    message?: string,
    rollbackAllowed = options.autoRollback === true,
  ) => {
    d.status = status;
    d.completeTime = new Date();
    if (message !== undefined) d.errorMessage = message;
    const state = groupOf(d);
    if (status === 'Succeeded') {
      state.lastSuccessful = d;
      return;
    }
    if (rollbackAllowed && d.origin !== 'rollback' && state.lastSuccessful) {
      const rollback = newDeployment(d, state.lastSuccessful.revision, undefined, 'rollback', null);
      rollback.rollbackTriggeringDeploymentId = d.deploymentId;
      d.rollbackDeploymentId = rollback.deploymentId;
    }
  };

  const advance = (d: FakeDeployment) => {
    d.polls++;
    if (!ACTIVE.has(d.status)) return;
    if (d.status === 'Ready') return; // until ContinueDeployment
    if (d.polls >= pollsToComplete && options.waitForReroute === true && !d.continued.includes('READY_WAIT')) {
      d.status = 'Ready';
    } else if (d.polls >= pollsToComplete) {
      if (d.willFail === null) finish(d, 'Succeeded');
      else finish(d, 'Failed', d.willFail);
    } else {
      d.status = 'InProgress';
    }
  };

  const info = (d: FakeDeployment): DeploymentInfo => ({
    applicationName: d.application,
    deploymentGroupName: d.deploymentGroup,
    deploymentId: d.deploymentId,
    revision: structuredClone(d.revision),
    status: d.status,
    ...(d.description !== undefined ? { description: d.description } : {}),
    ...(d.errorMessage !== undefined
      ? {
          errorInformation: {
            code: d.status === 'Stopped' ? ('MANUAL_STOP' as const) : ('HEALTH_CONSTRAINTS' as const),
            message: d.errorMessage,
          },
        }
      : {}),
    ...(d.rollbackDeploymentId !== undefined || d.rollbackTriggeringDeploymentId !== undefined
      ? {
          rollbackInfo: {
            ...(d.rollbackDeploymentId !== undefined ? { rollbackDeploymentId: d.rollbackDeploymentId } : {}),
            ...(d.rollbackTriggeringDeploymentId !== undefined
              ? { rollbackTriggeringDeploymentId: d.rollbackTriggeringDeploymentId }
              : {}),
          },
        }
      : {}),
    createTime: d.createTime,
    ...(d.completeTime !== undefined ? { completeTime: d.completeTime } : {}),
    creator: d.origin === 'rollback' ? ('codeDeployRollback' as const) : ('user' as const),
  });

  const lastInfo = (d: FakeDeployment | undefined) =>
    d === undefined
      ? undefined
      : { deploymentId: d.deploymentId, status: d.status, createTime: d.createTime, endTime: d.completeTime };

  /** The deployment, if it exists in the calling client's region (CodeDeploy is regional). */
  const find = (awsRegion: string, deploymentId: string | undefined): FakeDeployment => {
    const d = deploymentId === undefined ? undefined : byId.get(deploymentId);
    if (!d || d.awsRegion !== awsRegion) {
      throw new DeploymentDoesNotExistException({
        message: `The deployment ${deploymentId} could not be found in Amazon Web Services account.`,
        $metadata: meta,
      });
    }
    return d;
  };

  type GetClient = () => { config: { region: () => Promise<string> } };
  const regionOf = async (getClient: GetClient): Promise<string> => getClient().config.region();

  return {
    deployments,
    calls,
    deployment: (id) => byId.get(id),

    install(mock) {
      mock.on(CreateDeploymentCommand).callsFake(async (input: CreateDeploymentCommandInput, getClient: GetClient) => {
        throttled('CreateDeployment');
        const g: FakeGroupKey = {
          awsRegion: await regionOf(getClient),
          application: input.applicationName ?? '',
          deploymentGroup: input.deploymentGroupName ?? '',
        };
        const busy = activeIn(g);
        if (busy) {
          throw new DeploymentLimitExceededException({
            message: `The Deployment Group '${g.deploymentGroup}' already has an active Deployment '${busy.deploymentId}'`,
            $metadata: meta,
          });
        }
        const revision = input.revision ?? {};
        const n = groupOf(g).created + 1;
        const verdict = options.failWhen?.(g, revision, n) ?? false;
        const willFail = verdict === false ? null : verdict === true ? 'scripted failure' : verdict;
        const d = newDeployment(g, revision, input.description, 'create', willFail);
        return { deploymentId: d.deploymentId };
      });

      mock.on(GetDeploymentCommand).callsFake(async (input: GetDeploymentCommandInput, getClient: GetClient) => {
        throttled('GetDeployment');
        const d = find(await regionOf(getClient), input.deploymentId);
        advance(d);
        return { deploymentInfo: info(d) };
      });

      mock
        .on(GetDeploymentGroupCommand)
        .callsFake(async (input: GetDeploymentGroupCommandInput, getClient: GetClient) => {
          throttled('GetDeploymentGroup');
          const state = groupOf({
            awsRegion: await regionOf(getClient),
            application: input.applicationName ?? '',
            deploymentGroup: input.deploymentGroupName ?? '',
          });
          const service = options.ecsServiceOf?.(state.key);
          const asg = options.autoScalingGroupOf?.(state.key);
          return {
            deploymentGroupInfo: {
              applicationName: state.key.application,
              deploymentGroupName: state.key.deploymentGroup,
              ...(service ? { ecsServices: [service] } : {}),
              ...(asg
                ? {
                    autoScalingGroups: [
                      { name: asg, hook: `CodeDeploy-managed-automatic-launch-deployment-hook-${asg}` },
                    ],
                  }
                : {}),
              ...(state.lastSuccessful ? { lastSuccessfulDeployment: lastInfo(state.lastSuccessful) } : {}),
              ...(state.lastAttempted ? { lastAttemptedDeployment: lastInfo(state.lastAttempted) } : {}),
            },
          };
        });

      mock.on(ListDeploymentsCommand).callsFake(async (input: ListDeploymentsCommandInput, getClient: GetClient) => {
        throttled('ListDeployments');
        const g: FakeGroupKey = {
          awsRegion: await regionOf(getClient),
          application: input.applicationName ?? '',
          deploymentGroup: input.deploymentGroupName ?? '',
        };
        const statuses = input.includeOnlyStatuses;
        const ids = deployments
          .filter(
            (d) => groupKey(d) === groupKey(g) && (!statuses || statuses.length === 0 || statuses.includes(d.status)),
          )
          .map((d) => d.deploymentId)
          .reverse();
        const start = input.nextToken ? Number(input.nextToken) : 0;
        const page = ids.slice(start, start + pageSize);
        const next = start + pageSize < ids.length ? String(start + pageSize) : undefined;
        return { deployments: page, ...(next !== undefined ? { nextToken: next } : {}) };
      });

      mock.on(StopDeploymentCommand).callsFake(async (input: StopDeploymentCommandInput, getClient: GetClient) => {
        throttled('StopDeployment');
        const d = find(await regionOf(getClient), input.deploymentId);
        if (!ACTIVE.has(d.status)) {
          throw new DeploymentAlreadyCompletedException({
            message: `The deployment ${d.deploymentId} has already completed.`,
            $metadata: meta,
          });
        }
        // autoRollbackEnabled on the request overrides the group's auto-rollback setting.
        const rollback = input.autoRollbackEnabled ?? options.autoRollback === true;
        finish(d, 'Stopped', 'Deployment was stopped by a user request.', rollback);
        return { status: 'Succeeded', statusMessage: 'Deployment stopped' };
      });

      mock
        .on(ContinueDeploymentCommand)
        .callsFake(async (input: ContinueDeploymentCommandInput, getClient: GetClient) => {
          throttled('ContinueDeployment');
          const d = find(await regionOf(getClient), input.deploymentId);
          if (!ACTIVE.has(d.status)) {
            throw new DeploymentAlreadyCompletedException({
              message: `The deployment ${d.deploymentId} has already completed.`,
              $metadata: meta,
            });
          }
          if (d.status !== 'Ready') {
            throw new DeploymentIsNotInReadyStateException({
              message: `The deployment ${d.deploymentId} does not have a status of Ready and can't continue yet.`,
              $metadata: meta,
            });
          }
          d.continued.push(input.deploymentWaitType ?? 'READY_WAIT');
          d.status = 'InProgress';
          return {};
        });
    },

    seed(group, deployment) {
      const d = newDeployment(group, deployment.revision, deployment.description, 'seed', null);
      finish(d, deployment.status ?? 'Succeeded');
      return d;
    },

    startExternal(group, deployment) {
      return newDeployment(group, deployment.revision, deployment.description, 'external', null);
    },

    complete(deploymentId, status, message) {
      const d = byId.get(deploymentId);
      if (!d) throw new Error(`fake CodeDeploy: no deployment ${deploymentId}`);
      if (!ACTIVE.has(d.status)) throw new Error(`fake CodeDeploy: ${deploymentId} already ${d.status}`);
      finish(d, status, message);
    },

    lastSuccessful: (group) => groupOf(group).lastSuccessful,
  };
}
