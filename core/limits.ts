/**
 * AWS's hard limits that a release design must fit, as data and pure checks. The local engine and
 * the embedded DynamoDB enforce them (backends/local), so a release that passes locally fits on AWS
 * too. Sources: Step Functions service quotas and API reference, DynamoDB service quotas (see
 * /docs/aws.md and the project's aws-facts).
 */

/** Step Functions: the most a state's input or output, or a task's payload, may weigh (UTF-8 bytes of its JSON). */
export const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** Step Functions: a Standard execution fails when its history reaches this many events. */
export const HISTORY_EVENT_LIMIT = 25_000;

/** Step Functions: execution names are 1–80 characters. */
export const EXECUTION_NAME_MAX = 80;

/** DynamoDB: any one expression string (update, condition, key condition, filter, projection), in UTF-8 bytes. */
export const DYNAMO_EXPRESSION_LIMIT_BYTES = 4 * 1024;

/** DynamoDB: the most an item may weigh (names and values), 400 KB. */
export const DYNAMO_ITEM_LIMIT_BYTES = 400 * 1024;

/** What a JSON value weighs as Step Functions counts it: the UTF-8 bytes of its serialization. */
export function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value);
  return text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
}

/**
 * Characters Step Functions refuses in names: whitespace, `? *`, brackets `< > { } [ ]`,
 * `" # % \ ^ | ~ \` $ & , ; : /`, and control characters (U+0000–U+001F, U+007F–U+009F).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what AWS forbids.
const FORBIDDEN_NAME_CHARS = /[\s?*<>{}[\]"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

/** Why Step Functions would refuse `name` as an execution name (StartExecution's InvalidName), or null if it is fine. */
export function executionNameProblem(name: string): string | null {
  if (name.length === 0) return 'an execution name must not be empty';
  if (name.length > EXECUTION_NAME_MAX) {
    return `execution name ${JSON.stringify(name)} has ${name.length} characters; Step Functions allows at most ${EXECUTION_NAME_MAX}`;
  }
  const bad = FORBIDDEN_NAME_CHARS.exec(name);
  if (bad)
    return `execution name ${JSON.stringify(name)} contains ${JSON.stringify(bad[0])}, which Step Functions does not allow`;
  return null;
}
