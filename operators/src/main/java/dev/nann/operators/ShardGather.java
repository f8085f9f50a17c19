package dev.nann.operators;

import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ServingOutput;
import dev.nann.shard.ShardMerge;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Gather for a sharded index, keyed by task id: holds each shard's answer in keyed state (so a
 * checkpoint taken between two shards' answers loses neither) and, once all S have arrived, answers
 * once with the best k of them. Every shard copy yields exactly one answer (its result, or TIMEOUT,
 * OVERLOADED, NO_INDEX...: the async timeout guarantees one); a timer per task answers with what has
 * arrived after {@code flushAfterMillis} all the same, for the copies that never will (a job restored
 * from a savepoint of another shard count carries tasks scattered to shards it no longer has), so no
 * task waits, and no state stays, for ever; a task's copies that come after its answer, or for a
 * shard the layout lacks, are dropped ({@code shardAnswersDropped}), never answered a second time.
 * When some shards did not answer, the answer says so:
 * status PARTIAL, the missing shards listed in {@code missingShards} and why in {@code detail} —
 * never silently fewer items.
 */
public final class ShardGather extends KeyedProcessFunction<String, ServingOutput, ServingOutput> {
  /** {@link #due}'s value once a task is answered: its late copies are dropped until the next timer. */
  private static final long ANSWERED = -1;

  private final int shards;
  private final long flushAfterMillis;
  private transient MapState<Integer, ServingOutput> answers;
  /** When the task's timer fires, or {@link #ANSWERED}; none before its first copy arrives. */
  private transient ValueState<Long> due;
  private transient Counter partial;
  private transient Counter dropped;

  /**
   * @param shards S, the answers each task waits for
   * @param flushAfterMillis how long after its first shard's answer a task is answered with what it
   *     has, and how long after its answer a late copy of it is still recognised and dropped
   */
  public ShardGather(int shards, long flushAfterMillis) {
    this.shards = shards;
    this.flushAfterMillis = flushAfterMillis;
  }

  @Override
  public void open(OpenContext ctx) {
    answers = getRuntimeContext().getMapState(new MapStateDescriptor<>("shard-answers", Types.INT,
        new AvroTypeInfo<>(ServingOutput.class)));
    due = getRuntimeContext().getState(new ValueStateDescriptor<>("shard-answers-due", Types.LONG));
    org.apache.flink.metrics.MetricGroup metrics = getRuntimeContext().getMetricGroup().addGroup("nann");
    partial = metrics.counter("partialAnswers");
    dropped = metrics.counter("shardAnswersDropped");
  }

  @Override
  public void processElement(ServingOutput in, Context ctx, Collector<ServingOutput> out) throws Exception {
    if (in.getShard() < 0) {   // answered before the engine, never scattered: nothing to gather
      out.collect(in);
      return;
    }
    Long when = due.value();
    if (in.getShard() >= shards || when != null && when == ANSWERED) {
      // a copy for a shard this layout lacks (restored across shard counts), or a late copy of a
      // task already answered (by its timer): answering again would answer the request twice
      dropped.inc();
      return;
    }
    if (when == null) {   // the task's first copy here (after a restore too): its timer starts now
      long at = ctx.timerService().currentProcessingTime() + flushAfterMillis;
      ctx.timerService().registerProcessingTimeTimer(at);
      due.update(at);
    }
    answers.put(in.getShard(), in);
    List<ServingOutput> all = gathered();
    if (all.size() >= shards) {
      answer(all, out);
      due.update(ANSWERED);   // until the timer, which then forgets the task
    }
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<ServingOutput> out) throws Exception {
    Long when = due.value();
    if (when != null && when == ANSWERED) {
      due.clear();
      return;
    }
    List<ServingOutput> all = gathered();
    if (all.isEmpty()) {
      due.clear();
      return;
    }
    answer(all, out);   // some copies never came: PARTIAL, naming them
    long at = timestamp + flushAfterMillis;
    ctx.timerService().registerProcessingTimeTimer(at);   // late copies are dropped until then
    due.update(ANSWERED);
  }

  private List<ServingOutput> gathered() throws Exception {
    List<ServingOutput> all = new ArrayList<>(shards);
    for (ServingOutput o : answers.values()) {
      all.add(o);
    }
    return all;
  }

  private void answer(List<ServingOutput> all, Collector<ServingOutput> out) {
    answers.clear();
    ServingOutput merged = merge(all, shards);
    if (merged.getResponse().getStatus() == ResponseStatus.PARTIAL) {
      partial.inc();
    }
    out.collect(merged);
  }

  /** The answer of one task from its shards' answers (at most one per shard; a shard with none is missing). */
  static ServingOutput merge(List<ServingOutput> parts, int shards) {
    parts.sort(java.util.Comparator.comparingInt(ServingOutput::getShard));
    List<ServingOutput> ok = new ArrayList<>();
    List<Integer> missing = new ArrayList<>();
    StringBuilder why = new StringBuilder();
    java.util.BitSet answered = new java.util.BitSet(shards);
    parts.forEach(p -> answered.set(p.getShard()));
    for (int s = answered.nextClearBit(0); s < shards; s = answered.nextClearBit(s + 1)) {
      missing.add(s);
      why.append(why.length() == 0 ? "" : "; ").append("shard ").append(s).append(" gave no answer");
    }
    for (ServingOutput p : parts) {
      ResponseStatus s = p.getResponse().getStatus();
      if (s == ResponseStatus.OK || s == ResponseStatus.COLD_START) {
        ok.add(p);
      } else {
        missing.add(p.getShard());
        why.append(why.length() == 0 ? "" : "; ").append("shard ").append(p.getShard()).append(' ').append(s)
            .append(p.getResponse().getDetail().isEmpty() ? "" : " (" + p.getResponse().getDetail() + ")");
      }
    }
    java.util.Collections.sort(missing);
    ServingOutput first = parts.get(0);
    if (ok.isEmpty()) {
      // nothing to merge: the first shard's status (every shard failed, usually for the same reason)
      RetrievalResponse r = RetrievalResponse.newBuilder(first.getResponse())
          .setDetail("no shard answered: " + why).setMissingShards(missing).build();
      return output(first, r, parts);
    }
    long[][] items = new long[ok.size()][];
    float[][] scores = new float[ok.size()][];
    int scored = 0;
    int calls = 0;
    float engine = 0;
    Map<String, Float> timings = new HashMap<>();
    for (int i = 0; i < ok.size(); i++) {
      RetrievalResponse r = ok.get(i).getResponse();
      items[i] = r.getItems().stream().mapToLong(Long::longValue).toArray();
      scores[i] = new float[r.getScores().size()];
      for (int j = 0; j < scores[i].length; j++) {
        scores[i][j] = r.getScores().get(j);
      }
      scored += r.getItemsScored();
      calls += r.getScoreCalls();
      engine = Math.max(engine, r.getEngineMillis());   // the shards walk side by side
      r.getTimings().forEach((stage, ms) -> timings.merge(stage, ms, Math::max));
    }
    int k = Math.max(1, first.getWanted());
    ShardMerge.Merged m = ShardMerge.topK(items, scores, k);
    RetrievalResponse base = ok.get(0).getResponse();
    List<Long> outItems = new ArrayList<>(m.size());
    List<Float> outScores = new ArrayList<>(m.size());
    for (int i = 0; i < m.size(); i++) {
      outItems.add(m.items()[i]);
      outScores.add(m.scores()[i]);
    }
    boolean allCold = ok.stream().allMatch(o -> o.getResponse().getStatus() == ResponseStatus.COLD_START);
    ResponseStatus status = !missing.isEmpty() ? ResponseStatus.PARTIAL
        : allCold ? ResponseStatus.COLD_START : ResponseStatus.OK;
    String detail = !missing.isEmpty()
        ? (shards - missing.size()) + " of " + shards + " shards answered; the items are the best of those: " + why
        : base.getDetail();
    RetrievalResponse r = RetrievalResponse.newBuilder(base).setStatus(status).setDetail(detail)
        .setItems(outItems).setScores(outScores).setItemsScored(scored).setScoreCalls(calls).setEngineMillis(engine)
        .setTimings(timings).setMissingShards(missing).build();
    return output(first, r, parts);
  }

  private static ServingOutput output(ServingOutput first, RetrievalResponse r, List<ServingOutput> parts) {
    Map<String, Long> stamps = new HashMap<>(first.getStamps());
    for (ServingOutput p : parts) {
      Long end = p.getStamps().get("engineEnd");
      if (end != null) {
        stamps.merge("engineEnd", end, Math::max);
      }
    }
    // shard 0's copy carries all the request's headers, the others the routing ones (ShardScatter): a
    // partial answer without shard 0 still reaches the client's partition
    return new ServingOutput(r, first.getFeed(), first.getHeaders(), first.getReceivedAtMillis(), stamps, -1, "", 0);
  }
}
