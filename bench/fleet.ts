/** Shared by the bench scenarios: region names and how they fall into waves. */

/** `region-01` … `region-NN`. */
export function regionNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `region-${String(i + 1).padStart(2, '0')}`);
}

/** Splits names into consecutive waves of the given sizes. */
export function splitWaves(names: readonly string[], sizes: readonly number[]): string[][] {
  const waves: string[][] = [];
  let start = 0;
  for (const size of sizes) {
    waves.push(names.slice(start, start + size));
    start += size;
  }
  return waves;
}
