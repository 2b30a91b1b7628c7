/** The validated config's types live in the core (core/config.ts); this re-export keeps `config/` self-describing. */
export type * from '../core/config.ts';
