// A parsed YAML document that remembers where every value came from, so diagnostics about a
// machine, an interface or a misspelt key point at file:line:col in the file the teacher wrote.
import { isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import type { Diagnostic } from '../../shared/diagnostics.ts';
import type { SourceRef } from '../../shared/lab-model.ts';
import { error, warning } from './diag.ts';
import { LineIndex, MAX_YAML_NESTING, parseYamlFast, type FastNode } from './yaml-fast.ts';

export { MAX_YAML_NESTING };

const TOO_DEEP = `mappings and lists are nested more than ${MAX_YAML_NESTING} levels deep here`;
const TOO_DEEP_HINT = 'a lab needs a few levels; look for unclosed or repeated brackets';

export type YamlPath = ReadonlyArray<string | number>;

export class YamlSource {
  readonly data: unknown;
  readonly diagnostics: Diagnostic[] = [];
  /** True when the text is not valid YAML: `data` is then a best effort and should not be trusted. */
  readonly broken: boolean;
  private readonly lines = new LineCounter();
  private readonly doc?: Document;
  private readonly pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();
  /** True when the fast path read the file (tests compare both paths). */
  get usedFastPath(): boolean {
    return this.fast !== undefined;
  }

  /** Set when the fast path (js-yaml, see yaml-fast.ts) read the file: well-formed and unsurprising. */
  private readonly fast?: { root: FastNode; lines: LineIndex };

  constructor(
    private readonly text: string,
    readonly file: string,
    options: { fastPath?: boolean } = {},
  ) {
    const fast = options.fastPath === false ? undefined : parseYamlFast(text);
    if (fast) {
      this.fast = { root: fast.root, lines: new LineIndex(text) };
      this.data = fast.data;
      this.broken = false;
      return;
    }
    // yaml's own `uniqueKeys` compares every key of a map with every other one: quadratic, half a
    // second on a 1,000-machine lab. Duplicates are found with a Set instead (duplicateKeyErrors).
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false, strict: true });
    // Too deep a nesting first: everything below (the yaml package's own composer, visit, toJS, the
    // schema) recurses once per level. The composer turns its stack overflow into RESOURCE_EXHAUSTION.
    const tooDeep = deepNodeOffset(this.doc.contents) ?? this.doc.errors.find((e) => e.code === 'RESOURCE_EXHAUSTION')?.pos[0];
    if (tooDeep !== undefined) {
      this.diagnostics.push(error('yaml-too-deep', TOO_DEEP, this.offsetRef(tooDeep), { hint: TOO_DEEP_HINT }));
      this.broken = true;
      this.data = undefined;
      return;
    }
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
      if (e instanceof RangeError) this.diagnostics.push(error('yaml-too-deep', `${TOO_DEEP} (through aliases)`, this.offsetRef(0), { hint: TOO_DEEP_HINT }));
      else this.diagnostics.push(error('yaml-syntax', `cannot read the YAML: ${(e as Error).message}`, this.offsetRef(0)));
      this.broken = true;
    }
    // Aliases can nest what is not nested in the text (an anchor holding an alias of another, …).
    const deepPath = deepDataPath(data);
    if (deepPath) {
      this.diagnostics.push(error('yaml-too-deep', `${TOO_DEEP} (through aliases)`, this.at(deepPath), { hint: TOO_DEEP_HINT }));
      this.broken = true;
      data = undefined;
    }
    this.data = data;
  }

  /** Position of the value at `path` (or of the nearest existing parent). */
  at(path: YamlPath): SourceRef {
    if (this.fast) return this.offsetRef(this.fastNodeAt(path)?.start ?? 0);
    return this.offsetRef(this.nodeAt(path)?.range?.[0] ?? 0);
  }

  /** The text of a plain scalar exactly as written (`version: 1.0` is the number 1 to YAML, "1.0" to a teacher). */
  rawScalarAt(path: YamlPath): string | undefined {
    if (this.fast) {
      const fastNode = this.fastNodeAt(path, true);
      if (fastNode && fastNode.kind === null && fastNode.result === null) return ''; // `key:` with nothing after it
      if (fastNode?.kind !== 'scalar' || /^['"|>]/.test(this.text[fastNode.start] ?? '')) return undefined;
      // A plain scalar ends at the end of its line or at a comment.
      return this.text.slice(fastNode.start, fastNode.end).split('\n')[0]!.replace(/\s#.*$/, '').trim();
    }
    const node = this.nodeAt(path, true);
    if (!isScalar(node) || !node.range || node.type !== 'PLAIN') return undefined;
    return this.text.slice(node.range[0], node.range[1]).trim();
  }

  /**
   * Where a line and column of a string value's own text are in the file (a template error inside a
   * value): a block scalar's text starts on the line after `|`, at its indentation; a quoted one after
   * its quote. Escapes and folding may shift the column of a quoted or folded value slightly.
   */
  positionInValue(path: YamlPath, line: number, column: number): SourceRef {
    let offset = this.fast ? this.fastNodeAt(path, true)?.start : this.nodeAt(path, true)?.range?.[0];
    if (offset === undefined) return this.at(path);
    while (offset < this.text.length && (this.text[offset] === ' ' || this.text[offset] === '\t')) offset++;
    const first = this.text[offset];
    if (first === '|' || first === '>') {
      const headerEnd = this.text.indexOf('\n', offset);
      if (headerEnd < 0) return this.offsetRef(offset);
      const body = this.text.slice(headerEnd + 1);
      const indent = /^( *)\S/m.exec(body)?.[1]?.length ?? 0;
      const header = this.offsetRef(offset);
      return { file: this.file, line: header.line + line, column: indent + column };
    }
    const start = this.offsetRef(offset);
    const quoted = first === '"' || first === "'" ? 1 : 0;
    return { file: this.file, line: start.line + line - 1, column: line === 1 ? start.column + quoted + column - 1 : column };
  }

  /** Position of the key of the last element of `path` (for "unknown key" messages). */
  keyAt(path: YamlPath): SourceRef {
    if (path.length === 0) return this.at(path);
    const last = path[path.length - 1];
    if (this.fast) {
      const key = this.fastNodeAt(path.slice(0, -1), true)?.pairs?.get(String(last))?.[0];
      return key ? this.offsetRef(key.start) : this.at(path);
    }
    const parent = this.nodeAt(path.slice(0, -1), true);
    if (isMap(parent)) {
      const key = this.pairsOf(parent).get(String(last))?.key as Node | undefined;
      if (key?.range) return this.offsetRef(key.range[0]);
    }
    return this.at(path);
  }

  private fastNodeAt(path: YamlPath, exact = false): FastNode | undefined {
    let node = this.fast?.root;
    for (const segment of path) {
      let next: FastNode | undefined;
      if (node?.kind === 'mapping') next = node.pairs?.get(String(segment))?.[1];
      else if (node?.kind === 'sequence' && /^\d+$/.test(String(segment))) next = node.children[Number(segment)];
      if (next === undefined) return exact ? undefined : node;
      node = next;
    }
    return node;
  }

  private nodeAt(path: YamlPath, exact = false): Node | undefined {
    let node: unknown = this.doc?.contents;
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
    if (!this.doc) return found;
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
    const { line, col } = this.fast ? this.fast.lines.linePos(offset) : this.lines.linePos(offset);
    return { file: this.file, line: Math.max(1, line), column: Math.max(1, col) };
  }
}

/** Offset of the first collection (in text order) nested deeper than MAX_YAML_NESTING, without recursion. */
function deepNodeOffset(root: unknown): number | undefined {
  const todo: [unknown, number][] = [[root, 0]];
  for (let item = todo.pop(); item; item = todo.pop()) {
    const [node, above] = item;
    if (isPair(node)) {
      todo.push([node.value, above], [node.key, above]);
      continue;
    }
    if (!isCollection(node)) continue; // scalars, aliases (checked on the data), nothing
    const depth = above + 1;
    if (depth > MAX_YAML_NESTING) return node.range?.[0] ?? 0;
    for (let i = node.items.length - 1; i >= 0; i--) todo.push([node.items[i], depth]);
  }
  return undefined;
}

/** The path of a value nested deeper than MAX_YAML_NESTING in parsed data, without recursion. */
function deepDataPath(data: unknown): YamlPath | undefined {
  const todo: [unknown, (string | number)[]][] = [[data, []]];
  for (let item = todo.pop(); item; item = todo.pop()) {
    const [value, path] = item;
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= MAX_YAML_NESTING) return path;
    const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v]) : Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) todo.push([entries[i]![1], [...path, entries[i]![0]]]); // text order
  }
  return undefined;
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
