/** cluster-key-slot 1.1 (the slot function ioredis routes commands with) ships no types. */
declare module 'cluster-key-slot' {
  /** The Redis Cluster slot of a key as ioredis computes it. */
  function generate(key: string | Buffer): number;
  export default generate;
}
