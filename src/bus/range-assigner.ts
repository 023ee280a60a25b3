import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Kafka's range assignment for kafkajs (which ships only round robin): per topic, the members that
 * subscribe to it (sorted by member id) take contiguous runs of partitions, the first ones one extra
 * (apache/kafka RangeAssignor). MemoryBus assigns the same way, so an entity id's partition goes to
 * the same share of the group in both.
 */
export const RangeAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'RangeAssigner',
  version: 0,
  async assign({ members, topics }) {
    const subscribed = new Map<string, Set<string>>();
    for (const m of members) {
      const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
      subscribed.set(m.memberId, new Set(meta?.topics ?? topics));
    }
    const sorted = members.map((m) => m.memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(sorted.map((id) => [id, {}]));
    for (const topic of topics) {
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((p) => p.partitionId)
        .sort((a, b) => a - b);
      const takers = sorted.filter((id) => subscribed.get(id)?.has(topic) === true);
      if (takers.length === 0) continue;
      const per = Math.floor(partitions.length / takers.length);
      const extra = partitions.length % takers.length;
      let next = 0;
      takers.forEach((id, i) => {
        const count = per + (i < extra ? 1 : 0);
        const own = assignment.get(id);
        if (own !== undefined && count > 0) own[topic] = partitions.slice(next, next + count);
        next += count;
      });
    }
    return sorted.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: assignment.get(memberId) ?? {}, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'RangeAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
