/**
 * CloudWatchProber: alarms through CloudWatch mocked at the SDK boundary (aws-sdk-client-mock), since
 * no real CloudWatch can run here; health URLs against a real node:http server on 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CloudWatchClient,
  type CompositeAlarm,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandInput,
  type MetricAlarm,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsClients, type ClientSettings } from '../../../adapters/aws/clients.ts';
import { CloudWatchProber, RoutingProber } from '../../../adapters/aws/cloudwatch-prober.ts';
import type { CodeDeployTarget } from '../../../config/types.ts';
import type { HealthProber, ProbeRequest, ProbeSample } from '../../../ports/health-prober.ts';
import { cdTarget, gate, localTarget, rejection } from './helpers.ts';

const cw = mockClient(CloudWatchClient);

type Alarm = { name: string; state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'; reason?: string; composite?: boolean };

/** A CloudWatch holding these alarms, answering DescribeAlarms like the service (filters, types, pages). */
function cloudwatchWith(alarms: Alarm[], pageSize = 100): void {
  cw.on(DescribeAlarmsCommand).callsFake(async (input: DescribeAlarmsCommandInput) => {
    if (input.AlarmNames && input.AlarmNamePrefix) throw new Error('AlarmNames and AlarmNamePrefix together');
    if ((input.AlarmNames?.length ?? 0) > 100) throw new Error('more than 100 AlarmNames');
    const types = input.AlarmTypes ?? ['MetricAlarm'];
    const matching = alarms.filter(
      (a) =>
        (input.AlarmNames ? input.AlarmNames.includes(a.name) : true) &&
        (input.AlarmNamePrefix ? a.name.startsWith(input.AlarmNamePrefix) : true) &&
        types.includes(a.composite ? 'CompositeAlarm' : 'MetricAlarm'),
    );
    const start = input.NextToken ? Number(input.NextToken) : 0;
    const page = matching.slice(start, start + pageSize);
    const shape = (a: Alarm) => ({
      AlarmName: a.name,
      StateValue: a.state,
      StateReason: a.reason ?? `reason for ${a.name}`,
    });
    const MetricAlarms: MetricAlarm[] = page.filter((a) => !a.composite).map(shape);
    const CompositeAlarms: CompositeAlarm[] = page.filter((a) => a.composite).map(shape);
    return {
      MetricAlarms,
      CompositeAlarms,
      ...(start + pageSize < matching.length ? { NextToken: String(start + pageSize) } : {}),
    };
  });
}

function request(target: CodeDeployTarget | ProbeRequest['target'], over: Partial<ProbeRequest> = {}): ProbeRequest {
  return { region: 'eu-west', target, expectedVersion: '1.1.0', gate: gate(), count: 1, ...over };
}

const prober = new CloudWatchProber({ clients: new AwsClients() });

beforeEach(() => cw.reset());
afterEach(() => cw.reset());

describe('alarms', () => {
  it('leaves alarms out when only immediate signals are asked for (right after a rollback)', async () => {
    cloudwatchWith([{ name: 'shop-5xx', state: 'ALARM' }]);
    const target = cdTarget({ alarms: { names: ['shop-5xx'] } });
    expect(await prober.probe(request(target, { signals: 'immediate' }))).toEqual([]);
    expect(cw.commandCalls(DescribeAlarmsCommand)).toHaveLength(0);
  });

  it('gives one sample per alarm, metric and composite alike: OK, ALARM, INSUFFICIENT_DATA', async () => {
    cloudwatchWith([
      { name: 'shop-5xx', state: 'OK' },
      { name: 'shop-latency', state: 'ALARM', reason: 'Threshold Crossed: 3 datapoints > 500' },
      { name: 'shop-health', state: 'INSUFFICIENT_DATA', composite: true },
      { name: 'shop-composite', state: 'OK', composite: true },
    ]);
    const target = cdTarget({ alarms: { names: ['shop-5xx', 'shop-latency', 'shop-health', 'shop-composite'] } });
    expect(await prober.probe(request(target))).toEqual([
      { kind: 'ok', version: '1.1.0' },
      { kind: 'error', message: 'alarm shop-latency is ALARM: Threshold Crossed: 3 datapoints > 500' },
      { kind: 'missing', message: 'alarm shop-health has INSUFFICIENT_DATA' },
      { kind: 'ok', version: '1.1.0' },
    ]);
    const input = cw.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input;
    expect(input?.AlarmTypes).toEqual(['MetricAlarm', 'CompositeAlarm']);
  });

  it('gives an OK alarm the version "" when any version will do', async () => {
    cloudwatchWith([{ name: 'a', state: 'OK' }]);
    const target = cdTarget({ alarms: { names: ['a'] } });
    expect(await prober.probe(request(target, { expectedVersion: null }))).toEqual([{ kind: 'ok', version: '' }]);
  });

  it('reports a configured alarm that does not exist as missing, never as a pass', async () => {
    cloudwatchWith([{ name: 'real', state: 'OK' }]);
    const target = cdTarget({ alarms: { names: ['real', 'typo-alarm'] } });
    expect(await prober.probe(request(target))).toEqual([
      { kind: 'ok', version: '1.1.0' },
      { kind: 'missing', message: 'alarm typo-alarm does not exist in eu-west-1' },
    ]);
  });

  it('asks for at most 100 names per call and follows NextToken through every page', async () => {
    const alarms: Alarm[] = Array.from({ length: 150 }, (_, i) => ({
      name: `shop-${String(i).padStart(3, '0')}`,
      state: i === 149 ? 'ALARM' : 'OK',
      composite: i % 2 === 1,
    }));
    cloudwatchWith(alarms, 30);
    const target = cdTarget({ alarms: { names: alarms.map((a) => a.name) } });
    const samples = await prober.probe(request(target));
    expect(samples).toHaveLength(150);
    expect(samples.filter((s) => s.kind === 'ok')).toHaveLength(149);
    expect(samples[149]).toMatchObject({ kind: 'error', message: expect.stringContaining('shop-149 is ALARM') });
    const calls = cw.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input);
    const batches = calls.filter((c) => c.NextToken === undefined).map((c) => c.AlarmNames?.length);
    expect(batches).toEqual([100, 50]);
    expect(calls.filter((c) => c.NextToken !== undefined).length).toBeGreaterThan(0);
  });

  it('selects by prefix (a separate query: CloudWatch takes names or a prefix, not both), without duplicates', async () => {
    cloudwatchWith(
      [
        { name: 'shop-eu-5xx', state: 'OK' },
        { name: 'shop-eu-latency', state: 'ALARM', reason: 'slow' },
        { name: 'shop-eu-all', state: 'OK', composite: true },
        { name: 'other-eu', state: 'ALARM' },
      ],
      1,
    );
    const target = cdTarget({ alarms: { names: ['shop-eu-5xx'], prefix: 'shop-eu-' } });
    expect(await prober.probe(request(target))).toEqual([
      { kind: 'ok', version: '1.1.0' },
      { kind: 'ok', version: '1.1.0' },
      { kind: 'error', message: 'alarm shop-eu-latency is ALARM: slow' },
    ]);
    const inputs = cw.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input);
    expect(inputs.some((i) => i.AlarmNamePrefix === 'shop-eu-' && i.AlarmNames === undefined)).toBe(true);
  });

  it('reports a prefix that matches no alarm as missing', async () => {
    cloudwatchWith([{ name: 'other', state: 'OK' }]);
    const target = cdTarget({ alarms: { names: [], prefix: 'shop-' } });
    expect(await prober.probe(request(target))).toEqual([
      { kind: 'missing', message: 'no alarm in eu-west-1 has a name starting with "shop-"' },
    ]);
  });

  it('gives one missing sample for a target with no alarms and no health URL', async () => {
    const samples = await prober.probe(request(cdTarget({ alarms: { names: [] } }), { count: 5 }));
    expect(samples).toEqual([{ kind: 'missing', message: expect.stringContaining('no health signal configured') }]);
    expect(cw.calls()).toHaveLength(0);
  });

  it('asks CloudWatch in the target’s AWS region, with its role', async () => {
    cloudwatchWith([{ name: 'a', state: 'OK' }]);
    const seen: ClientSettings[] = [];
    const clients = new AwsClients({
      factories: {
        cloudwatch: (config) => {
          seen.push(config);
          return new CloudWatchClient(config);
        },
      },
    });
    const target = cdTarget({ awsRegion: 'sa-east-1', roleArn: 'arn:aws:iam::1:role/r', alarms: { names: ['a'] } });
    await new CloudWatchProber({ clients }).probe(request(target));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ region: 'sa-east-1', maxAttempts: 2 });
    expect(seen[0]?.credentials).toBeTypeOf('function');
  });

  it('turns a throttled DescribeAlarms into AwsThrottled', async () => {
    cw.on(DescribeAlarmsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    const error = await rejection(prober.probe(request(cdTarget({ alarms: { names: ['a'] } }))));
    expect(error.name).toBe('AwsThrottled');
  });
});

describe('health URL', () => {
  let server: http.Server;
  let base: string;
  let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  beforeAll(async () => {
    server = http.createServer((req, res) => answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const json = (status: number, body: unknown) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const urlTarget = (path = '/health') => cdTarget({ alarms: { names: [] }, healthUrl: `${base}${path}` });

  it('sends `count` GETs and passes 2xx JSON reporting the expected version', async () => {
    let hits = 0;
    answer = (req, res) => {
      hits++;
      expect(req.url).toBe('/health');
      json(200, { version: '1.1.0' })(req, res);
    };
    expect(await prober.probe(request(urlTarget(), { count: 3 }))).toEqual([
      { kind: 'ok', status: 200, version: '1.1.0' },
      { kind: 'ok', status: 200, version: '1.1.0' },
      { kind: 'ok', status: 200, version: '1.1.0' },
    ]);
    expect(hits).toBe(3);
  });

  it('fails a different version, and accepts any version when none is expected', async () => {
    answer = json(200, { version: '1.0.0' });
    expect(await prober.probe(request(urlTarget()))).toEqual([
      {
        kind: 'error',
        status: 200,
        version: '1.0.0',
        message: `${base}/health: reports version 1.0.0, expected 1.1.0`,
      },
    ]);
    expect(await prober.probe(request(urlTarget(), { expectedVersion: null }))).toEqual([
      { kind: 'ok', status: 200, version: '1.0.0' },
    ]);
  });

  it('fails a non-2xx answer and a body that is not JSON', async () => {
    answer = json(503, { error: 'EUR formatting crashed', version: '1.1.0' });
    expect(await prober.probe(request(urlTarget()))).toEqual([
      { kind: 'error', status: 503, version: '1.1.0', message: `${base}/health: HTTP 503: EUR formatting crashed` },
    ]);
    answer = (_req, res) => res.end('<html>ok</html>');
    const [sample] = await prober.probe(request(urlTarget()));
    expect(sample).toMatchObject({ kind: 'error', status: 200, message: expect.stringContaining('not JSON') });
  });

  it('counts no answer within probeTimeoutMs as missing', async () => {
    answer = (_req, res) => {
      setTimeout(() => json(200, { version: '1.1.0' })(_req, res), 3000);
    };
    const started = Date.now();
    const samples = await prober.probe(request(urlTarget(), { gate: gate({ probeTimeoutMs: 100 }) }));
    expect(samples).toEqual([{ kind: 'missing', message: `${base}/health: no answer within 100 ms` }]);
    // Well before the answer would have come: the probe gave up, it did not wait (room for a loaded machine).
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('counts a refused connection as an error', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const target = cdTarget({ alarms: { names: [] }, healthUrl: `http://127.0.0.1:${port}/health` });
    const [sample] = await prober.probe(request(target));
    expect(sample).toMatchObject({ kind: 'error', message: expect.stringContaining('connection refused') });
  });

  it('adds the URL probes to the alarm samples', async () => {
    cloudwatchWith([{ name: 'shop-5xx', state: 'ALARM', reason: 'errors' }]);
    answer = json(200, { version: '1.1.0' });
    const target = cdTarget({ alarms: { names: ['shop-5xx'] }, healthUrl: `${base}/health` });
    expect(await prober.probe(request(target, { count: 2 }))).toEqual([
      { kind: 'error', message: 'alarm shop-5xx is ALARM: errors' },
      { kind: 'ok', status: 200, version: '1.1.0' },
      { kind: 'ok', status: 200, version: '1.1.0' },
    ]);
  });
});

describe('other targets', () => {
  const local: HealthProber = { probe: async () => [{ kind: 'ok', status: 200, version: 'local' }] };
  const remote: HealthProber = { probe: async () => [{ kind: 'ok', version: 'remote' }] };

  it('hands a local-process target to the injected HTTP prober, or refuses it without one', async () => {
    const withHttp = new CloudWatchProber({ clients: new AwsClients(), http: local });
    expect(await withHttp.probe(request(localTarget))).toEqual([{ kind: 'ok', status: 200, version: 'local' }]);
    expect((await rejection(prober.probe(request(localTarget)))).name).toBe('UnsupportedTarget');
  });

  it('RoutingProber sends local-process targets one way and CodeDeploy targets the other', async () => {
    const routing = new RoutingProber({ local, codedeploy: remote });
    const versions = async (target: ProbeRequest['target']) =>
      (await routing.probe(request(target))).map((s: ProbeSample) => (s.kind === 'ok' ? s.version : s.kind));
    expect(await versions(localTarget)).toEqual(['local']);
    expect(await versions(cdTarget())).toEqual(['remote']);
  });
});
