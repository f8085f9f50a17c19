package dev.nann.indexsync;

import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.internal.CatalogInput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The index-sync job's core: keeps the item catalog (upserts and deletes from item-embeddings) in
 * RocksDB keyed state under one key, and rebuilds the HNSW snapshot when {@code minChanges} changes
 * have gathered or {@code maxIntervalMs} has passed since the first unbuilt change. Each build is
 * written, read back and verified by {@link SnapshotPublisher} before its descriptor is emitted;
 * versions continue from the checkpointed state across restarts; only the newest {@code keep}
 * snapshot files are kept.
 *
 * <p>The build runs on the operator thread, so checkpoints wait for it (about 15 s for 100k
 * items on one thread); the catalog and the version are in checkpointed state, so a restart loses
 * no change.
 */
public final class IndexSyncFunction extends KeyedProcessFunction<Integer, CatalogInput, IndexDescriptor> {
  private static final Logger LOG = LoggerFactory.getLogger(IndexSyncFunction.class);

  private final String snapshotDir;
  private final int dim;
  private final int m;
  private final int efConstruction;
  private final int buildThreads;
  private final int minChanges;
  private final long maxIntervalMs;
  private final int keep;

  private transient MapState<Long, ItemEmbedding> catalog;
  private transient ValueState<Long> version;
  private transient ValueState<Long> pending;
  private transient ValueState<Long> timer;
  private transient Counter builds;
  private transient volatile long lastBuildMillis;
  private transient volatile long catalogSize;

  public IndexSyncFunction(String snapshotDir, int dim, int m, int efConstruction, int buildThreads, int minChanges,
                           long maxIntervalMs, int keep) {
    if (minChanges < 1 || maxIntervalMs < 1 || keep < 1) {
      throw new IllegalArgumentException("minChanges, maxIntervalMs and keep must be >= 1");
    }
    this.snapshotDir = snapshotDir;
    this.dim = dim;
    this.m = m;
    this.efConstruction = efConstruction;
    this.buildThreads = buildThreads;
    this.minChanges = minChanges;
    this.maxIntervalMs = maxIntervalMs;
    this.keep = keep;
  }

  @Override
  public void open(OpenContext ctx) throws IOException {
    catalog = getRuntimeContext().getMapState(new MapStateDescriptor<>("catalog", Types.LONG,
        new AvroTypeInfo<>(ItemEmbedding.class)));
    version = getRuntimeContext().getState(new ValueStateDescriptor<>("version", Types.LONG));
    pending = getRuntimeContext().getState(new ValueStateDescriptor<>("pending", Types.LONG));
    timer = getRuntimeContext().getState(new ValueStateDescriptor<>("timer", Types.LONG));
    var g = getRuntimeContext().getMetricGroup().addGroup("nann");
    builds = g.counter("indexBuilds");
    g.gauge("lastBuildMs", () -> lastBuildMillis);
    g.gauge("catalogItems", () -> catalogSize);
    Files.createDirectories(Path.of(snapshotDir));
  }

  @Override
  public void processElement(CatalogInput in, Context ctx, Collector<IndexDescriptor> out) throws Exception {
    ItemEmbedding item = in.getItem();
    if (item.getDeleted()) {
      catalog.remove(item.getItemId());
    } else {
      catalog.put(item.getItemId(), item);
    }
    long changes = (pending.value() == null ? 0 : pending.value()) + 1;
    pending.update(changes);
    if (changes >= minChanges) {
      build(ctx.timerService().currentProcessingTime(), out);
    } else if (timer.value() == null) {
      long at = ctx.timerService().currentProcessingTime() + maxIntervalMs;
      ctx.timerService().registerProcessingTimeTimer(at);
      timer.update(at);
    }
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<IndexDescriptor> out) throws Exception {
    Long at = timer.value();
    if (at == null || at != timestamp) {
      return;   // a timer of a batch that was already built
    }
    timer.clear();
    if (pending.value() != null && pending.value() > 0) {
      build(timestamp, out);
    }
  }

  private void build(long now, Collector<IndexDescriptor> out) throws Exception {
    List<Long> ids = new ArrayList<>();
    List<ItemEmbedding> rows = new ArrayList<>();
    for (Map.Entry<Long, ItemEmbedding> e : catalog.entries()) {
      ids.add(e.getKey());
      rows.add(e.getValue());
    }
    pending.update(0L);
    timer.clear();
    if (ids.isEmpty()) {
      LOG.warn("catalog is empty after the latest changes; no snapshot built (the live one keeps serving)");
      return;
    }
    long[] idArray = new long[ids.size()];
    float[] emb = new float[ids.size() * dim];
    for (int i = 0; i < idArray.length; i++) {
      idArray[i] = ids.get(i);
      List<Float> v = rows.get(i).getEmbedding();
      for (int j = 0; j < dim; j++) {
        emb[i * dim + j] = v.get(j);
      }
    }
    long next = (version.value() == null ? 0 : version.value()) + 1;
    long t0 = System.nanoTime();
    LOG.info("building index version {} over {} items", next, idArray.length);
    IndexDescriptor d = new SnapshotPublisher(Path.of(snapshotDir), m, efConstruction, buildThreads)
        .publish(next, emb, dim, idArray, next, n -> LOG.info("index version {}: {} of {} items inserted", next, n,
            idArray.length));
    version.update(next);
    lastBuildMillis = (System.nanoTime() - t0) / 1_000_000;
    catalogSize = idArray.length;
    builds.inc();
    LOG.info("index version {} built, verified and published in {} ms ({} items)", next, lastBuildMillis,
        idArray.length);
    out.collect(d);
    pruneOlderThan(next - keep + 1);
  }

  private void pruneOlderThan(long oldestKept) throws IOException {
    try (Stream<Path> files = Files.list(Path.of(snapshotDir))) {
      for (Path p : files.toList()) {
        String name = p.getFileName().toString();
        if (name.matches("index-v\\d{12}\\.nann") && Long.parseLong(name.substring(7, 19)) < oldestKept) {
          Files.deleteIfExists(p);
          LOG.info("deleted old snapshot {}", p);
        }
      }
    }
  }
}
