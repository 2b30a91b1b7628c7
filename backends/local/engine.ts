/**
 * The local engine: the same ASL files AWS runs, on aws-local-stepfunctions. Every Task state is
 * bound by its Resource: `...:function:flotilla-<name>` to the handler of that name in functions/,
 * and `states:startExecution.sync:2` to a child execution run by this same engine.
 */
import { readFileSync } from 'node:fs';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { FlotillaError } from '../../functions/deps.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Handler = (input: Json) => Promise<unknown>;

const stateMachinesDir = new URL('../../state-machines/', import.meta.url);

export function loadDefinition(name: 'release' | 'region'): StateMachineDefinition {
  return JSON.parse(readFileSync(new URL(`${name}.asl.json`, stateMachinesDir), 'utf8')) as StateMachineDefinition;
}

const LOCAL_ARN_PREFIX = 'arn:aws:states:local:000000000000:stateMachine:';

/** The ARN a state machine registered under `name` gets on the local engine. */
export const localArn = (name: string): string => `${LOCAL_ARN_PREFIX}${name}`;
const LAMBDA_RESOURCE = /^arn:aws:lambda:[^:]+:[^:]+:function:flotilla-([a-z-]+)$/;
const START_EXECUTION = /^arn:aws:states:::states:startExecution(\.sync(:2)?)?$/;

interface TaskStateLike {
  Type: string;
  Resource?: string;
  Iterator?: { States: Record<string, TaskStateLike> };
  ItemProcessor?: { States: Record<string, TaskStateLike> };
  Branches?: { States: Record<string, TaskStateLike> }[];
}

/** Every Task state, nested ones included, with its Resource. */
export function taskStates(states: Record<string, TaskStateLike>): { name: string; resource: string }[] {
  const found: { name: string; resource: string }[] = [];
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task' && state.Resource) found.push({ name, resource: state.Resource });
    const nested = [state.Iterator, state.ItemProcessor, ...(state.Branches ?? [])];
    for (const sub of nested) if (sub) found.push(...taskStates(sub.States));
  }
  return found;
}

export interface EngineOptions {
  /** Handlers by function name (the part after `flotilla-` in the Resource ARN). */
  functions: Record<string, Handler>;
  /** Retry waits shortened locally: errors here are not AWS throttling. */
  retryIntervalMs?: number;
}

export class LocalEngine {
  private readonly definitions = new Map<string, StateMachineDefinition>();
  private readonly options: EngineOptions;
  private executions = 0;

  constructor(options: EngineOptions) {
    this.options = options;
  }

  /** Registers a state machine under a local ARN after checking every Task state can be bound. */
  register(name: string, definition: StateMachineDefinition): string {
    for (const { name: state, resource } of taskStates(definition.States as Record<string, TaskStateLike>)) {
      const lambda = LAMBDA_RESOURCE.exec(resource);
      if (lambda?.[1] && this.options.functions[lambda[1]]) continue;
      if (START_EXECUTION.test(resource)) continue;
      throw new FlotillaError('UnboundTask', `state ${state} of ${name}: no local binding for ${resource}`);
    }
    const arn = localArn(name);
    this.definitions.set(arn, definition);
    return arn;
  }

  /** Runs an execution to its end. Resolves with its output; rejects with the ASL error (name = Error). */
  async run(arn: string, input: Json, executionName?: string): Promise<Json> {
    const definition = this.definitions.get(arn);
    if (!definition) throw new FlotillaError('StateMachineDoesNotExist', `no local state machine ${arn}`);
    this.executions += 1;
    const name = executionName ?? `exec-${this.executions}`;
    const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${name}`;
    const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
    const taskResourceLocalHandlers: Record<string, (input: Json) => Promise<Json>> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    for (const { name: state, resource } of taskStates(definition.States as Record<string, TaskStateLike>)) {
      const lambda = LAMBDA_RESOURCE.exec(resource);
      const fn = lambda?.[1] ? this.options.functions[lambda[1]] : undefined;
      // Handlers return plain JSON-shaped objects; the engine only passes them on.
      taskResourceLocalHandlers[state] = fn
        ? async (taskInput: Json) => (await fn(taskInput)) as Json
        : (childInput: Json) => this.startExecutionSync(childInput, name);
      if (this.options.retryIntervalMs !== undefined) retryIntervalOverrides[state] = this.options.retryIntervalMs;
    }
    const execution = machine.run(input as Parameters<StateMachine['run']>[0], {
      overrides: {
        taskResourceLocalHandlers: taskResourceLocalHandlers as Record<string, (input: unknown) => Promise<never>>,
        retryIntervalOverrides,
      },
      context: { Execution: { Id: executionArn, Name: name, StartTime: new Date().toISOString(), Input: input } },
    });
    return (await execution.result) as Json;
  }

  /** `states:startExecution.sync:2`: run the child to its end; its output comes back parsed, as on AWS. */
  private async startExecutionSync(input: Json, parentName: string): Promise<Json> {
    const request = input as { StateMachineArn?: string; Input?: Json; Name?: string };
    if (!request.StateMachineArn) throw new FlotillaError('States.Runtime', 'startExecution without StateMachineArn');
    const childName = request.Name ?? `${parentName}-child-${this.executions + 1}`;
    const started = new Date().toISOString();
    try {
      const output = await this.run(request.StateMachineArn, request.Input ?? {}, childName);
      return { Output: output, Status: 'SUCCEEDED', StartDate: started, StopDate: new Date().toISOString() };
    } catch (error) {
      const inner = error as Error & { cause?: unknown };
      throw new FlotillaError('States.TaskFailed', `child execution ${childName} failed: ${inner.message}`, {
        cause: error,
      });
    }
  }
}
