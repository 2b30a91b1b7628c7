/**
 * The local engine: the same ASL files AWS runs, on aws-local-stepfunctions. Every Task state is
 * bound by its Resource: `...:function:flotilla-<name>` to the handler of that name in functions/,
 * and `states:startExecution.sync:2` to a child execution run by this same engine.
 */
import { readFileSync } from 'node:fs';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { namedError } from '../../core/errors.ts';
import { countAwsHistoryEvents, type LocalEvent } from './history.ts';

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
    const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
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
      taskResourceLocalHandlers[state] = fn
        ? async (taskInput: Json) => (await fn(taskInput)) as Json
        : LAMBDA_INVOKE.test(resource)
          ? (invokeInput: Json) => this.invoke(invokeInput)
          : (childInput: Json) => this.startExecutionSync(childInput, name);
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
    this.running.set(name, execution.abort);
    try {
      return await this.finish(arn, name, definition, execution);
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
    definition: StateMachineDefinition,
    execution: ReturnType<StateMachine['run']>,
  ): Promise<Json> {
    const report = this.options.onExecutionEnd;
    if (!report) return (await execution.result) as Json;

    // The event log must be read while the execution runs to see every event.
    const events: LocalEvent[] = [];
    const reading = (async () => {
      for await (const event of execution.eventLogs) events.push(event as LocalEvent);
    })();
    const resources = new Map(
      taskStates(definition.States as Record<string, TaskStateLike>).map((t) => [t.name, t.resource]),
    );
    const finish = async (status: ExecutionReport['status']) => {
      await reading;
      report({ stateMachine: arn, name, status, awsHistoryEvents: countAwsHistoryEvents(events, resources) });
    };
    try {
      const output = (await execution.result) as Json;
      await finish('SUCCEEDED');
      return output;
    } catch (error) {
      await finish('FAILED');
      throw error;
    }
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
    const childName = request.Name ?? `${parentName}-child-${this.executions + 1}`;
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
