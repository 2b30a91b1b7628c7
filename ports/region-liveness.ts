/**
 * Whether a region's process runs and answers, as the read verbs report it (`where`, the control
 * API's /v1/where): read from the state directory and the region's port, never by starting anything.
 * Only the local backend has processes of its own; on AWS the field is absent.
 */
export type RegionLiveness =
  /** The region's process (verified as ours) answers on its port; `healthy`: its health path said 2xx. */
  | { state: 'serving'; pid: number; version: string; healthy: boolean }
  /** The region's process runs but nothing answers on its port (starting, hung, or the `silent` fault). */
  | { state: 'not-answering'; pid: number; version: string }
  /** No process of ours runs there; `portTaken`: another program holds the region's port. */
  | { state: 'down'; portTaken: boolean };
