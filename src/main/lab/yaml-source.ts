// A parsed YAML document that remembers where every value came from, so diagnostics about a
// machine, an interface or a misspelt key point at file:line:col in the file the teacher wrote.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { SourceRef } from '../../shared/lab-model.ts';
import { error, warning } from './diag.ts';

export type YamlPath = ReadonlyArray<string | number>;

export class YamlSource {
  readonly data: unknown;
  readonly diagnostics: Diagnostic[] = [];
  /** True when the text is not valid YAML: `data` is then a best effort and should not be trusted. */
  readonly broken: boolean;
  private readonly lines = new LineCounter();
  private readonly doc: Document;
  private readonly pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(
    private readonly text: string,
    readonly file: string,
  ) {
    // yaml's own `uniqueKeys` compares every key of a map with every other one: quadratic, half a
    // second on a 1,000-machine lab. Duplicates are found with a Set instead (duplicateKeyErrors).
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false, strict: true });
    for (const e of this.doc.errors) this.diagnostics.push(error(yamlCode(e.code), cleanYamlMessage(e.message), this.offsetRef(e.pos[0])));
    for (const w of this.doc.warnings) this.diagnostics.push(warning('yaml-warning', cleanYamlMessage(w.message), this.offsetRef(w.pos[0])));
    const duplicates = this.duplicateKeyErrors();
    this.diagnostics.push(...duplicates);
    this.broken = this.doc.errors.length > 0 || duplicates.length > 0;
    let data: unknown;
    try {
      data = this.doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // Alias bombs and similar: report, never throw.
      this.diagnostics.push(error('yaml-syntax', `cannot read the YAML: ${(e as Error).message}`, this.offsetRef(0)));
      this.broken = true;
    }
    this.data = data;
  }

  /** Position of the value at `path` (or of the nearest existing parent). */
  at(path: YamlPath): SourceRef {
    return this.offsetRef(this.nodeAt(path)?.range?.[0] ?? 0);
  }

  /** The text of a plain scalar exactly as written (`version: 1.0` is the number 1 to YAML, "1.0" to a teacher). */
  rawScalarAt(path: YamlPath): string | undefined {
    const node = this.nodeAt(path, true);
    if (!isScalar(node) || !node.range || node.type !== 'PLAIN') return undefined;
    return this.text.slice(node.range[0], node.range[1]).trim();
  }

  /** Position of the key of the last element of `path` (for "unknown key" messages). */
  keyAt(path: YamlPath): SourceRef {
    if (path.length === 0) return this.at(path);
    const parent = this.nodeAt(path.slice(0, -1), true);
    const last = path[path.length - 1];
    if (isMap(parent)) {
      const key = this.pairsOf(parent).get(String(last))?.key as Node | undefined;
      if (key?.range) return this.offsetRef(key.range[0]);
    }
    return this.at(path);
  }

  private nodeAt(path: YamlPath, exact = false): Node | undefined {
    let node: unknown = this.doc.contents;
    for (const segment of path) {
      let next: unknown;
      if (isMap(node)) next = this.pairsOf(node).get(String(segment))?.value;
      else if (isSeq(node) && typeof segment === 'number') next = node.items[segment];
      else if (isSeq(node) && /^\d+$/.test(String(segment))) next = node.items[Number(segment)];
      if (next === undefined || next === null) return exact ? undefined : (node as Node | undefined);
      node = next;
    }
    return node as Node | undefined;
  }

  /** A `duplicate-key` error at every key that repeats an earlier key of the same map. */
  private duplicateKeyErrors(): Diagnostic[] {
    const found: Diagnostic[] = [];
    visit(this.doc, {
      Map: (_, map) => {
        const seen = new Set<string>();
        for (const pair of map.items) {
          const key = keyString(pair.key);
          if (key === undefined) continue;
          if (seen.has(key)) found.push(error('duplicate-key', `'${key}' is defined twice in the same mapping`, this.offsetRef((pair.key as Node).range?.[0] ?? 0), { hint: 'remove or rename one of them' }));
          seen.add(key);
        }
      },
    });
    return found;
  }

  /** The pairs of a map by key (the first of duplicates), built once: big labs look up thousands of paths. */
  private pairsOf(map: YAMLMap): Map<string, Pair> {
    let pairs = this.pairIndex.get(map);
    if (!pairs) {
      pairs = new Map();
      for (const p of map.items) {
        const key = isPair(p) ? keyString(p.key) : undefined;
        if (key !== undefined && !pairs.has(key)) pairs.set(key, p);
      }
      this.pairIndex.set(map, pairs);
    }
    return pairs;
  }

  private offsetRef(offset: number): SourceRef {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line: Math.max(1, line), column: Math.max(1, col) };
  }
}

function keyString(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}

function yamlCode(code: string): string {
  return code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax';
}

function cleanYamlMessage(message: string): string {
  // The yaml package appends " at line N, column M" and a code frame; we print positions ourselves.
  return message.replace(/ at line \d+, column \d+[\s\S]*$/, '').trim();
}
