/**
 * AWS Query-protocol calls (EC2 Auto Scaling, EC2) as one SigV4-signed form POST each, with the
 * signer every SDK client already carries (adapters/aws/signed-request.ts), instead of their SDK
 * clients: @aws-sdk/client-auto-scaling and @aws-sdk/client-ec2 would take StartBake (~528 KiB),
 * FinishRelease and ExecutionEnded past the project's 600 KiB per bundle (test/infra/package.test.ts).
 *
 * A request is `Action=…&Version=…` plus the action's parameters, form-encoded
 * (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/CommonParameters.html,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html); the answer is XML,
 * read here with a small, forgiving parser into a tree (`XmlNode`) the callers pick fields from.
 * An error answer (`<ErrorResponse><Error><Code>…` for Auto Scaling, `<Response><Errors><Error><Code>…`
 * for EC2) is thrown as an Error whose `name` is AWS's Code, so adapters/aws/errors.ts sees
 * throttling (`Throttling`, `RequestLimitExceeded`) as the SDK's errors are seen: it becomes AwsThrottled.
 */
import type { AwsCredentials } from './clients.ts';
import { awsCall, namedError } from './errors.ts';
import { signedRequest } from './signed-request.ts';

/** The Query services Flotilla calls, with their API versions and endpoint prefixes. */
export const QUERY_SERVICES = {
  autoscaling: { version: '2011-01-01', label: 'Auto Scaling' },
  ec2: { version: '2016-11-15', label: 'EC2' },
} as const;

export type QueryService = keyof typeof QUERY_SERVICES;

export interface QueryCall {
  service: QueryService;
  awsRegion: string;
  /** The role the call goes through (the target's `roleArn`), if any. */
  roleArn?: string;
  action: string;
  /** The action's parameters, already flattened (`InstanceId.1`, `Filter.1.Value.1`…). */
  params?: Record<string, string>;
}

/** Sends the call; resolves to the parsed XML answer, or throws AWS's error (name = its Code). */
export type QueryApi = (call: QueryCall) => Promise<XmlNode>;

export interface SignedQueryOptions {
  /** The credentials to sign with in a region, through a role when one is named. */
  credentials: (awsRegion: string, roleArn?: string) => Promise<AwsCredentials>;
  /** The service's endpoint in a region (tests: a local server or moto). Default: the regional endpoint. */
  endpoint?: (service: QueryService, awsRegion: string) => string;
  fetch?: typeof fetch;
}

/** The service's regional endpoint. */
export const regionalQueryEndpoint = (service: QueryService, awsRegion: string): string =>
  `https://${service}.${awsRegion}.amazonaws.com${awsRegion.startsWith('cn-') ? '.cn' : ''}`;

/**
 * The endpoints the SDK clients would use given `env`: its endpoint variables
 * (`AWS_ENDPOINT_URL_AUTO_SCALING`, `AWS_ENDPOINT_URL_EC2`, then `AWS_ENDPOINT_URL`) before the
 * regional one, so a function pointed at a test server (moto) sends these calls there too.
 */
export function queryEndpoints(
  env: Record<string, string | undefined>,
): (service: QueryService, awsRegion: string) => string {
  return (service, awsRegion) =>
    env[`AWS_ENDPOINT_URL_${service === 'autoscaling' ? 'AUTO_SCALING' : 'EC2'}`] ||
    env.AWS_ENDPOINT_URL ||
    regionalQueryEndpoint(service, awsRegion);
}

export function signedQuery(options: SignedQueryOptions): QueryApi {
  const endpointOf = options.endpoint ?? regionalQueryEndpoint;
  const send = options.fetch ?? fetch;
  return async (call) => {
    const { version, label } = QUERY_SERVICES[call.service];
    const where = `${label} ${call.action} in ${call.awsRegion}`;
    const form = new URLSearchParams({ Action: call.action, Version: version, ...call.params });
    return awsCall(where, async () => {
      const response = await signedRequest({
        service: call.service,
        awsRegion: call.awsRegion,
        credentials: await options.credentials(call.awsRegion, call.roleArn),
        endpoint: endpointOf(call.service, call.awsRegion),
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: form.toString(),
        where,
        fetch: send,
      });
      const body = await response.text();
      const tree = parseXml(body);
      const error = find(tree, 'Error');
      if (!response.ok || error) throw queryError(where, response.status, error, body);
      return tree;
    });
  };
}

/** AWS's error, named by its Code (HTTP status as the SDK's `$metadata` has it, for 429s without a Code). */
function queryError(where: string, status: number, error: XmlNode | undefined, body: string): Error {
  const code = text(error, 'Code') ?? (status === 429 ? 'TooManyRequests' : `QueryHttp${status}`);
  const message = text(error, 'Message') ?? body.slice(0, 200);
  return Object.assign(namedError(code, `${where}: HTTP ${status} ${code}${message ? `: ${message}` : ''}`), {
    $metadata: { httpStatusCode: status },
  });
}

// --- a small XML reader: elements, text and entities; attributes, comments and declarations skipped ---

export interface XmlNode {
  name: string;
  children: XmlNode[];
  /** The element's own text (entities decoded), trimmed. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? whole;
  });
}

/**
 * The document as a tree under a root named ''. Forgiving: an unmatched closing tag closes up to
 * its opener if there is one and is ignored otherwise; whatever is left open at the end is closed.
 * A body that is not XML (an HTML error page) is a root with no children.
 */
export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '', children: [], text: '' };
  const stack: { node: XmlNode; text: string[] }[] = [{ node: root, text: [] }];
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|<!\[CDATA\[([\s\S]*?)\]\]>|<[?!][\s\S]*?>/g;
  let at = 0;
  for (let m = tag.exec(xml); m !== null; m = tag.exec(xml)) {
    const top = stack[stack.length - 1] as { node: XmlNode; text: string[] };
    if (m.index > at) top.text.push(decode(xml.slice(at, m.index)));
    at = tag.lastIndex;
    const [, closing, name, selfClosing, cdata] = m;
    if (cdata !== undefined) {
      top.text.push(cdata);
      continue;
    }
    if (name === undefined) continue;
    if (closing) {
      const open = stack.map((s) => s.node.name).lastIndexOf(name);
      if (open <= 0) continue;
      while (stack.length > open) close(stack);
      continue;
    }
    const node: XmlNode = { name: localName(name), children: [], text: '' };
    top.node.children.push(node);
    if (!selfClosing) stack.push({ node, text: [] });
  }
  while (stack.length > 1) close(stack);
  return root;
}

function close(stack: { node: XmlNode; text: string[] }[]): void {
  const done = stack.pop();
  if (done) done.node.text = done.text.join('').trim();
}

/** `ns:Name` → `Name`: the answers' namespaces say nothing Flotilla reads. */
const localName = (name: string): string => name.slice(name.indexOf(':') + 1);

/** The first element named `name` at any depth below `node` (depth-first), if any. */
export function find(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (!node) return undefined;
  for (const child of node.children) {
    if (child.name === name) return child;
    const deeper = find(child, name);
    if (deeper) return deeper;
  }
  return undefined;
}

/** The direct child named `name`, if any. */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

/** The items of a list element: its `member` (Auto Scaling) or `item` (EC2) children. */
export function items(list: XmlNode | undefined): XmlNode[] {
  return (list?.children ?? []).filter((c) => c.name === 'member' || c.name === 'item');
}

/** The text of the direct child named `name`; undefined when there is none or it is empty. */
export function text(node: XmlNode | undefined, name: string): string | undefined {
  const value = child(node, name)?.text;
  return value === undefined || value === '' ? undefined : value;
}
