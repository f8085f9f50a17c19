package dev.nann.operators;

import dev.nann.schemas.internal.ScoringTask;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.functions.Partitioner;
import org.apache.flink.util.Collector;

/**
 * Scatter for a sharded index: one copy of each task per shard, all under one task id (the gather's
 * key), each sent to the retrieval subtask {@link #PARTITIONER} picks for its shard, so a subtask (and
 * its TaskManager) only ever loads the shards routed to it. A task that carries its answer goes once.
 * Only the first shard's copy carries the request's Kafka headers, which the gather puts on the
 * answer: a request's headers (up to {@code serving.max-record-bytes}) are not copied S times across
 * the network and into the gather's state.
 */
public final class ShardScatter implements FlatMapFunction<ScoringTask, ScoringTask> {
  /** Shard i to retrieval subtask i mod parallelism. */
  public static final Partitioner<Integer> PARTITIONER = (shard, partitions) -> shard % partitions;

  private final int shards;
  private transient SplittableRandom random;

  public ShardScatter(int shards) {
    this.shards = shards;
  }

  @Override
  public void flatMap(ScoringTask task, Collector<ScoringTask> out) {
    if (random == null) {
      random = new SplittableRandom();
    }
    if (task.getAnswer() != null) {
      // answered already: one copy, to the first shard's subtask, which passes it on (shard -1 there)
      out.collect(ScoringTask.newBuilder(task).setShard(0).build());
      return;
    }
    // unique per task, not per request id: a client may send the same request id twice
    String taskId = task.getRequest().getRequestId() + "#" + Long.toHexString(random.nextLong());
    for (int shard = 0; shard < shards; shard++) {
      ScoringTask copy = new ScoringTask(task.getRequest(), task.getSequence(), task.getIndex(), task.getModel(),
          task.getFeed(), shard == 0 ? task.getHeaders() : Map.of(), task.getReceivedAtMillis(), task.getStamps(), task.getNext(),
          task.getFeatures(), shard, taskId, null);
      out.collect(copy);
    }
  }

  /** The shard a scattered copy is for. */
  public static int shardOf(ScoringTask task) {
    return task.getShard();
  }
}
