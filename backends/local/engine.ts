/**
 * The local engine: the same ASL files AWS runs, on aws-local-stepfunctions. Every Task state is
 * bound by its Resource: `...:function:flotilla-<name>` to the handler of that name in functions/,
 * and `states:startExecution.sync:2` to a child execution run by this same engine.
 *
 * aws-local-stepfunctions enforces none of AWS's limits, so this engine does (core/limits.ts): a
 * state input or output, or a task's payload or result, over 256 KiB fails the execution with
 * `States.DataLimitExceeded`; passing 25,000 history events (counted as AWS would, history.ts)
 * fails it with `States.Runtime`; an execution name AWS would refuse is refused (`InvalidName`).
 * Neither failure can be caught by the state machine (AWS's `States.ALL` does not match them): the
 * execution is stopped where it stands, as on AWS.
 */
import { readFileSync } from 'node:fs';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { namedError } from '../../core/errors.ts';
import { executionNameProblem, HISTORY_EVENT_LIMIT, jsonBytes, STATE_PAYLOAD_LIMIT_BYTES } from '../../core/limits.ts';
import { AwsHistoryCounter, type LocalEvent } from './history.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
// Each handler declares its own input type; the engine hands it the task's JSON input as is.
// biome-ignore lint/suspicious/noExplicitAny: a table of handlers with different input types.
type Handler = (input: any) => Promise<unknown>;

const stateMachinesDir = new URL('../../state-machines/', import.meta.url);

export function loadDefinition(name: 'release' | 'region'): StateMachineDefinition {
  return JSON.parse(readFileSync(new URL(`${name}.asl.json`, stateMachinesDir), 'utf8')) as StateMachineDefinition;
}

const LOCAL_ARN_PREFIX = 'arn:aws:states:local:000000000000:stateMachine:';

/** The ARN a state machine registered under `name` gets on the local engine. */
export const localArn = (name: string): string => `${LOCAL_ARN_PREFIX}${name}`;
const LAMBDA_RESOURCE = /^arn:aws:lambda:[^:]+:[^:]+:function:flotilla-([a-z-]+)$/;
const START_EXECUTION = /^arn:aws:states:::states:startExecution(\.sync(:2)?)?$/;
/** `lambda:invoke` integrations (the hold uses `.waitForTaskToken`): the function is in Parameters. */
const LAMBDA_INVOKE = /^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/;

interface TaskStateLike {
  Type: string;
  Resource?: string;
  Iterator?: { States: Record<string, TaskStateLike> };
  ItemProcessor?: { States: Record<string, TaskStateLike> };
  Branches?: { States: Record<string, TaskStateLike> }[];
}

/** Every state, nested ones included, with its name. */
function allStates(states: Record<string, TaskStateLike>): { name: string; state: TaskStateLike }[] {
  const found: { name: string; state: TaskStateLike }[] = [];
  for (const [name, state] of Object.entries(states)) {
    found.push({ name, state });
    const nested = [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])];
    for (const sub of nested) if (sub) found.push(...allStates(sub.States));
  }
  return found;
}

/** Every Task state, nested ones included, with its Resource. */
export function taskStates(states: Record<string, TaskStateLike>): { name: string; resource: string }[] {
  return allStates(states).flatMap(({ name, state }) =>
    state.Type === 'Task' && state.Resource ? [{ name, resource: state.Resource }] : [],
  );
}

/** What one finished execution cost in AWS history events (see history.ts). */
export interface ExecutionReport {
  stateMachine: string;
  name: string;
  status: 'SUCCEEDED' | 'FAILED';
  awsHistoryEvents: number;
  /** The largest state input/output or task payload/result of the execution, in UTF-8 bytes of JSON. */
  maxPayloadBytes: number;
  /** Where that largest payload was (`output of state X`, `input of task Y`). */
  maxPayloadAt: string;
}

export interface EngineOptions {
  /** Handlers by function name (the part after `flotilla-` in the Resource ARN). */
  functions: Record<string, Handler>;
  /** Retry waits shortened locally: errors here are not AWS throttling. */
  retryIntervalMs?: number;
  /** Every Wait state lasts this long instead (simulations and tests of long releases). */
  waitMs?: number;
  /** Called as each execution (parent or child) ends, with its AWS history-event count. */
  onExecutionEnd?: (report: ExecutionReport) => void;
}

export class LocalEngine {
  private readonly definitions = new Map<string, StateMachineDefinition>();
  /** Built (and validated) once per definition: validating on every child execution cost ~100 ms of CPU each. */
  private readonly machines = new Map<string, StateMachine>();
  private readonly options: EngineOptions;
  private executions = 0;
  /** Aborts of the executions still running, so shutting down stops them instead of orphaning them. */
  private readonly running = new Map<string, () => void>();

  constructor(options: EngineOptions) {
    this.options = options;
  }

  /** Registers a state machine under a local ARN after checking every Task state can be bound. */
  register(name: string, definition: StateMachineDefinition): string {
    for (const { name: state, resource } of taskStates(definition.States as Record<string, TaskStateLike>)) {
      const lambda = LAMBDA_RESOURCE.exec(resource);
      if (lambda?.[1] && this.options.functions[lambda[1]]) continue;
      if (START_EXECUTION.test(resource) || LAMBDA_INVOKE.test(resource)) continue;
      throw namedError('UnboundTask', `state ${state} of ${name}: no local binding for ${resource}`);
    }
    const arn = localArn(name);
    this.definitions.set(arn, definition);
    this.machines.set(arn, new StateMachine(definition, { validationOptions: { checkArn: false } }));
    return arn;
  }

  /** Runs an execution to its end. Resolves with its output; rejects with the ASL error (name = Error). */
  async run(arn: string, input: Json, executionName?: string): Promise<Json> {
    const definition = this.definitions.get(arn);
    const machine = this.machines.get(arn);
    if (!definition || !machine) throw namedError('StateMachineDoesNotExist', `no local state machine ${arn}`);
    this.executions += 1;
    const name = executionName ?? `exec-${this.executions}`;
    const badName = executionNameProblem(name);
    if (badName) throw namedError('InvalidName', badName);
    const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
    const limits = new Limits(definition);
    limits.payload('input of the execution', input);
    if (limits.violation) throw limits.violation;
    const taskResourceLocalHandlers: Record<string, (input: Json) => Promise<Json>> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    const waitTimeOverrides: Record<string, number> = {};
    const states = allStates(definition.States as Record<string, TaskStateLike>);
    if (this.options.waitMs !== undefined) {
      for (const { name: state, state: def } of states)
        if (def.Type === 'Wait') waitTimeOverrides[state] = this.options.waitMs;
    }
    for (const { name: state, resource } of taskStates(definition.States as Record<string, TaskStateLike>)) {
      const lambda = LAMBDA_RESOURCE.exec(resource);
      const fn = lambda?.[1] ? this.options.functions[lambda[1]] : undefined;
      // Handlers return plain JSON-shaped objects; the engine only passes them on.
      const call: (taskInput: Json) => Promise<Json> = fn
        ? async (taskInput: Json) => (await fn(taskInput)) as Json
        : LAMBDA_INVOKE.test(resource)
          ? (invokeInput: Json) => this.invoke(invokeInput)
          : (childInput: Json) => this.startExecutionSync(childInput, name);
      // What the task is handed (after Parameters) and what it returns (before ResultSelector) both count.
      taskResourceLocalHandlers[state] = async (taskInput: Json) => {
        limits.payload(`input of task ${state}`, taskInput);
        if (limits.violation) throw limits.violation;
        const result = await call(taskInput);
        limits.payload(`result of task ${state}`, result);
        if (limits.violation) throw limits.violation;
        return result;
      };
      if (this.options.retryIntervalMs !== undefined) retryIntervalOverrides[state] = this.options.retryIntervalMs;
    }
    const execution = machine.run(input as Parameters<StateMachine['run']>[0], {
      overrides: {
        taskResourceLocalHandlers: taskResourceLocalHandlers as Record<string, (input: unknown) => Promise<never>>,
        retryIntervalOverrides,
        waitTimeOverrides,
      },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: new Date().toISOString(), Input: input },
        // `$$.Task.Token` for `.waitForTaskToken` states; locally the handler itself waits, so one token does.
        Task: { Token: `local-task-token:${executionArn}` },
      },
    });
    // A limit passed stops the execution where it stands: the abort lands before the next state
    // starts, so no Catch (not even States.ALL) gets to route the failure, as on AWS.
    limits.onViolation = () => execution.abort();
    this.running.set(name, execution.abort);
    try {
      return await this.finish(arn, name, execution, limits);
    } finally {
      if (this.running.get(name) === execution.abort) this.running.delete(name);
    }
  }

  /** Stops every execution still running (the backend is closing). */
  abortAll(): void {
    for (const abort of this.running.values()) abort();
    this.running.clear();
  }

  /**
   * StopExecution: aborts the execution named `name` and the child executions it started. Its run
   * rejects with `ExecutionAbortedError`, as AWS ends it ABORTED; no state of its own runs after.
   * False when no such execution runs.
   */
  stop(name: string): boolean {
    const abort = this.running.get(name);
    if (!abort) return false;
    for (const [other, abortChild] of this.running) if (other.startsWith(`${name}-child-`)) abortChild();
    abort();
    return true;
  }

  /** Whether an execution of that name runs now (DescribeExecution says RUNNING). */
  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  private async finish(
    arn: string,
    name: string,
    execution: ReturnType<StateMachine['run']>,
    limits: Limits,
  ): Promise<Json> {
    // The event log must be read while the execution runs to see every event: it is what the
    // history limit and the state-size limit are checked on.
    const reading = (async () => {
      for await (const event of execution.eventLogs) limits.event(event as LocalEvent);
    })();
    const finish = async (status: ExecutionReport['status']) => {
      await reading;
      // The log is read behind the execution: a limit found there fails even an execution that got to its end.
      if (limits.violation) status = 'FAILED';
      this.options.onExecutionEnd?.({
        stateMachine: arn,
        name,
        status,
        awsHistoryEvents: limits.history.count,
        maxPayloadBytes: limits.maxPayloadBytes,
        maxPayloadAt: limits.maxPayloadAt,
      });
    };
    let output: Json;
    try {
      output = (await execution.result) as Json;
    } catch (error) {
      await finish('FAILED');
      throw limits.violation ?? error;
    }
    await finish('SUCCEEDED');
    if (limits.violation) throw limits.violation;
    return output;
  }

  /**
   * `lambda:invoke[.waitForTaskToken]`: calls the function its FunctionName names with the Payload.
   * For `.waitForTaskToken` the local handler returns when the wait is over (AWS would wait for
   * SendTaskSuccess), so its return ends the task either way.
   */
  private async invoke(input: Json): Promise<Json> {
    const request = input as { FunctionName?: string; Payload?: Json };
    const fn = LAMBDA_RESOURCE.exec(request.FunctionName ?? '')?.[1];
    const handler = fn ? this.options.functions[fn] : undefined;
    if (!handler) throw namedError('Lambda.ResourceNotFoundException', `no local function ${request.FunctionName}`);
    return (await handler(request.Payload ?? {})) as Json;
  }

  /** `states:startExecution.sync:2`: run the child to its end; its output comes back parsed, as on AWS. */
  private async startExecutionSync(input: Json, parentName: string): Promise<Json> {
    const request = input as { StateMachineArn?: string; Input?: Json; Name?: string };
    if (!request.StateMachineArn) throw namedError('States.Runtime', 'startExecution without StateMachineArn');
    // AWS names an unnamed child with a UUID; here a name derived from the parent's, kept within AWS's 80 characters.
    const suffix = `-child-${this.executions + 1}`;
    const childName = request.Name ?? `${parentName.slice(0, 80 - suffix.length)}${suffix}`;
    const started = new Date().toISOString();
    try {
      const output = await this.run(request.StateMachineArn, request.Input ?? {}, childName);
      return { Output: output, Status: 'SUCCEEDED', StartDate: started, StopDate: new Date().toISOString() };
    } catch (error) {
      const inner = error as Error & { cause?: unknown };
      throw namedError('States.TaskFailed', `child execution ${childName} failed: ${inner.message}`, error);
    }
  }
}

/**
 * AWS's limits, watched over one execution: the history-event count as it grows, and the size of
 * every state input and output and every task payload. The first limit passed is kept as the
 * execution's failure and stops it (`onViolation`).
 */
class Limits {
  readonly history: AwsHistoryCounter;
  maxPayloadBytes = 0;
  maxPayloadAt = '';
  violation: Error | undefined;
  onViolation: () => void = () => {};

  constructor(definition: StateMachineDefinition) {
    this.history = new AwsHistoryCounter(
      new Map(taskStates(definition.States as Record<string, TaskStateLike>).map((t) => [t.name, t.resource])),
    );
  }

  event(event: LocalEvent): void {
    const total = this.history.add(event);
    // AWS records event 25,000 only if it ends the execution successfully; any other fails it.
    if (total >= HISTORY_EVENT_LIMIT && event.type !== 'ExecutionSucceeded' && !this.violation) {
      this.fail(
        namedError(
          'States.Runtime',
          `the execution reached ${HISTORY_EVENT_LIMIT} history events, Step Functions' limit for a Standard execution`,
        ),
      );
    }
    const state = event.state;
    if (event.type === 'ExecutionSucceeded') this.payload('output of the execution', event.output);
    else if (state && event.type === 'StateEntered') this.payload(`input of state ${state.name}`, state.input);
    else if (state && event.type === 'StateExited') this.payload(`output of state ${state.name}`, state.output);
  }

  payload(where: string, value: unknown): void {
    const bytes = jsonBytes(value);
    if (bytes > this.maxPayloadBytes) {
      this.maxPayloadBytes = bytes;
      this.maxPayloadAt = where;
    }
    if (bytes > STATE_PAYLOAD_LIMIT_BYTES && !this.violation) {
      this.fail(
        namedError(
          'States.DataLimitExceeded',
          `the ${where} is ${bytes} bytes, over Step Functions' limit of ${STATE_PAYLOAD_LIMIT_BYTES} bytes (256 KiB)`,
        ),
      );
    }
  }

  private fail(error: Error): void {
    this.violation = error;
    this.onViolation();
  }
}
