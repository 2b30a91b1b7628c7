/**
 * HealthProber for CodeDeploy regions: the region's CloudWatch alarms, one sample per alarm
 * (OK = ok, ALARM = error, INSUFFICIENT_DATA = missing), plus `count` HTTP probes of its health URL
 * when one is configured. No signal is never a pass: an alarm name that does not exist, a prefix
 * that matches nothing, or a target with neither alarms nor URL each give a `missing` sample.
 *
 * DescribeAlarms only returns composite alarms when AlarmTypes names them, and only to callers whose
 * cloudwatch:DescribeAlarms permission is scoped to `*`; a narrower grant makes composites look absent
 * (here: missing samples, so the gate goes Inconclusive rather than passing).
 */
import {
  type CloudWatchClient,
  type CompositeAlarm,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandInput,
  type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import type { CodeDeployTarget } from '../../config/types.ts';
import type { HealthProber, ProbeRequest, ProbeSample } from '../../ports/health-prober.ts';
import { probeUrl } from '../local/http-prober.ts';
import type { AwsClients } from './clients.ts';
import { awsCall, namedError, UnsupportedTarget } from './errors.ts';

/** DescribeAlarms takes at most 100 AlarmNames per call, and AlarmNames and AlarmNamePrefix not together. */
export const ALARM_NAMES_PER_CALL = 100;

export interface CloudWatchProberOptions {
  clients: AwsClients;
  /** Probes non-CodeDeploy (local-process) targets, when this prober is handed one. */
  http?: HealthProber;
}

interface AlarmState {
  name: string;
  state: string | undefined;
  reason: string | undefined;
}

export class CloudWatchProber implements HealthProber {
  readonly #clients: AwsClients;
  readonly #http: HealthProber | undefined;

  constructor(options: CloudWatchProberOptions) {
    this.#clients = options.clients;
    this.#http = options.http;
  }

  async probe(request: ProbeRequest): Promise<ProbeSample[]> {
    const { target } = request;
    if (target.kind !== 'codedeploy') {
      if (this.#http) return this.#http.probe(request);
      throw namedError(
        UnsupportedTarget,
        `${request.region}: the CloudWatch prober cannot probe a ${target.kind} target`,
      );
    }
    const { names, prefix } = target.alarms;
    const hasAlarms = names.length > 0 || (prefix !== undefined && prefix !== '');
    if (!hasAlarms && target.healthUrl === undefined) {
      return [{ kind: 'missing', message: `${request.region}: no health signal configured (no alarms, no healthUrl)` }];
    }
    const samples: ProbeSample[] = [];
    if (hasAlarms && request.signals !== 'immediate') samples.push(...(await this.#alarmSamples(request, target)));
    if (target.healthUrl !== undefined) {
      const url = new URL(target.healthUrl);
      const answers = await probeUrl(url, request.count, request.gate, request.expectedVersion);
      // Next to alarm samples, say which signal spoke.
      samples.push(...answers.map((a) => (a.kind === 'ok' ? a : { ...a, message: `${url.href}: ${a.message}` })));
    }
    return samples;
  }

  async #alarmSamples(request: ProbeRequest, target: CodeDeployTarget): Promise<ProbeSample[]> {
    const client = this.#clients.cloudwatch(target.awsRegion, target.roleArn);
    const { names, prefix } = target.alarms;
    const found = new Map<string, AlarmState>();
    const wanted = [...new Set(names)];
    for (let i = 0; i < wanted.length; i += ALARM_NAMES_PER_CALL) {
      for (const alarm of await describeAll(client, target.awsRegion, {
        AlarmNames: wanted.slice(i, i + ALARM_NAMES_PER_CALL),
      })) {
        found.set(alarm.name, alarm);
      }
    }
    const byPrefix: AlarmState[] = [];
    let prefixMatched = 0;
    if (prefix !== undefined && prefix !== '') {
      const matched = await describeAll(client, target.awsRegion, { AlarmNamePrefix: prefix });
      prefixMatched = matched.length;
      for (const alarm of matched) {
        if (!found.has(alarm.name)) byPrefix.push(alarm);
        found.set(alarm.name, alarm);
      }
    }

    const samples: ProbeSample[] = [];
    for (const name of wanted) {
      const alarm = found.get(name);
      samples.push(
        alarm
          ? alarmSample(alarm, request.expectedVersion)
          : { kind: 'missing', message: `alarm ${name} does not exist in ${target.awsRegion}` },
      );
    }
    byPrefix.sort((a, b) => a.name.localeCompare(b.name));
    for (const alarm of byPrefix) samples.push(alarmSample(alarm, request.expectedVersion));
    if (prefix !== undefined && prefix !== '' && prefixMatched === 0) {
      samples.push({
        kind: 'missing',
        message: `no alarm in ${target.awsRegion} has a name starting with "${prefix}"`,
      });
    }
    return samples;
  }
}

/** Every alarm, metric and composite, over all pages of one DescribeAlarms query. */
async function describeAll(
  client: CloudWatchClient,
  awsRegion: string,
  filter: Pick<DescribeAlarmsCommandInput, 'AlarmNames' | 'AlarmNamePrefix'>,
): Promise<AlarmState[]> {
  const out: AlarmState[] = [];
  let NextToken: string | undefined;
  do {
    const page = await awsCall(`CloudWatch DescribeAlarms in ${awsRegion}`, () =>
      client.send(
        new DescribeAlarmsCommand({
          ...filter,
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          ...(NextToken !== undefined ? { NextToken } : {}),
        }),
      ),
    );
    const alarms: (MetricAlarm | CompositeAlarm)[] = [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])];
    for (const alarm of alarms) {
      if (alarm.AlarmName) out.push({ name: alarm.AlarmName, state: alarm.StateValue, reason: alarm.StateReason });
    }
    NextToken = page.NextToken || undefined;
  } while (NextToken !== undefined);
  return out;
}

function alarmSample(alarm: AlarmState, expectedVersion: string | null): ProbeSample {
  switch (alarm.state) {
    case 'OK':
      // An alarm says nothing about versions: it passes for whatever was expected.
      return { kind: 'ok', version: expectedVersion ?? '' };
    case 'ALARM':
      return { kind: 'error', message: `alarm ${alarm.name} is ALARM: ${alarm.reason ?? '(no reason given)'}` };
    case 'INSUFFICIENT_DATA':
      return { kind: 'missing', message: `alarm ${alarm.name} has INSUFFICIENT_DATA` };
    default:
      return { kind: 'missing', message: `alarm ${alarm.name} is in an unknown state ${alarm.state ?? '(none)'}` };
  }
}

// ---- routing --------------------------------------------------------------------------------------

/** Sends local-process targets to one prober and CodeDeploy targets to another. */
export class RoutingProber implements HealthProber {
  readonly #local: HealthProber;
  readonly #codedeploy: HealthProber;

  constructor(options: { local: HealthProber; codedeploy: HealthProber }) {
    this.#local = options.local;
    this.#codedeploy = options.codedeploy;
  }

  probe(request: ProbeRequest): Promise<ProbeSample[]> {
    return request.target.kind === 'codedeploy' ? this.#codedeploy.probe(request) : this.#local.probe(request);
  }
}
