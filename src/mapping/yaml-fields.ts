import { isAlias, isScalar, type Document, type Node, type Pair, type YAMLError, type YAMLMap } from 'yaml';

/** The pairs of a YAML map by key name; `unknown` is told of every key not in `known`. */
export function fieldsOf(map: YAMLMap, known: readonly string[], unknown: (key: Node, name: string) => void): Map<string, Pair<Node, Node>> {
  const fields = new Map<string, Pair<Node, Node>>();
  for (const pair of map.items as Pair<Node, Node>[]) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!known.includes(k)) unknown(pair.key, k);
    else fields.set(k, pair);
  }
  return fields;
}

/** What the yaml library says, in our words where it speaks of its own API. */
export function yamlErrorMessage(e: YAMLError): string {
  if (e.code === 'MULTIPLE_DOCS') {
    return 'a second YAML document starts here ("---"): a mapping file holds one document with one "mappings:" list (merge the lists, or move this part to a file of its own)';
  }
  return e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? e.message;
}

/** The node an alias (`*k`) names, or the node itself; undefined for anything that is not a node. */
export function resolveAlias(doc: Document, n: unknown): Node | undefined {
  if (n === null || n === undefined) return undefined;
  if (isAlias(n)) return n.resolve(doc) ?? undefined;
  return n as Node;
}

