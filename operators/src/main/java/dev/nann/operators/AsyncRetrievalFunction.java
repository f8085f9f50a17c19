package dev.nann.operators;

import dev.nann.engine.EngineConfig;
import dev.nann.engine.RequestProtocol;
import dev.nann.engine.RetrievalEngine;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.schemas.internal.ServingOutput;
import dev.nann.scorer.MicroBatchingScorer;
import java.util.Collections;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

/**
 * Flink async I/O around the TaskManager-wide {@link RetrievalEngine}: each task is answered on an
 * engine walker thread, so the operator thread never blocks on a graph walk or a score call; a task
 * that already carries its answer (decided by the user-state operator) passes straight through. A
 * task still unanswered at the async timeout is answered TIMEOUT (a late engine answer is then
 * ignored by Flink). Engine metrics: engine latency, items scored, in-flight, batch fill, index
 * version and age, model version.
 */
public final class AsyncRetrievalFunction extends RichAsyncFunction<ScoringTask, ServingOutput> {
  private final EngineConfig engineConfig;
  private transient RetrievalEngine engine;
  private transient Histogram engineLatency;
  private transient Histogram itemsScored;
  /** Tasks handed to the engine and not yet answered, so a timeout can withdraw its task. */
  private transient Map<Pending, CompletableFuture<RetrievalResponse>> pending;

  public AsyncRetrievalFunction(EngineConfig engineConfig) {
    this.engineConfig = engineConfig;
  }

  @Override
  public void open(OpenContext ctx) {
    engine = OperatorEngines.acquire(getRuntimeContext(), engineConfig);
    pending = new ConcurrentHashMap<>();
    // the gauges hold the engine itself: close() lets go of the field, and a reporter may still poll
    RetrievalEngine shared = engine;
    MetricGroup g = getRuntimeContext().getMetricGroup().addGroup("nann");
    engineLatency = g.histogram("engineLatencyMs", new DescriptiveStatisticsHistogram(10_000));
    itemsScored = g.histogram("itemsScoredPerRequest", new DescriptiveStatisticsHistogram(10_000));
    g.gauge("inFlight", () -> shared.inFlight());
    g.gauge("overloaded", () -> shared.shedCount());
    g.gauge("abandoned", () -> shared.abandonedCount());
    g.gauge("indexVersion", () -> shared.indexVersion());
    g.gauge("refusedIndexes", () -> shared.refusedIndexes());
    g.gauge("refusedModels", () -> shared.refusedModels());
    g.gauge("freshItems", () -> shared.freshCount());
    g.gauge("freshRefused", () -> shared.freshRefusedCount());
    g.gauge("indexAgeMs", () -> {
      long created = shared.indexCreatedAtMillis();
      return created <= 0 ? -1L : System.currentTimeMillis() - created;
    });
    g.gauge("modelVersion", () -> shared.modelVersion());
    g.gauge("modelAgeMs", () -> {
      long loaded = shared.modelLoadedAtMillis();
      return loaded <= 0 ? -1L : System.currentTimeMillis() - loaded;
    });
    g.gauge("batchFill", () -> {
      MicroBatchingScorer b = shared.batcher();
      return b == null ? 0.0 : b.batchFill();
    });
    g.gauge("batchesPerScoreCall", () -> {
      MicroBatchingScorer b = shared.batcher();
      return b == null ? 1.0 : b.meanBatchesPerCall();
    });
  }

  @Override
  public void close() {
    if (engine != null) {
      RetrievalEngine.release(engine);
      engine = null;
    }
  }

  @Override
  public void asyncInvoke(ScoringTask task, ResultFuture<ServingOutput> result) {
    if (task.getAnswer() != null) {   // answered before the engine (INVALID, NO_INDEX): on to the router
      result.complete(Collections.singleton(new ServingOutput(task.getAnswer(), task.getFeed(), task.getHeaders(),
          task.getReceivedAtMillis(), task.getStamps(), -1, task.getTaskId(), 0)));
      return;
    }
    Pending key = new Pending(task);
    CompletableFuture<RetrievalResponse> answer = engine.submit(task);
    pending.put(key, answer);
    answer.thenAccept(r -> {
      pending.remove(key);
      if (r.getStatus() == ResponseStatus.OK || r.getStatus() == ResponseStatus.COLD_START) {
        engineLatency.update(Math.round(r.getEngineMillis()));
        itemsScored.update(r.getItemsScored());
      }
      result.complete(Collections.singleton(output(task, r)));
    });
  }

  @Override
  public void timeout(ScoringTask task, ResultFuture<ServingOutput> result) {
    CompletableFuture<RetrievalResponse> abandoned = pending.remove(new Pending(task));
    if (abandoned != null) {
      abandoned.cancel(false);   // a walker that has not started on it skips it
    }
    RetrievalResponse r = RequestProtocol.error(task.getRequest(), ResponseStatus.TIMEOUT,
        "no answer within the async timeout (serving.async.timeout-ms)");
    r.setIndexVersion(task.getIndex() == null ? -1 : task.getIndex().getVersion());
    result.complete(Collections.singleton(output(task, r)));
  }

  /** A task by identity: equal requests sent twice are two tasks. */
  private record Pending(ScoringTask task) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Pending p && p.task == task;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(task);
    }
  }

  private static ServingOutput output(ScoringTask task, RetrievalResponse r) {
    Map<String, Long> stamps = new java.util.HashMap<>(task.getStamps());
    stamps.put("engineEnd", RequestProtocol.nowMicros());
    return new ServingOutput(r, task.getFeed(), task.getHeaders(), task.getReceivedAtMillis(), stamps, task.getShard(),
        task.getTaskId(), task.getRequest().getK());
  }
}
