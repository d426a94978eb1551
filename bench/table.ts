/** One row per figure: what was measured, its target or anchor, the ratio, met or not. */

export interface Figure {
  goal: string;
  what: string;
  value: number;
  unit: string;
  /** The target (or the anchor measured in the same run); null for a figure that is only context. */
  target: number | null;
  /** 'min': value must reach target; 'max': value must stay at or under it. */
  sense: 'min' | 'max';
  note?: string;
}

function ratioOf(f: Figure): number | null {
  if (f.target === null || f.target === 0) return null;
  return f.sense === 'min' ? f.value / f.target : f.target / Math.max(f.value, 1e-9);
}

function met(f: Figure): boolean | null {
  if (f.target === null) return null;
  return f.sense === 'min' ? f.value >= f.target : f.value <= f.target;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** The table as text; ratio > 1 always means better than the target. */
export function formatTable(figures: readonly Figure[]): string {
  const head = ['goal', 'figure', 'value', 'target', 'ratio', 'met', 'note'];
  const rows = figures.map((f) => {
    const r = ratioOf(f);
    const m = met(f);
    return [
      f.goal,
      f.what,
      `${fmt(f.value)} ${f.unit}`,
      f.target === null ? '-' : `${f.sense === 'min' ? '>=' : '<='} ${fmt(f.target)} ${f.unit}`,
      r === null ? '-' : r > 100 ? '>100x' : `${r.toFixed(2)}x`,
      m === null ? '-' : m ? 'yes' : 'NO',
      f.note ?? '',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join(' | ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
