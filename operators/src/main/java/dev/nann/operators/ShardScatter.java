package dev.nann.operators;

import dev.nann.schemas.codec.AttemptHeader;
import dev.nann.schemas.codec.ReplyPartitionHeader;
import dev.nann.schemas.codec.SentAtHeader;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.shard.ShardEntries;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.functions.Partitioner;
import org.apache.flink.util.Collector;

/**
 * Scatter for a sharded index: one copy of each task per shard, all under one task id (the gather's
 * key), each sent to the retrieval subtask {@link #PARTITIONER} picks for its shard, so a subtask (and
 * its TaskManager) only ever loads the shards routed to it. A task that carries its answer goes once.
 * Only the first shard's copy carries all the request's Kafka headers, which the gather puts on the
 * answer: a request's headers (up to {@code serving.max-record-bytes}) are not copied S times across
 * the network and into the gather's state. The others carry nann's small routing headers.
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
    // unique per task, not per request id: a client may send the same request id twice
    String taskId = task.getRequest().getRequestId() + "#" + Long.toHexString(random.nextLong());
    if (task.getAnswer() != null) {
      // answered already (INVALID, NO_INDEX): one copy, to any shard's subtask, which passes it on
      // (shard -1 there) under its own task id, so that a burst of them (no index yet, a reshard)
      // spreads over the walk and gather subtasks instead of all going through the first ones
      out.collect(ScoringTask.newBuilder(task).setShard(random.nextInt(shards)).setTaskId(taskId).build());
      return;
    }
    Map<String, ByteBuffer> routing = routingHeaders(task.getHeaders());
    // each copy names its own shard's snapshot alone (and S): with all S entries in each, a request's
    // copies carried S^2 of them across the network and in the async operator's checkpointed queue
    int count = task.getIndex() == null ? 0 : task.getIndex().getShards().size();
    for (int shard = 0; shard < shards; shard++) {
      ScoringTask copy = new ScoringTask(task.getRequest(), task.getSequence(),
          ShardEntries.onlyShard(task.getIndex(), shard), task.getModel(), task.getFeed(),
          shard == 0 ? task.getHeaders() : routing, task.getReceivedAtMillis(), task.getStamps(),
          ShardEntries.onlyShard(task.getNext(), shard), task.getFeatures(), shard, taskId, null, count);
      out.collect(copy);
    }
  }

  /**
   * The headers every copy carries: where the answer goes, when the request was sent and which
   * attempt it is, so that an answer gathered without shard 0's copy (its timer fired first) still
   * reaches the client's partition and its attempt. The caller's own headers, of any size, ride on
   * shard 0's copy alone.
   */
  static Map<String, ByteBuffer> routingHeaders(Map<String, ByteBuffer> headers) {
    Map<String, ByteBuffer> routing = new HashMap<>(4);
    for (String name : new String[] {ReplyPartitionHeader.NAME, SentAtHeader.NAME, AttemptHeader.NAME}) {
      ByteBuffer value = headers.get(name);
      if (value != null) {
        routing.put(name, value);
      }
    }
    return routing;
  }

  /** The shard a scattered copy is for. */
  public static int shardOf(ScoringTask task) {
    return task.getShard();
  }
}
