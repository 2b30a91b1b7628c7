/**
 * EC2 Auto Scaling and EC2 as one real local HTTP server speaking their Query protocol (form POSTs
 * in, XML out, AWS's two error shapes), stateful and scriptable, for what moto cannot show: an
 * instance held in Pending:Wait by CodeDeploy's lifecycle hook, one that goes Terminating after a
 * failed install, its private IP reachable (127.0.0.1), throttling and refusals. Point
 * adapters/aws/signed-query.ts at `url` (its `endpoint` option, or AWS_ENDPOINT_URL_AUTO_SCALING and
 * AWS_ENDPOINT_URL_EC2 for the handlers as Lambda runs them).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the server got: its action, its form parameters and its headers. */
export interface SeenQuery {
  action: string;
  params: Record<string, string>;
  headers: Record<string, unknown>;
}

export interface FakeInstance {
  id: string;
  state: string;
  health?: string;
}

export interface FakeGroup {
  desired: number;
  min: number;
  max: number;
  instances: FakeInstance[];
  /** The group's own tags (CreateOrUpdateTags and DeleteTags change them). */
  tags: Record<string, string>;
}

export interface FakeActivity {
  description: string;
  status: string;
  message?: string;
  start?: string;
}

export type QueryAnswer = { status?: number; body: string };

export interface FakeAutoScalingWorld {
  groups: Record<string, FakeGroup>;
  /** EC2 tags by instance id (CreateTags adds to them). */
  tags: Record<string, Record<string, string>>;
  /** Private IPs by instance id (none: DescribeInstances gives none). */
  ips: Record<string, string>;
  /** EC2 launch times (ms) by instance id; a launch by `lifecycle` gets the time it happened. */
  launchTimes: Record<string, number>;
  /** Scaling activities by group, newest first. */
  activities: Record<string, FakeActivity[]>;
  /** An action's scripted answer (an error), instead of the world's. */
  fail: Record<string, QueryAnswer>;
  /**
   * When set, a group whose desired capacity is above its instances in service or starting
   * launches one at the next DescribeAutoScalingGroups; each later describe moves it on through
   * `lifecycle(n)` (n: how many describes it has been through), with IP `launchIp` (127.0.0.1).
   */
  lifecycle?: (n: number) => Pick<FakeInstance, 'state' | 'health'>;
  launchIp?: string;
}

export interface FakeAutoScaling {
  url: string;
  seen: SeenQuery[];
  /** Starts the world over with these groups. */
  reset(
    groups: Record<string, Omit<FakeGroup, 'min' | 'tags'> & { min?: number; tags?: Record<string, string> }>,
  ): FakeAutoScalingWorld;
  world: FakeAutoScalingWorld;
  close(): Promise<void>;
}

// --- AWS's answers, as XML ---
const groupXml = (name: string, g: FakeGroup) => `<member>
    <AutoScalingGroupName>${name}</AutoScalingGroupName>
    <MinSize>${g.min}</MinSize><MaxSize>${g.max}</MaxSize><DesiredCapacity>${g.desired}</DesiredCapacity>
    <Instances>${g.instances
      .map(
        (i) =>
          `<member><InstanceId>${i.id}</InstanceId><AvailabilityZone>eu-west-1a</AvailabilityZone><LifecycleState>${i.state}</LifecycleState><HealthStatus>${i.health ?? 'Healthy'}</HealthStatus></member>`,
      )
      .join('')}</Instances>
    <Tags><member><Key>team</Key><Value>shop &amp; cart</Value></member>${Object.entries(g.tags)
      .map(
        ([k, v]) =>
          `<member><ResourceId>${name}</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>${k}</Key><Value>${v}</Value><PropagateAtLaunch>false</PropagateAtLaunch></member>`,
      )
      .join('')}</Tags>
  </member>`;

const describeGroupsXml = (groups: [string, FakeGroup][]) => `<?xml version="1.0"?>
<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeAutoScalingGroupsResult><AutoScalingGroups>${groups.map(([n, g]) => groupXml(n, g)).join('')}</AutoScalingGroups></DescribeAutoScalingGroupsResult>
  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>
</DescribeAutoScalingGroupsResponse>`;

const instancesXml = (
  instances: { id: string; state?: string; ip?: string; launched?: number; tags?: Record<string, string> }[],
) => `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-2</requestId>
  <reservationSet>${instances
    .map(
      (i) => `<item><reservationId>r-9</reservationId><instancesSet><item>
        <instanceId>${i.id}</instanceId><instanceState><code>16</code><name>${i.state ?? 'running'}</name></instanceState>
        ${i.ip ? `<privateIpAddress>${i.ip}</privateIpAddress>` : ''}
        ${i.launched !== undefined ? `<launchTime>${new Date(i.launched).toISOString().replace(/\.\d+Z$/, '.000Z')}</launchTime>` : ''}
        <tagSet>${Object.entries(i.tags ?? {})
          .map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`)
          .join('')}</tagSet></item></instancesSet></item>`,
    )
    .join('')}</reservationSet>
</DescribeInstancesResponse>`;

const activitiesXml = (activities: FakeActivity[]) =>
  `<DescribeScalingActivitiesResponse><DescribeScalingActivitiesResult><Activities>${activities
    .map(
      (a) =>
        `<member><Description>${a.description}</Description><StatusCode>${a.status}</StatusCode>${a.message ? `<StatusMessage>${a.message}</StatusMessage>` : ''}<StartTime>${a.start ?? new Date().toISOString()}</StartTime></member>`,
    )
    .join('')}</Activities></DescribeScalingActivitiesResult></DescribeScalingActivitiesResponse>`;

const ok = (action: string): QueryAnswer => ({ body: `<${action}Response><ResponseMetadata/></${action}Response>` });

/** Auto Scaling's error shape: `<ErrorResponse><Error><Type/><Code/><Message/></Error>`. */
export const asgError = (code: string, message: string, status = 400): QueryAnswer => ({
  status,
  body: `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-3</RequestId></ErrorResponse>`,
});

/** EC2's error shape: `<Response><Errors><Error><Code/><Message/></Error></Errors>`. */
export const ec2Error = (code: string, message: string, status = 400): QueryAnswer => ({
  status,
  body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>r-4</RequestID></Response>`,
});

const leaving = (state: string) => state.startsWith('Terminat') || state.startsWith('Detach');

export async function startFakeAutoScaling(): Promise<FakeAutoScaling> {
  const seen: SeenQuery[] = [];
  let launched = 0;
  const describes = new Map<string, number>();
  const fresh = (): FakeAutoScalingWorld => ({
    groups: {},
    tags: {},
    ips: {},
    launchTimes: {},
    activities: {},
    fail: {},
  });
  const fake = { world: fresh() } as { world: FakeAutoScalingWorld };
  const groupOfInstance = (id: string) =>
    Object.entries(fake.world.groups).find(([, g]) => g.instances.some((i) => i.id === id));

  const answer = (call: SeenQuery): QueryAnswer => {
    const w = fake.world;
    const failure = w.fail[call.action];
    if (failure) return failure;
    const p = call.params;
    switch (call.action) {
      case 'DescribeAutoScalingGroups': {
        const names = Object.entries(p)
          .filter(([k]) => k.startsWith('AutoScalingGroupNames.member.'))
          .map(([, v]) => v);
        const groups = Object.entries(w.groups).filter(([n]) => names.length === 0 || names.includes(n));
        for (const [, g] of groups) {
          if (!w.lifecycle) continue;
          for (const i of g.instances) {
            const n = describes.get(i.id);
            if (n === undefined) continue;
            if (!leaving(i.state)) Object.assign(i, w.lifecycle(n));
            describes.set(i.id, n + 1);
          }
          if (g.instances.filter((i) => !leaving(i.state)).length < g.desired) {
            launched += 1;
            const id = `i-fresh${launched}`;
            g.instances.push({ id, ...w.lifecycle(0) });
            w.ips[id] = w.launchIp ?? '127.0.0.1';
            w.launchTimes[id] = Date.now();
            describes.set(id, 1);
          }
        }
        return { body: describeGroupsXml(groups) };
      }
      case 'SetDesiredCapacity': {
        const g = w.groups[p.AutoScalingGroupName ?? ''];
        if (!g) return asgError('ValidationError', `AutoScalingGroup name not found - ${p.AutoScalingGroupName}`);
        g.desired = Number(p.DesiredCapacity);
        return ok(call.action);
      }
      case 'TerminateInstanceInAutoScalingGroup': {
        const found = groupOfInstance(p.InstanceId ?? '');
        if (!found)
          return asgError(
            'ValidationError',
            `Instance Id not found - No managed instance found for instance ID ${p.InstanceId}`,
          );
        const [, g] = found;
        const i = g.instances.find((x) => x.id === p.InstanceId) as FakeInstance;
        i.state = 'Terminating';
        if (p.ShouldDecrementDesiredCapacity === 'true') g.desired -= 1;
        return ok(call.action);
      }
      case 'CreateOrUpdateTags':
      case 'DeleteTags': {
        for (let n = 1; p[`Tags.member.${n}.Key`]; n++) {
          const g = w.groups[p[`Tags.member.${n}.ResourceId`] ?? ''];
          if (!g || p[`Tags.member.${n}.ResourceType`] !== 'auto-scaling-group')
            return asgError('ValidationError', `AutoScalingGroup name not found - ${p[`Tags.member.${n}.ResourceId`]}`);
          const key = p[`Tags.member.${n}.Key`] ?? '';
          if (call.action === 'DeleteTags') delete g.tags[key];
          else g.tags[key] = p[`Tags.member.${n}.Value`] ?? '';
        }
        return ok(call.action);
      }
      case 'DescribeScalingActivities':
        return { body: activitiesXml(w.activities[p.AutoScalingGroupName ?? ''] ?? []) };
      case 'CreateTags': {
        const id = p['ResourceId.1'] ?? '';
        const tags = { ...w.tags[id] };
        for (let n = 1; p[`Tag.${n}.Key`]; n++) tags[p[`Tag.${n}.Key`] ?? ''] = p[`Tag.${n}.Value`] ?? '';
        w.tags[id] = tags;
        return ok(call.action);
      }
      case 'DescribeInstances': {
        const known = new Set([
          ...Object.keys(w.tags),
          ...Object.keys(w.ips),
          ...Object.values(w.groups).flatMap((g) => g.instances.map((i) => i.id)),
        ]);
        const filters: [string, string[]][] = [];
        for (let n = 1; p[`Filter.${n}.Name`]; n++) {
          const values: string[] = [];
          for (let v = 1; p[`Filter.${n}.Value.${v}`]; v++) values.push(p[`Filter.${n}.Value.${v}`] ?? '');
          filters.push([p[`Filter.${n}.Name`] ?? '', values]);
        }
        const ids = p['InstanceId.1'] ? [p['InstanceId.1']] : [...known];
        const matches = (id: string, [name, values]: [string, string[]]) => {
          if (name === 'tag:aws:autoscaling:groupName') return values.includes(groupOfInstance(id)?.[0] ?? '');
          if (name === 'instance-state-name') {
            const state = groupOfInstance(id)?.[1].instances.find((i) => i.id === id)?.state;
            return values.includes(state === undefined || leaving(state) ? 'shutting-down' : 'running');
          }
          if (name === 'tag-key') return values.some((v) => v in (w.tags[id] ?? {}));
          return values.includes(w.tags[id]?.[name.slice('tag:'.length)] ?? '\u0000');
        };
        const matching = ids.filter((id) => filters.every((f) => matches(id, f)));
        return {
          body: instancesXml(
            matching.map((id) => {
              const state = groupOfInstance(id)?.[1].instances.find((i) => i.id === id)?.state;
              return {
                id,
                ...(state && leaving(state) ? { state: 'shutting-down' } : {}),
                ...(w.ips[id] ? { ip: w.ips[id] } : {}),
                ...(w.launchTimes[id] !== undefined ? { launched: w.launchTimes[id] } : {}),
                ...(w.tags[id] ? { tags: w.tags[id] } : {}),
              };
            }),
          ),
        };
      }
      default:
        return asgError('InvalidAction', `no ${call.action} here`);
    }
  };

  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const call = { action: params.Action ?? '', params, headers: req.headers };
      seen.push(call);
      const out = answer(call);
      res.writeHead(out.status ?? 200, { 'content-type': 'text/xml' });
      res.end(out.body);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    get world() {
      return fake.world;
    },
    reset(groups) {
      seen.length = 0;
      describes.clear();
      fake.world = fresh();
      for (const [name, g] of Object.entries(groups)) {
        fake.world.groups[name] = {
          min: 1,
          ...g,
          tags: { ...g.tags },
          instances: [...g.instances.map((i) => ({ ...i }))],
        };
      }
      return fake.world;
    },
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
