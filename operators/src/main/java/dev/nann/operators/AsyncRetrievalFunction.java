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
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;

/**
 * Flink async I/O around the TaskManager-wide {@link RetrievalEngine}: each task is answered on an
 * engine walker thread, so the operator thread never blocks on a graph walk or a score call. A
 * task still unanswered at the async timeout is answered TIMEOUT (a late engine answer is then
 * ignored by Flink). Engine metrics: engine latency, items scored, in-flight, batch fill, index
 * version and age, model version.
 */
public final class AsyncRetrievalFunction extends RichAsyncFunction<ScoringTask, ServingOutput> {
  private final EngineConfig engineConfig;
  private transient RetrievalEngine engine;
  private transient Histogram engineLatency;
  private transient Histogram itemsScored;

  public AsyncRetrievalFunction(EngineConfig engineConfig) {
    this.engineConfig = engineConfig;
  }

  @Override
  public void open(OpenContext ctx) {
    engine = RetrievalEngine.acquire(engineConfig);
    MetricGroup g = getRuntimeContext().getMetricGroup().addGroup("nann");
    engineLatency = g.histogram("engineLatencyMs", new DescriptiveStatisticsHistogram(10_000));
    itemsScored = g.histogram("itemsScoredPerRequest", new DescriptiveStatisticsHistogram(10_000));
    g.gauge("inFlight", () -> engine.inFlight());
    g.gauge("indexVersion", () -> engine.indexVersion());
    g.gauge("refusedIndexes", () -> engine.refusedIndexes());
    g.gauge("refusedModels", () -> engine.refusedModels());
    g.gauge("freshItems", () -> engine.freshCount());
    g.gauge("indexAgeMs", () -> {
      long created = engine.indexCreatedAtMillis();
      return created <= 0 ? -1L : System.currentTimeMillis() - created;
    });
    g.gauge("modelVersion", () -> engine.modelVersion());
    g.gauge("modelAgeMs", () -> {
      long loaded = engine.modelLoadedAtMillis();
      return loaded <= 0 ? -1L : System.currentTimeMillis() - loaded;
    });
    g.gauge("batchFill", () -> {
      MicroBatchingScorer b = engine.batcher();
      return b == null ? 0.0 : b.batchFill();
    });
    g.gauge("batchesPerScoreCall", () -> {
      MicroBatchingScorer b = engine.batcher();
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
    engine.submit(task).thenAccept(r -> {
      if (r.getStatus() == ResponseStatus.OK || r.getStatus() == ResponseStatus.COLD_START) {
        engineLatency.update(Math.round(r.getEngineMillis()));
        itemsScored.update(r.getItemsScored());
      }
      result.complete(Collections.singleton(output(task, r)));
    });
  }

  @Override
  public void timeout(ScoringTask task, ResultFuture<ServingOutput> result) {
    RetrievalResponse r = RequestProtocol.error(task.getRequest(), ResponseStatus.TIMEOUT,
        "no answer within the async timeout (serving.async.timeout-ms)");
    r.setIndexVersion(task.getIndex().getVersion());
    result.complete(Collections.singleton(output(task, r)));
  }

  private static ServingOutput output(ScoringTask task, RetrievalResponse r) {
    return new ServingOutput(r, task.getFeed(), task.getHeaders(), task.getReceivedAtMillis());
  }
}
