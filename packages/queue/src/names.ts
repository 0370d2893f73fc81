/**
 * Queue naming (docs/decisions/0004-job-payload-and-merging.md): per destination a delivery
 * queue and a dead-letter queue, both under a prefix that carries the destination as a hash tag
 * so each destination's BullMQ keys stay in one Redis Cluster slot.
 */
export interface DestinationQueueNames {
  readonly prefix: string;
  readonly deliver: string;
  readonly dead: string;
}

export function destinationQueueNames(basePrefix: string, destination: string): DestinationQueueNames {
  return {
    prefix: `${basePrefix}:{d:${destination}}`,
    deliver: `deliver-${destination}`,
    dead: `dead-${destination}`,
  };
}
