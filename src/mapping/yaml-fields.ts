import { isScalar, type Node, type Pair, type YAMLMap } from 'yaml';

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
