/**
 * The option a mistyped flag most likely meant, for "did you mean" (yargs suggests commands, not
 * options): the same name but for dashes, underscores and case (`--dryrun`, `--dry_run`), else one at
 * most two edits away (`--concurency`), the closest; undefined when none is that close.
 */
export function nearestFlag(typed: string, known: readonly string[]): string | undefined {
  const simple = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => simple(k) === simple(typed));
  if (same) return same;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(typed, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Levenshtein distance (insertions, deletions, substitutions): flag names are short. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length]!;
}
