// The fast path for reading well-formed lab.yaml files with source positions.
//
// The `yaml` package gives excellent error messages but its tokenizer alone takes ~190 ms on a
// 1,000-machine lab; js-yaml parses the same file in ~13 ms. js-yaml has no document model with
// positions, but it reports every node it composes (open/close events with offsets), from which a
// small positional tree is rebuilt here. The tree is cross-checked against the parsed data; anything
// unusual (anchors, aliases, tags, a syntax error, duplicate keys, a tree that does not match) returns
// undefined and YamlSource falls back to the `yaml` package, which then explains the problem.
import jsYaml from 'js-yaml';

export interface FastNode {
  /** Offset of the first character of the node's content. */
  start: number;
  /** Offset where js-yaml stopped reading the node. */
  end: number;
  kind: 'scalar' | 'mapping' | 'sequence' | null;
  result: unknown;
  children: FastNode[];
  /** For mappings: key → [key node, value node], filled by the cross-check. */
  pairs?: Map<string, [FastNode, FastNode]>;
}

export interface FastDocument {
  data: unknown;
  root: FastNode;
}

interface LoaderState {
  position: number;
  kind: FastNode['kind'];
  result: unknown;
  tag: string | null;
  anchor: string | null;
}

/**
 * Mappings and lists nested deeper than this are refused (yaml-source.ts reports them): a lab needs
 * fewer than ten levels, and the parsers and everything after them recurse once per level.
 */
export const MAX_YAML_NESTING = 100;

export function parseYamlFast(text: string): FastDocument | undefined {
  const holder: FastNode = { start: 0, end: 0, kind: null, result: undefined, children: [] };
  const stack: FastNode[] = [holder];
  let unusual = false;
  let data: unknown;
  try {
    data = jsYaml.load(text, {
      // YAML 1.2 core, as the `yaml` package reads it: no timestamps, no `<<` merge keys.
      schema: jsYaml.CORE_SCHEMA,
      listener(event: 'open' | 'close', state: LoaderState) {
        if (event === 'open') {
          // js-yaml recurses once per level (and may compose a node twice, nested): stop it long before
          // its stack runs out; the careful path then says where the nesting is too deep.
          if (stack.length > 2 * MAX_YAML_NESTING + 2) throw new Error('nested too deeply');
          stack.push({ start: state.position, end: state.position, kind: null, result: undefined, children: [] });
          return;
        }
        const node = stack.pop();
        const parent = stack[stack.length - 1];
        if (!node || !parent) {
          unusual = true;
          return;
        }
        node.end = state.position;
        node.kind = state.kind;
        node.result = state.result;
        if (state.anchor !== null) unusual = true;
        // js-yaml composes some nodes twice, nested (a flow collection as a block sequence item):
        // keep the inner one only.
        const only = node.children.length === 1 ? node.children[0]! : undefined;
        parent.children.push(only && Object.is(only.result, node.result) && only.kind === node.kind ? only : node);
      },
    } as unknown as jsYaml.LoadOptions);
  } catch {
    return undefined;
  }
  const root = holder.children[0];
  if (unusual || stack.length !== 1 || holder.children.length !== 1 || !root) return undefined;
  if (nestingDepth(root) > MAX_YAML_NESTING) return undefined;
  if (!Object.is(root.result, data) || !consistent(root)) return undefined;
  // Node properties (tags `!…`, anchors `&…`) and aliases (`*…`) come first in a node's text; js-yaml
  // reports tags already resolved, so they are recognised here, and left to the careful path.
  if (!placeStarts(root, text)) return undefined;
  return { data, root };
}

/** Levels of mappings and sequences in the tree, counted without recursion. */
function nestingDepth(root: FastNode): number {
  let deepest = 0;
  const todo: [FastNode, number][] = [[root, 0]];
  for (let item = todo.pop(); item; item = todo.pop()) {
    const [node, above] = item;
    const depth = node.kind === 'mapping' || node.kind === 'sequence' ? above + 1 : above;
    deepest = Math.max(deepest, depth);
    for (const child of node.children) todo.push([child, depth]);
  }
  return deepest;
}

/** The tree matches the data: every mapping pairs its keys with its values, every sequence its items. */
function consistent(node: FastNode): boolean {
  const { result, children } = node;
  if (node.kind === 'mapping') {
    if (result === null || typeof result !== 'object' || Array.isArray(result) || children.length % 2 !== 0) return false;
    const pairs = new Map<string, [FastNode, FastNode]>();
    for (let i = 0; i < children.length; i += 2) {
      const key = children[i]!;
      const value = children[i + 1]!;
      if (key.kind !== 'scalar' || key.children.length > 0) return false;
      const name = String(key.result);
      if (pairs.has(name) || !Object.is((result as Record<string, unknown>)[name], value.result)) return false;
      pairs.set(name, [key, value]);
    }
    if (pairs.size !== Object.keys(result).length) return false;
    node.pairs = pairs;
    return [...pairs.values()].every(([, value]) => consistent(value));
  }
  if (node.kind === 'sequence') {
    if (!Array.isArray(result) || children.length !== result.length) return false;
    return children.every((child, i) => Object.is(child.result, result[i]) && consistent(child));
  }
  // A scalar or an empty value: nothing inside.
  return children.length === 0 && (result === null || typeof result !== 'object');
}

/** js-yaml reports where it began looking for a node; move to where its content starts, as `yaml` does. */
function placeStarts(node: FastNode, text: string): boolean {
  // An empty value (`key:` and nothing) stays where js-yaml looked for it, right after the colon;
  // followed by a comment on its line (`key: # note`), `yaml` places it at the comment.
  if (node.kind !== null) node.start = skipSeparation(text, node.start, node.end);
  else {
    let i = node.start;
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i > node.start && text[i] === '#') node.start = i;
  }
  if (node.start < node.end && '!&*'.includes(text[node.start]!)) return false;
  return node.children.every((child) => placeStarts(child, text));
}

function skipSeparation(text: string, from: number, limit: number): number {
  let i = from;
  const end = Math.max(limit, from);
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
    else if (c === 0x23 /* # */ && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < end && text.charCodeAt(i) !== 0x0a) i++;
    } else break;
  }
  return i;
}

/** Offsets → 1-based line and column, with a binary search over line starts computed once. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  linePos(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
}
