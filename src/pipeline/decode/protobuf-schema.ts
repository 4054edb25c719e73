import protobuf from 'protobufjs';

/**
 * Protobuf schemas from a Schema Registry, parsed by us: Confluent's ProtobufConverter names fields
 * as the .proto does (`first_name`), so the text is parsed with `keepCase` — an option of this one
 * parse, never protobufjs' process-wide defaults (which every other user of the library shares).
 */

/** A registry schema's text and the texts it references (imports), each parsed into one root. */
export interface ProtobufSource {
  readonly schema: string;
  /** Referenced schemas (other .proto files it imports), in dependency order. */
  readonly references: readonly string[];
}

export class ProtobufSchema {
  /** The file's top-level messages, in declaration order (message index 0, 1, …). */
  readonly #messages: readonly protobuf.Type[];

  constructor(source: ProtobufSource) {
    const root = new protobuf.Root();
    const parsed = protobuf.parse(source.schema, root, { keepCase: true });
    const ns = parsed.package ? root.lookup(parsed.package) : root;
    // Collected before the references are parsed into the same root: they may share the package.
    this.#messages = ns instanceof protobuf.Namespace ? messagesOf(ns) : [];
    for (const r of source.references) protobuf.parse(r, root, { keepCase: true });
    root.resolveAll();
    if (this.#messages.length === 0) throw new Error('the schema declares no message');
  }

  /**
   * The message a Confluent-framed payload (after magic byte and schema id) was written with, and
   * the message bytes: the payload starts with the message indexes (a zigzag varint count, then
   * that many zigzag varint indexes; a single 0 means [0], the first message), the path to the
   * message among the file's messages and their nested messages.
   */
  messageOf(payload: Buffer): { type: protobuf.Type; bytes: Buffer } {
    const reader = protobuf.Reader.create(payload);
    const count = reader.sint32();
    if (count < 0 || count > 100) throw new Error(`bad message index count ${count}`);
    const path = count === 0 ? [0] : Array.from({ length: count }, () => reader.sint32());
    let candidates = this.#messages;
    let type: protobuf.Type | undefined;
    for (const i of path) {
      type = candidates[i];
      if (!type) throw new Error(`message index ${path.join('.')} names no message of the schema`);
      candidates = messagesOf(type);
    }
    return { type: type!, bytes: payload.subarray(reader.pos) };
  }
}

/** The message types declared directly in a namespace (a file's package or a message), in order. */
function messagesOf(ns: protobuf.NamespaceBase): protobuf.Type[] {
  return ns.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
}
