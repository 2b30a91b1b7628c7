/**
 * Per-region artifacts through the real CLI: a build that cannot work in a region is refused with
 * exit 2 naming the region, before a lock is taken or a region (local or AWS) is touched; a
 * `{region}` template and an --artifacts map give each local region its own build.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openLocalBackend } from '../../backends/local/index.ts';
import type { CodeDeployTarget, FlotillaConfig } from '../../core/config.ts';
import { runCli } from '../helpers/cli.ts';
import { e2eConfig, GOOD_BUILD, tempDir } from '../helpers/local.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function workspace(config: FlotillaConfig) {
  const t = await tempDir('flotilla-artifacts-');
  cleanups.push(t.cleanup);
  await writeFile(join(t.dir, 'flotilla.yml'), stringify(config));
  return t.dir;
}

const localConfig = () =>
  e2eConfig([[{ name: 'us-east-1', currency: 'USD' }], [{ name: 'eu-west-1', currency: 'EUR' }]]);

/** An HTTP server standing in for every AWS endpoint: it only counts what reaches it. */
async function awsEndpoint(): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers['x-amz-target'] ?? ''}`);
    res.writeHead(500).end('{}');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise((ok) => server.close(() => ok())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const codedeploy = (awsRegion: string, platform: CodeDeployTarget['platform']): CodeDeployTarget => ({
  kind: 'codedeploy',
  awsRegion,
  application: 'shop',
  deploymentGroup: `shop-${awsRegion}`,
  platform,
  alarms: { names: [] },
});

function awsConfig(platform: CodeDeployTarget['platform']): FlotillaConfig {
  return {
    service: 'shop',
    regions: [
      { name: 'us-east-1', target: codedeploy('us-east-1', platform) },
      { name: 'eu-west-1', target: codedeploy('eu-west-1', platform) },
    ],
    waves: [
      { name: 'canary', regions: ['us-east-1'], bakeSeconds: 60, approval: false },
      { name: 'rest', regions: ['eu-west-1'], bakeSeconds: 60, approval: false },
    ],
    gate: {
      healthPath: '/health',
      probes: 3,
      intervalSeconds: 10,
      maxErrorRate: 0.05,
      minSamples: 1,
      probeTimeoutMs: 300,
      probeSpacingMs: 10,
      bakeSeconds: 60,
      onInconclusive: 'rollback',
    },
    deploy: { readinessTimeoutSeconds: 10, pollSeconds: 15, maxPollSeconds: 60 },
    policy: { allowMultiRegionCanary: false },
    aws: {
      region: 'us-east-1',
      stateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:flotilla-ci-release',
      table: 'flotilla-ci-ledger',
    },
  };
}

async function awsRun(dir: string, args: string[]) {
  const endpoint = await awsEndpoint();
  const result = await runCli([...args, '--backend', 'aws', '--version', '1.4.0'], dir, {
    AWS_ENDPOINT_URL: endpoint.url,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_MAX_ATTEMPTS: '1',
  });
  return { ...result, requests: endpoint.requests };
}

describe('release on AWS: each region’s build is checked before anything is called', () => {
  it('refuses an ECS AppSpec naming another region’s task definition: exit 2, the region named, no AWS call', async () => {
    const dir = await workspace(awsConfig('ECS'));
    await writeFile(
      join(dir, 'appspec.yml'),
      'version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n        TaskDefinition: "arn:aws:ecs:us-east-1:111122223333:task-definition/shop:12"\n',
    );
    const { code, stderr, requests } = await awsRun(dir, ['release', 'appspec.yml']);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('nothing was deployed');
    expect(stderr).toMatch(/eu-west-1: TaskDefinition .* is in us-east-1, but the group is in eu-west-1/);
    expect(stderr).not.toMatch(/^us-east-1:/m);
    expect(requests).toEqual([]);
  });

  it('refuses one S3 bundle for Server groups in two AWS regions, and takes the {awsRegion} template', async () => {
    const dir = await workspace(awsConfig('Server'));
    const shared = await awsRun(dir, ['release', 's3://shop-builds/shop/1.4.0.zip']);
    expect(shared.code, shared.stderr).toBe(2);
    expect(shared.stderr).toMatch(
      /us-east-1, eu-west-1: share the bundle bucket shop-builds across us-east-1, eu-west-1/,
    );
    expect(shared.requests).toEqual([]);
    // The template passes the check and goes on to start the execution (the stand-in endpoint fails it).
    const templated = await awsRun(dir, ['release', 's3://shop-builds-{awsRegion}/shop/1.4.0.zip']);
    expect(templated.stderr).not.toContain('nothing was deployed');
    expect(templated.requests.some((r) => r.includes('AWSStepFunctions.StartExecution'))).toBe(true);
  });

  it('reads --artifacts relative to the map file and names every region it cannot ship', async () => {
    const dir = await workspace(awsConfig('Lambda'));
    await mkdir(join(dir, 'builds'));
    await writeFile(
      join(dir, 'builds', 'use1.yml'),
      'version: 0.0\nResources:\n  - shop:\n      Type: AWS::Lambda::Function\n      Properties: { Name: shop, Alias: live, CurrentVersion: "1", TargetVersion: "2" }\n',
    );
    await writeFile(
      join(dir, 'builds', 'map.yml'),
      stringify({ 'us-east-1': 'use1.yml', 'eu-west-1': 's3://b/shop.zip', 'eu-wset-1': 'use1.yml' }),
    );
    const { code, stderr, requests } = await awsRun(dir, ['release', '--artifacts', 'builds/map.yml']);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('eu-wset-1: --artifacts names a region the config does not have');
    expect(stderr).toMatch(/eu-west-1: an S3 bundle \(s3:\/\/b\/shop\.zip\) can only be deployed to a Server group/);
    expect(stderr).not.toMatch(/^us-east-1:/m);
    expect(requests).toEqual([]);
  });

  it('takes --copy-from only on --backend aws', async () => {
    const dir = await workspace(await localConfig());
    const { code, stderr } = await runCli(['release', GOOD_BUILD, '--copy-from', 's3://ci/shop.zip'], dir);
    expect(code, stderr).toBe(2);
    expect(stderr).toContain('--copy-from copies S3 bundles between buckets: it needs --backend aws');
    expect(existsSync(join(dir, '.flotilla'))).toBe(false);
  });
});

describe('release on the local backend with a build per region', () => {
  it('refuses a {region} template missing one region’s directory before the state dir is opened', async () => {
    const dir = await workspace(await localConfig());
    await cp(GOOD_BUILD, join(dir, 'builds', 'us-east-1'), { recursive: true });
    const { code, stderr } = await runCli(['release', 'builds/{region}', '--version', '1.0.0'], dir);
    expect(code, stderr).toBe(2);
    expect(stderr).toMatch(/eu-west-1: build directory .*builds\/eu-west-1 does not exist/);
    expect(existsSync(join(dir, '.flotilla'))).toBe(false);
  });

  it('ships each region its own build from an --artifacts map, and records it as that region’s revision', async () => {
    const config = await localConfig();
    const dir = await workspace(config);
    for (const region of ['us-east-1', 'eu-west-1']) {
      await cp(GOOD_BUILD, join(dir, 'builds', region), { recursive: true });
      await writeFile(join(dir, 'builds', region, 'BUILT_FOR'), region);
    }
    await writeFile(join(dir, 'map.yml'), stringify({ 'eu-west-1': 'builds/eu-west-1' }));
    const { code, stderr } = await runCli(['release', 'builds/us-east-1', '--artifacts', 'map.yml', '--json'], dir);
    expect(code, stderr).toBe(0);
    for (const region of ['us-east-1', 'eu-west-1']) {
      const marker = join(dir, '.flotilla', 'regions', region, 'current', 'BUILT_FOR');
      expect(await readFile(marker, 'utf8')).toBe(region);
    }
    // Each region's own build is what the ledger says it runs: what a rollback to it redeploys.
    const down = await runCli(['down'], dir);
    expect(down.code, down.stderr).toBe(0);
    const backend = await openLocalBackend({ stateDir: join(dir, '.flotilla'), config, regions: 'read' });
    try {
      const states = await backend.ledger.listRegions('shop');
      expect(Object.fromEntries(states.map((s) => [s.region, s.current?.artifact]))).toEqual({
        'us-east-1': join(dir, 'builds', 'us-east-1'),
        'eu-west-1': join(dir, 'builds', 'eu-west-1'),
      });
      const plan = await backend.ledger.getPlan('shop', 'shop-1.0.0');
      expect(plan?.waves.map((w) => w.regions[0]?.revision?.artifact)).toEqual([
        join(dir, 'builds', 'us-east-1'),
        join(dir, 'builds', 'eu-west-1'),
      ]);
    } finally {
      await backend.close();
    }
  }, 90_000);
});
