/**
 * `npm run package` (osls package) run for real, once, offline and with no AWS credentials, in a
 * temp copy of the repo (so it never touches `.serverless/` or races another run), then the
 * CloudFormation template and the function zips it wrote are checked against that copy's sources.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerTableDefinition } from '../../adapters/dynamodb/ledger.ts';
import { type Bundle, packagedBundles } from '../../bench/bundles.ts';
import { hasTool, missingToolMessage, skipWithout } from '../helpers/aws-tools.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Not copied: nothing osls needs (node_modules is linked instead). */
const SKIPPED = new Set(['node_modules', '.git', '.flotilla', '.serverless', '.esbuild', 'coverage', 'dist']);
/** The placeholder Lambda ARN the ASL files use for functions/<name>.ts. */
const placeholder = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:flotilla-${name}`;
const KiB = 1024;
const BUNDLE_LIMIT = 600 * KiB;
// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON.
type Json = any;
interface Statement {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: Json;
}

let work: string;
/** The copy that was packaged: the sources the template is compared with. */
let copy: string;
let out: string;
let template: { Resources: Record<string, Json>; Outputs: Record<string, Json> };
let bundles: Bundle[];
let packagingSeconds: number;

/** Lambda: "The total size of all environment variables doesn't exceed 4 KB" (keys and values). */
const LAMBDA_ENV_LIMIT = 4096;
/**
 * What a Ref or GetAtt in an environment value becomes at deploy time, at most: the name or ARN of
 * one of this stack's own resources (a table name, a topic or state machine ARN), all named
 * `flotilla-<stage>-…`, so well under 256 bytes for any reasonable stage name.
 */
const RESOLVED_BYTES = 256;

/** The bytes an environment takes once deployed: each key and value, a reference counted at RESOLVED_BYTES. */
function environmentBytes(variables: Record<string, Json>): number {
  let bytes = 0;
  for (const [key, value] of Object.entries(variables)) {
    bytes += Buffer.byteLength(key, 'utf8');
    bytes += typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : RESOLVED_BYTES;
  }
  return bytes;
}

interface LintMatch {
  Level: string;
  Message: string;
  Rule: { Id: string };
  Location: { Path: (string | number)[] };
}

/** cfn-lint on a template, with the repo's .cfnlintrc (its regions and ignored rules), as JSON. */
async function cfnLint(file: string): Promise<LintMatch[]> {
  if (!hasTool('cfn-lint')) throw new Error(missingToolMessage('cfn-lint'));
  // Exit status: 0 clean, else a bit mask of error (2) / warning (4) / info (8) found; 1 = it crashed.
  const out = await promisify(execFile)(
    'cfn-lint',
    ['--config-file', join(copy, '.cfnlintrc'), '--format', 'json', '--', file],
    {
      cwd: copy,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 120_000,
    },
  ).catch((error: { code?: unknown; stdout?: string; stderr?: string }) => {
    if (typeof error.code === 'number' && error.code > 1 && error.stdout) return { stdout: error.stdout };
    throw new Error(`cfn-lint failed: ${error.stderr ?? ''}`, { cause: error });
  });
  return JSON.parse(out.stdout) as LintMatch[];
}
const SKIP_CFN_LINT = skipWithout('cfn-lint', 'cfn-lint on the packaged template (test/infra/package.test.ts)');

const resources = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const actions = (s: Statement) => asArray(s.Action);
const lambdas = () => resources('AWS::Lambda::Function');
/** `functions/plan-release.handler` → `plan-release` */
const fileOf = (lambda: Json) => /^functions\/([a-z0-9-]+)\.handler$/.exec(lambda.Properties.Handler)?.[1];

/** Every IAM statement in the template, with where it is. */
function statements(): { where: string; statement: Statement }[] {
  const found: { where: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    const documents =
      r.Type === 'AWS::IAM::Role'
        ? (r.Properties.Policies ?? []).map((p: Json) => p.PolicyDocument)
        : ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(r.Type) ||
            /::(Bucket|Topic|Queue)Policy$/.test(r.Type)
          ? [r.Properties.PolicyDocument]
          : [];
    for (const doc of documents) for (const statement of asArray(doc.Statement)) found.push({ where: id, statement });
  }
  return found;
}

/** The statements of the role a Lambda runs with. */
function roleStatements(lambda: Json): Statement[] {
  const roleId = lambda.Properties.Role['Fn::GetAtt'][0];
  const role = template.Resources[roleId];
  return role.Properties.Policies.flatMap((p: Json) => asArray(p.PolicyDocument.Statement));
}

/** Drops the `QueryLanguage` serverless-step-functions adds to every state while validating. */
function withoutQueryLanguage(node: Json): Json {
  if (Array.isArray(node)) return node.map(withoutQueryLanguage);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k]) => k !== 'QueryLanguage')
      .map(([k, v]) => [k, withoutQueryLanguage(v)]),
  );
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'flotilla-package-'));
  copy = join(work, 'repo');
  cpSync(ROOT, copy, {
    recursive: true,
    filter: (src) => !SKIPPED.has(src.slice(ROOT.length).replace(/^\//, '').split('/')[0] ?? ''),
  });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  out = join(work, 'out');
  // The package script, as npm would run it, with an output directory of our own.
  const script: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.package;
  const [command, ...args] = script.split(/\s+/);
  expect(command).toBe('osls');
  const osls = join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
  // osls leaves a `<function>-<pid>-<time>-<hex>` directory per function in the temp directory:
  // give it one inside `work`, so they go with it.
  const tmp = join(work, 'tmp');
  mkdirSync(tmp);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: join(work, 'home'),
    CI: '1',
    TMPDIR: tmp,
    TMP: tmp,
    TEMP: tmp,
  };
  for (const name of Object.keys(env)) if (/^AWS_/.test(name)) delete env[name];
  const started = performance.now();
  try {
    await promisify(execFile)(process.execPath, [osls, ...args, '--package', out], {
      cwd: copy,
      env,
      timeout: 170_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`osls package failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: error });
  }
  packagingSeconds = (performance.now() - started) / 1000;
  template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8'));
  bundles = packagedBundles(out);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm run package', () => {
  it('packages offline with no AWS credentials', () => {
    expect(Object.keys(template.Resources).length).toBeGreaterThan(0);
    expect(packagingSeconds).toBeGreaterThan(0);
  });

  it.skipIf(SKIP_CFN_LINT)(
    'passes cfn-lint with no error and no warning (ignored rules: .cfnlintrc, each with its reason)',
    async () => {
      const matches = await cfnLint(join(out, 'cloudformation-template-update-stack.json'));
      const found = matches
        .filter((m) => m.Level !== 'Informational')
        .map((m) => `${m.Level} ${m.Rule.Id} at ${m.Location.Path.join('/')}: ${m.Message}`);
      expect(found).toEqual([]);
    },
  );

  it.skipIf(SKIP_CFN_LINT)('cfn-lint sees an error when the template has one (the check bites)', async () => {
    // One of the packaged functions alone (a small template lints fast), made wrong in two ways.
    const [id, lambda] = lambdas()[0] as [string, Json];
    const properties = {
      ...lambda.Properties,
      Role: 'arn:aws:iam::123456789012:role/x',
      Runtime: 'nodejs9.x',
      MemorySize: 64,
    };
    const broken = {
      AWSTemplateFormatVersion: '2010-09-09',
      Resources: { [id]: { Type: lambda.Type, Properties: properties } },
    };
    const file = join(work, 'broken-template.json');
    writeFileSync(file, JSON.stringify(broken));
    const errors = (await cfnLint(file)).filter((m) => m.Level === 'Error').map((m) => m.Location.Path.join('/'));
    expect(errors).toEqual(
      expect.arrayContaining([`Resources/${id}/Properties/Runtime`, `Resources/${id}/Properties/MemorySize`]),
    );
  });

  it('deploys one Lambda per handler file in functions/, on nodejs22.x (arm64), each with its zip', () => {
    const files = readdirSync(join(copy, 'functions'))
      .filter((f) => f.endsWith('.ts') && !['deps.ts', 'index.ts'].includes(f))
      .map((f) => basename(f, '.ts'))
      .sort();
    expect(
      lambdas()
        .map(([, l]) => fileOf(l))
        .sort(),
    ).toEqual(files);
    for (const [id, l] of lambdas()) {
      expect(l.Properties.Runtime, id).toBe('nodejs22.x');
      expect(l.Properties.Architectures, id).toEqual(['arm64']);
      const zip = basename(l.Properties.Code.S3Key);
      expect(existsSync(join(out, zip)), `${id}: ${zip}`).toBe(true);
      const bundle = bundles.find((b) => `${b.name}.zip` === zip);
      expect(bundle?.entry, id).toBe(`functions/${fileOf(l)}.mjs`);
      if (fileOf(l) === 'github-webhook' || fileOf(l) === 'slack-interactivity') {
        // GitHub counts a delivery as failed after 10 s; Slack wants an answer within 3 s.
        expect(l.Properties.Timeout, id).toBeLessThanOrEqual(10);
      } else if (fileOf(l) === 'stage-ahead') {
        // Its S3 copies run inside the call (a Lambda leaves nothing running): as long as its task's 300 s.
        expect(l.Properties.Timeout, id).toBe(300);
      } else {
        expect(l.Properties.Timeout, id).toBeGreaterThanOrEqual(30);
        expect(l.Properties.Timeout, id).toBeLessThanOrEqual(60);
      }
    }
  });

  it('gives each function the environment its handler reads', () => {
    for (const [id, l] of lambdas()) {
      const env = l.Properties.Environment.Variables;
      expect(env.FLOTILLA_TABLE, id).toEqual({ Ref: 'LedgerTable' });
      expect(env.FLOTILLA_TOPIC_ARN, id).toEqual({ Ref: 'AlertsTopic' });
      const file = fileOf(l);
      if (file === 'plan-release') expect(env.FLOTILLA_REGION_STATE_MACHINE_ARN).toEqual({ Ref: 'RegionStateMachine' });
      if (file === 'github-webhook') {
        expect(env.FLOTILLA_RELEASE_STATE_MACHINE_ARN).toEqual({ Ref: 'ReleaseStateMachine' });
        expect(env.FLOTILLA_GITHUB_SECRET_PARAM).toBe('/flotilla/github-webhook-secret');
        expect(env.FLOTILLA_CONFIG_PARAM).toBe('/flotilla/release-config');
      }
      if (file === 'slack-interactivity') {
        expect(env.FLOTILLA_RELEASE_STATE_MACHINE_ARN).toEqual({ Ref: 'ReleaseStateMachine' });
        expect(env.FLOTILLA_SLACK_SIGNING_SECRET_PARAM).toBe('/flotilla/slack-signing-secret');
        expect(env.FLOTILLA_CONFIG_PARAM).toBe('/flotilla/release-config');
      }
      // Deploys are waited on, not long-polled: no function waits inside its call any more.
      expect(env.FLOTILLA_LONG_POLL_MS, id).toBeUndefined();
    }
  });

  it(`keeps each function's environment within Lambda's ${LAMBDA_ENV_LIMIT} bytes, an ARN counted at its longest`, () => {
    const sizes = lambdas().map(
      ([id, l]) => [id, environmentBytes(l.Properties.Environment?.Variables ?? {})] as const,
    );
    expect(sizes.length).toBeGreaterThan(0);
    expect(sizes.filter(([, bytes]) => bytes > LAMBDA_ENV_LIMIT)).toEqual([]);
    // What the check is for: the release config as an environment variable (as it once was) passes
    // the limit at about a dozen CodeDeploy regions.
    const regions = Array.from({ length: 12 }, (_, i) => ({
      name: `region-${i}`,
      target: {
        kind: 'codedeploy',
        awsRegion: 'ap-southeast-2',
        application: 'shop',
        deploymentGroup: `shop-ap-southeast-2-${i}`,
        platform: 'Server',
        roleArn: 'arn:aws:iam::444455556666:role/flotilla-deployer-shop',
        alarms: { names: [`shop-${i}-5xx`, `shop-${i}-latency`], prefix: `shop-${i}-` },
        healthUrl: `https://region-${i}.shop.example.com/health`,
      },
    }));
    const [, webhook] = lambdas().find(([, l]) => fileOf(l) === 'github-webhook') ?? [];
    const withConfig = {
      ...webhook.Properties.Environment.Variables,
      FLOTILLA_CONFIG_JSON: JSON.stringify({ service: 'shop', regions }),
    };
    expect(environmentBytes(withConfig)).toBeGreaterThan(LAMBDA_ENV_LIMIT);
  });

  it('reserves no concurrency unless the deployer asks: reserving any fails in accounts with a small quota', () => {
    for (const [id, l] of lambdas()) expect(l.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
  });

  it.each(['release', 'region'])('deploys the %s state machine from the very ASL the local engine runs', (name) => {
    const id = `${name.charAt(0).toUpperCase()}${name.slice(1)}StateMachine`;
    const machine = template.Resources[id];
    expect(machine?.Type).toBe('AWS::StepFunctions::StateMachine');
    expect(machine.Properties.StateMachineType).toBe('STANDARD');
    const [text, params] = machine.Properties.DefinitionString['Fn::Sub'] as [string, Record<string, Json>];
    // Each substitution is a function of this stack: put its placeholder ARN back.
    let definition = text;
    for (const [param, value] of Object.entries(params)) {
      const [logicalId, attribute] = value['Fn::GetAtt'];
      expect(attribute).toBe('Arn');
      const file = fileOf(template.Resources[logicalId]);
      expect(file, logicalId).toBeDefined();
      definition = definition.replaceAll(`\${${param}}`, placeholder(file as string));
    }
    expect(definition).not.toContain('${');
    const asl = JSON.parse(readFileSync(join(copy, 'state-machines', `${name}.asl.json`), 'utf8'));
    expect(withoutQueryLanguage(JSON.parse(definition))).toEqual(withoutQueryLanguage(asl));
  });

  it('keeps the ledger table with its local secondary index, and the alerts topic', () => {
    const table = template.Resources.LedgerTable;
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    const code = ledgerTableDefinition('x');
    expect(table.Properties.KeySchema).toEqual(code.KeySchema);
    expect(table.Properties.LocalSecondaryIndexes).toEqual(code.LocalSecondaryIndexes);
    expect(template.Resources.AlertsTopic.Type).toBe('AWS::SNS::Topic');
    for (const output of ['ReleaseStateMachineArn', 'RegionStateMachineArn', 'LedgerTableName', 'AlertsTopicArn']) {
      expect(template.Outputs[output], output).toBeDefined();
    }
  });

  it('has no IAM statement allowing every action', () => {
    const all = statements();
    expect(all.length).toBeGreaterThan(20);
    for (const { where, statement } of all) {
      expect(statement.NotAction, where).toBeUndefined();
      for (const action of actions(statement)) expect(['*', '*:*'], `${where}: ${action}`).not.toContain(action);
    }
  });

  it('allows Resource "*" only for cloudwatch:DescribeAlarms (composite alarms need it), the ECS task-definition reads and deregistration, and the Auto Scaling and EC2 reads of a Server new host (no narrower resource exists)', () => {
    const wildcard = statements()
      .filter(({ statement }) => statement.Effect === 'Allow' && asArray(statement.Resource).includes('*'))
      .flatMap(({ statement }) => actions(statement));
    // cfn-lint's IAM data (AdditionalSpecs/Policies.json) lists no resource type for the two ECS
    // actions, nor for the Describe actions of Auto Scaling and EC2 (the Service Authorization
    // Reference: "you must specify all resources (*)" for an action with none).
    expect([...new Set(wildcard)].sort()).toEqual([
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeScalingActivities',
      'cloudwatch:DescribeAlarms',
      'ec2:DescribeInstances',
      'ecs:DeregisterTaskDefinition',
      'ecs:DescribeTaskDefinition',
    ]);
  });

  it('scopes DynamoDB to the ledger table and its index, and SNS to the alerts topic', () => {
    const ledger = [
      { 'Fn::GetAtt': ['LedgerTable', 'Arn'] },
      { 'Fn::Sub': `\${LedgerTable.Arn}/index/${ledgerTableDefinition('x').LocalSecondaryIndexes?.[0]?.IndexName}` },
    ];
    const all = statements().map((s) => s.statement);
    const dynamo = all.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.length).toBeGreaterThan(0);
    for (const s of dynamo) {
      expect(actions(s).every((a) => a.startsWith('dynamodb:'))).toBe(true);
      expect(asArray(s.Resource)).toEqual(ledger);
    }
    for (const s of all.filter((s) => actions(s).some((a) => a.startsWith('sns:')))) {
      expect(actions(s)).toEqual(['sns:Publish']);
      expect(asArray(s.Resource)).toEqual([{ Ref: 'AlertsTopic' }]);
    }
  });

  it('grants every DynamoDB call the ledger makes at run time', () => {
    const source = readFileSync(join(copy, 'adapters', 'dynamodb', 'ledger.ts'), 'utf8');
    // lib-dynamodb command → IAM action (an unknown one maps to itself and fails below, to be added here).
    const iam: Record<string, string> = {
      Get: 'GetItem',
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      Query: 'Query',
      Scan: 'Scan',
      BatchGet: 'BatchGetItem',
      BatchWrite: 'BatchWriteItem',
      TransactGet: 'TransactGetItems',
      TransactWrite: 'TransactWriteItems',
    };
    const item = (command: string) => iam[command] ?? command;
    const used = new Set(
      // The ledger's requests are named operations (`request('Put', …)`, adapters/dynamodb/ledger.ts),
      // sent as the document client's commands; CreateTable and DescribeTable are SDK commands.
      [...source.matchAll(/new (\w+)Command\(|request\('(\w+)'/g)]
        .map((m) => (m[1] ?? m[2]) as string)
        // Creating and describing the table is for the local backend and tests; on AWS the stack owns it.
        .filter((command) => !['CreateTable', 'DescribeTable'].includes(command))
        .map((command) => `dynamodb:${item(command)}`),
    );
    expect(used.size).toBeGreaterThan(0);
    const granted = new Set(statements().flatMap(({ statement }) => actions(statement)));
    for (const action of used) expect(granted, action).toContain(action);
  });

  it('lets iam:PassRole hand roles to ECS tasks only, and tags only what RunTask or RegisterTaskDefinition creates', () => {
    const all = statements().map((s) => s.statement as Statement & { Condition?: Json });
    const passes = all.filter((s) => actions(s).includes('iam:PassRole'));
    expect(passes.length).toBeGreaterThan(0);
    for (const s of passes) {
      expect(actions(s)).toEqual(['iam:PassRole']);
      expect(s.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    }
    const tags = all.filter((s) => actions(s).includes('ecs:TagResource'));
    // The new-host gate tags the tasks it runs; staging, the task definitions it registers.
    expect(tags.map((s) => s.Condition?.StringEquals?.['ecs:CreateAction']).sort()).toEqual([
      'RegisterTaskDefinition',
      'RunTask',
    ]);
    for (const s of tags) expect(Object.keys(s.Condition?.StringEquals ?? {})).toEqual(['ecs:CreateAction']);
  });

  it('scales and terminates only in Auto Scaling groups, and tags only instances of them with the new host’s two keys', () => {
    const all = statements().map((s) => s.statement as Statement & { Condition?: Json });
    const scaling = all.filter((s) =>
      actions(s).some((a) =>
        ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'].includes(a),
      ),
    );
    expect(scaling.length).toBeGreaterThan(0);
    for (const s of scaling) {
      expect(asArray(s.Resource)).toEqual([
        {
          'Fn::Sub': `arn:\${AWS::Partition}:autoscaling:*:\${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*`,
        },
      ]);
    }
    const tagging = all.filter((s) => actions(s).includes('ec2:CreateTags'));
    expect(tagging.length).toBeGreaterThan(0);
    for (const s of tagging) {
      expect(actions(s)).toEqual(['ec2:CreateTags']);
      expect(asArray(s.Resource)).toEqual([
        { 'Fn::Sub': `arn:\${AWS::Partition}:ec2:*:\${AWS::AccountId}:instance/*` },
      ]);
      expect(s.Condition).toEqual({
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['flotilla:release', 'flotilla:new-host'] },
        StringLike: { 'aws:ResourceTag/aws:autoscaling:groupName': '*' },
      });
    }
  });

  it('marks only Auto Scaling groups, with tag keys under flotilla:new-host:, in every function that scales one out, stops or sweeps its new host', () => {
    const all = statements().map((s) => s.statement as Statement & { Condition?: Json });
    const marking = all.filter((s) =>
      actions(s).some((a) => ['autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags'].includes(a)),
    );
    expect(marking.length).toBeGreaterThan(0);
    for (const s of marking) {
      expect(actions(s)).toEqual(['autoscaling:CreateOrUpdateTags', 'autoscaling:DeleteTags']);
      expect(asArray(s.Resource)).toEqual([
        {
          'Fn::Sub': `arn:\${AWS::Partition}:autoscaling:*:\${AWS::AccountId}:autoScalingGroup:*:autoScalingGroupName/*`,
        },
      ]);
      expect(s.Condition).toEqual({ 'ForAllValues:StringLike': { 'aws:TagKeys': ['flotilla:new-host:*'] } });
    }
    // Whoever terminates a new host reads and deletes its mark, and may give back its capacity.
    for (const [id, lambda] of lambdas()) {
      const granted = roleStatements(lambda).flatMap(actions);
      if (!granted.includes('autoscaling:TerminateInstanceInAutoScalingGroup')) continue;
      for (const needed of [
        'autoscaling:SetDesiredCapacity',
        'autoscaling:CreateOrUpdateTags',
        'autoscaling:DeleteTags',
      ])
        expect(granted, `${id}: ${needed}`).toContain(needed);
    }
  });

  it('gives each function a role of its own that grants exactly the services its bundle has clients for', () => {
    const prefixes: Record<string, string> = {
      CodeDeploy: 'codedeploy',
      CloudWatch: 'cloudwatch',
      ECS: 'ecs',
      Lambda: 'lambda',
      S3: 's3',
      DynamoDB: 'dynamodb',
      SNS: 'sns',
      SSM: 'ssm',
      SFN: 'states',
      AutoScaling: 'autoscaling',
      EC2: 'ec2',
    };
    const roles = new Set<string>();
    for (const [id, l] of lambdas()) {
      roles.add(l.Properties.Role['Fn::GetAtt'][0]);
      const bundle = bundles.find((b) => b.entry === `functions/${fileOf(l)}.mjs`);
      // Each SDK client's runtime config names its service: `serviceId: config?.serviceId ?? "SNS"`.
      const code = bundle?.code.toString('utf8') ?? '';
      const clients = [...code.matchAll(/serviceId\?\?"([^"]+)"/g)]
        .map((m) => m[1] as string)
        .filter((service) => service in prefixes);
      // S3 is reached without its client (a Lambda rollback's signed GET, adapters/aws/lambda-rollback.ts),
      // and so is Lambda's Invoke (the new-host gate's signed POST, adapters/aws/lambda-invoke.ts).
      if (/service:"s3"/.test(code)) clients.push('S3');
      if (/service:"lambda"/.test(code)) clients.push('Lambda');
      // Auto Scaling and EC2 too (a Server group's new host: signed Query requests, adapters/aws/signed-query.ts).
      if (/service:"autoscaling"/.test(code)) clients.push('AutoScaling');
      if (/service:"ec2"/.test(code)) clients.push('EC2');
      const all = roleStatements(l).flatMap(actions);
      // iam:PassRole has no client: it is what ecs:RunTask (a new host) and ecs:RegisterTaskDefinition
      // (staging) need to hand a task its roles, and only such a role may pass roles.
      const passes = [...new Set(all.filter((a) => a.startsWith('iam:')))];
      const handsRoles = all.includes('ecs:RunTask') || all.includes('ecs:RegisterTaskDefinition');
      expect(passes, id).toEqual(handsRoles ? ['iam:PassRole'] : []);
      const granted = new Set(
        all.map((a) => a.split(':')[0] as string).filter((service) => !['logs', 'sts', 'iam'].includes(service)),
      );
      expect([...granted].sort(), id).toEqual([...new Set(clients.map((c) => prefixes[c]))].sort());
      // Assumed roles are how the clients of target regions (CodeDeploy, CloudWatch, ECS, Lambda and
      // staging's S3) reach other accounts.
      const assumes = roleStatements(l).some((s) => actions(s).includes('sts:AssumeRole'));
      expect(assumes, id).toBe(['codedeploy', 'cloudwatch', 's3', 'ecs'].some((s) => granted.has(s)));
    }
    expect(roles.size).toBe(lambdas().length);
  });

  it('passes roles to ECS tasks only, wherever a function may pass one', () => {
    const passes = lambdas().flatMap(([id, l]) =>
      roleStatements(l)
        .filter((s) => actions(s).includes('iam:PassRole'))
        .map((s) => [id, s] as const),
    );
    expect(passes.map(([id]) => id)).toContain('StageAheadLambdaFunction');
    for (const [id, statement] of passes) {
      expect(actions(statement), id).toEqual(['iam:PassRole']);
      expect((statement as { Condition?: unknown }).Condition, id).toEqual({
        StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
      });
    }
  });

  it('lets the GitHub webhook read its secret and config parameters, read and put branch heads and start releases, nothing more', () => {
    const [, webhook] = lambdas().find(([, l]) => fileOf(l) === 'github-webhook') ?? [];
    expect(webhook).toBeDefined();
    const granted = roleStatements(webhook).filter((s) => !actions(s).every((a) => a.startsWith('logs:')));
    expect(granted.map((s) => [actions(s), asArray(s.Resource)])).toEqual([
      [
        ['ssm:GetParameter'],
        [
          {
            'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/flotilla/github-webhook-secret`,
          },
        ],
      ],
      [
        ['ssm:GetParameter'],
        [
          {
            'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/flotilla/release-config`,
          },
        ],
      ],
      [
        ['dynamodb:GetItem', 'dynamodb:PutItem'],
        [{ 'Fn::GetAtt': ['LedgerTable', 'Arn'] }, { 'Fn::Sub': `\${LedgerTable.Arn}/index/byReleaseStart` }],
      ],
      [['states:StartExecution'], [{ Ref: 'ReleaseStateMachine' }]],
    ]);
    // No other function starts executions, but the Slack buttons' (roll back starts a release).
    for (const [id, l] of lambdas()) {
      if (l === webhook || fileOf(l) === 'slack-interactivity') continue;
      expect(roleStatements(l).flatMap(actions), id).not.toContain('states:StartExecution');
    }
  });

  it('lets the Slack buttons read their secret and the config, use the ledger, wake and start releases, nothing more', () => {
    const [, buttons] = lambdas().find(([, l]) => fileOf(l) === 'slack-interactivity') ?? [];
    expect(buttons).toBeDefined();
    const granted = roleStatements(buttons).filter((s) => !actions(s).every((a) => a.startsWith('logs:')));
    const ledger = granted.filter((s) => actions(s).every((a) => a.startsWith('dynamodb:')));
    expect(ledger).toHaveLength(1);
    expect(granted.filter((s) => !ledger.includes(s)).map((s) => [actions(s), asArray(s.Resource)])).toEqual([
      [
        ['ssm:GetParameter'],
        [
          {
            'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/flotilla/slack-signing-secret`,
          },
        ],
      ],
      [
        ['ssm:GetParameter'],
        [
          {
            'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/flotilla/release-config`,
          },
        ],
      ],
      [
        ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        [
          { Ref: 'ReleaseStateMachine' },
          {
            'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${ReleaseStateMachine.Name}:*`,
          },
        ],
      ],
      [['states:StartExecution'], [{ Ref: 'ReleaseStateMachine' }]],
    ]);
    // Besides it, only what ends a wait on an event wakes releases: the release ahead ending (and
    // the abnormal-end rule), the bake's watchers (the CLI does too, with the user's own credentials),
    // and the hold and the bake themselves, ending their own wait when a verb landed before the token;
    // and region children, only what ends a deploy's wait (the deployment's event, the wait's own look).
    const wakers = new Set(['finish-release', 'execution-ended', 'probe-bakes', 'alarm-changed', 'hold', 'bake']);
    const regionWakers = new Set(['deployment-changed', 'await-deployment']);
    const wakeArns = (l: Json) =>
      roleStatements(l)
        .filter((s) => actions(s).includes('states:SendTaskSuccess'))
        .flatMap((s) => asArray(s.Resource))
        .map((r) => JSON.stringify(r));
    for (const [id, l] of lambdas()) {
      if (l === buttons) continue;
      const arns = wakeArns(l);
      const toRegions = (r: string) => /:(stateMachine|execution):flotilla-[a-z0-9-]+-region\b/.test(r);
      expect(
        arns.some((r) => !toRegions(r)),
        id,
      ).toBe(wakers.has(fileOf(l) ?? ''));
      // The region machine's own executions, and those of no other machine.
      expect(arns.some(toRegions), id).toBe(regionWakers.has(fileOf(l) ?? ''));
    }
  });

  it('lets the release state machine start and follow region executions (.sync:2), and nothing more', () => {
    const policy = template.Resources.ReleaseStateMachineRole.Properties.Policies[0].PolicyDocument;
    const byAction = (action: string) => policy.Statement.filter((s: Statement) => actions(s).includes(action));
    expect(byAction('states:StartExecution').flatMap((s: Statement) => asArray(s.Resource))).toEqual([
      { Ref: 'RegionStateMachine' },
    ]);
    const [follow] = byAction('states:DescribeExecution');
    expect(actions(follow).sort()).toEqual(['states:DescribeExecution', 'states:StopExecution']);
    expect(JSON.stringify(follow.Resource)).toContain(`:execution:\${RegionStateMachine.Name}:*`);
    const [events] = byAction('events:PutRule');
    expect(actions(events).sort()).toEqual(['events:DescribeRule', 'events:PutRule', 'events:PutTargets']);
    expect(JSON.stringify(events.Resource)).toContain(':rule/StepFunctionsGetEventsForStepFunctionsExecutionRule');
    for (const name of ['Release', 'Region']) {
      const machine = template.Resources[`${name}StateMachine`];
      const invoked = Object.values(machine.Properties.DefinitionString['Fn::Sub'][1] as Record<string, Json>);
      const role = template.Resources[`${name}StateMachineRole`].Properties.Policies[0].PolicyDocument;
      const invokable = role.Statement.filter((s: Statement) => actions(s).includes('lambda:InvokeFunction'));
      expect(
        invokable
          .flatMap((s: Statement) => asArray(s.Resource))
          .map(JSON.stringify)
          .sort(),
      ).toEqual([...new Set(invoked.map((v) => JSON.stringify(v)))].sort());
    }
  });

  it('has no dependency cycle between resources', () => {
    const edges = new Map<string, Set<string>>();
    const refs = (node: Json, into: Set<string>) => {
      if (Array.isArray(node)) for (const n of node) refs(n, into);
      else if (node !== null && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === 'Ref' && typeof v === 'string') into.add(v);
          else if (k === 'Fn::GetAtt') into.add(asArray(v as string | string[])[0]?.split('.')[0] as string);
          else if (k === 'Fn::Sub') {
            const text = Array.isArray(v) ? v[0] : v;
            for (const m of String(text).matchAll(/\$\{([A-Za-z0-9]+)(\.[A-Za-z.]+)?\}/g)) into.add(m[1] as string);
            if (Array.isArray(v)) refs(v[1], into);
          } else refs(v, into);
        }
      }
    };
    for (const [id, r] of Object.entries(template.Resources)) {
      const into = new Set<string>(asArray(r.DependsOn));
      refs(r.Properties ?? {}, into);
      edges.set(id, new Set([...into].filter((d) => d in template.Resources)));
    }
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (id: string, path: string[]) => {
      if (state.get(id) === 'done') return;
      expect(state.get(id), `cycle: ${[...path, id].join(' → ')}`).not.toBe('visiting');
      state.set(id, 'visiting');
      for (const next of edges.get(id) ?? []) visit(next, [...path, id]);
      state.set(id, 'done');
    };
    for (const id of edges.keys()) visit(id, []);
  });

  it(`keeps every bundle within ${BUNDLE_LIMIT / KiB} KiB of minified JS`, () => {
    expect(bundles).toHaveLength(lambdas().length);
    const over = bundles.filter((b) => b.code.length > BUNDLE_LIMIT).map((b) => `${b.name} ${b.code.length}`);
    expect(over).toEqual([]);
  });
});
