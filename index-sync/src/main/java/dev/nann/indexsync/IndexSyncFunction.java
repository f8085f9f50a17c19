package dev.nann.indexsync;

import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.internal.CatalogInput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The index-sync job's core: keeps the item catalog (upserts and deletes from item-embeddings) in
 * RocksDB keyed state under one key, and builds a new HNSW snapshot when {@code minChanges} changes
 * have gathered or {@code maxIntervalMs} has passed since the first unbuilt change. With
 * {@code incremental}, the graph stays in memory between builds: new items are inserted, deletes
 * and updated embeddings tombstone the old node, and a full rebuild from the catalog happens after
 * a restart or once tombstones exceed {@code maxTombstoneFraction}. Each build is
 * written, read back and verified by {@link SnapshotPublisher} before its descriptor is emitted;
 * versions continue from the checkpointed state across restarts; only the newest {@code keep}
 * snapshot files are kept.
 *
 * <p>The build runs on the operator thread, so checkpoints wait for it (about 15 s for 100k
 * items on one thread); the catalog and the version are in checkpointed state, so a restart loses
 * no change.
 *
 * <p><b>Sharded</b> ({@link #withShards} S &gt; 1): the stream is keyed by the {@link ShardKeys} key of
 * {@link dev.nann.shard.ShardAssignment#shardOf}, so every piece of keyed state (catalog, version,
 * pending changes, timer) is one shard's; the in-memory incremental graph is kept per shard key too,
 * as one instance holds several shards when its parallelism is below S. A shard's snapshot is
 * {@code index-v<shardVersion>-s<shard>.nann}, its next version continues from its state and its
 * own newest file in the store, and it emits a one-shard descriptor ({@code shards} = its
 * {@link dev.nann.schemas.ShardSnapshot}) for {@link ManifestAssembler}, which also prunes the
 * store (this function then deletes nothing).
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
  private final boolean incremental;
  private final double maxTombstoneFraction;
  private String drDir;
  private double moveInPlace;
  private int shards = 1;
  /** Keys to shards when sharded (null: the one key 0 is the whole catalog). */
  private transient ShardKeys shardKeys;

  private transient DrPathTable drPaths;
  private transient MapState<Long, long[]> drAssigned;
  /** The key of the DR structure {@link #drAssigned} was made under ({@link DrAssignments}). */
  private transient ValueState<String> drStructure;

  private transient MapState<Long, ItemEmbedding> catalog;
  /** The catalog's attributes, for items that have any: each snapshot reads these, not the whole catalog. */
  private transient MapState<Long, Map<String, String>> attributes;
  /** Set once {@link #attributes} covers the catalog (state from before it existed is indexed once). */
  private transient ValueState<Boolean> attributesIndexed;
  /** This instance has seen {@link #attributesIndexed} set: no state read per element from then on. */
  private transient boolean attributesReady;
  private transient ValueState<Long> version;
  private transient ValueState<Long> pending;
  private transient ValueState<Long> timer;
  /** Items in the key's catalogue (null in state from before it was counted). */
  private transient ValueState<Long> catalogCount;
  private transient CatchUpGuard catchUp;
  private transient Counter builds;
  private transient volatile long lastBuildMillis;
  private transient volatile long catalogSize;
  /** Per shard: the growable graph, absent until the shard's first full build after (re)start. */
  private transient Map<Integer, dev.nann.graph.GrowableHnsw> graphs;
  /** Per shard: changes since the shard's last build, gathered only while it has a graph. */
  private transient Map<Integer, List<ItemEmbedding>> sinceBuilds;
  private transient Counter incrementalBuilds;

  /**
   * @param incremental insert new items into the live graph between full rebuilds (deletes and
   *     updates become tombstones) instead of rebuilding every time
   * @param maxTombstoneFraction above this share of tombstoned nodes the next build is a full one
   */
  public IndexSyncFunction(String snapshotDir, int dim, int m, int efConstruction, int buildThreads, int minChanges,
                           long maxIntervalMs, int keep, boolean incremental, double maxTombstoneFraction) {
    if (minChanges < 1 || maxIntervalMs < 1 || keep < 1) {
      throw new IllegalArgumentException("minChanges, maxIntervalMs and keep must be >= 1");
    }
    this.incremental = incremental;
    this.maxTombstoneFraction = maxTombstoneFraction;
    this.snapshotDir = snapshotDir;
    this.dim = dim;
    this.m = m;
    this.efConstruction = efConstruction;
    this.buildThreads = buildThreads;
    this.minChanges = minChanges;
    this.maxIntervalMs = maxIntervalMs;
    this.keep = keep;
  }

  /**
   * Lets an update that moves an item less than {@code fraction} times the distance to its nearest
   * graph neighbour keep its node in incremental builds, instead of a tombstone and a new node (0:
   * never). See {@link dev.nann.graph.GrowableHnsw#moveInPlace}.
   */
  public IndexSyncFunction withMoveInPlace(double fraction) {
    this.moveInPlace = fraction;
    return this;
  }

  /**
   * Builds one index of {@code shards} shards (keyed by shard, see the class comment); 1, the
   * default, is the unsharded index ({@code index-v<version>.nann}, one key 0).
   */
  public IndexSyncFunction withShards(int shards) {
    this.shards = dev.nann.shard.ShardAssignment.check(shards);
    return this;
  }

  /**
   * Also writes Deep Retrieval's item → paths table into every snapshot: the trained table of
   * {@code dir} (a ./nann trainer train-dr output) and, for items added later, their nearest item's paths.
   * Each snapshot's table names the structure; after a restart with another {@code dir}, the
   * assignments made under the old structure are dropped and made again ({@link DrAssignments}).
   */
  public IndexSyncFunction withDeepRetrieval(String dir) {
    this.drDir = dir;
    return this;
  }

  @Override
  public void open(OpenContext ctx) throws IOException {
    shardKeys = shards > 1 ? ShardKeys.of(shards) : null;
    if (drDir != null) {
      drPaths = DrPathTable.load(Path.of(drDir));
      @SuppressWarnings("unchecked")
      org.apache.flink.api.common.typeinfo.TypeInformation<long[]> codes =
          (org.apache.flink.api.common.typeinfo.TypeInformation<long[]>) Types.PRIMITIVE_ARRAY(Types.LONG);
      drAssigned = getRuntimeContext().getMapState(new MapStateDescriptor<>("dr-assigned", Types.LONG, codes));
      drStructure = getRuntimeContext().getState(new ValueStateDescriptor<>("dr-structure", Types.STRING));
    }
    catalog = getRuntimeContext().getMapState(new MapStateDescriptor<>("catalog", Types.LONG,
        new AvroTypeInfo<>(ItemEmbedding.class)));
    attributes = getRuntimeContext().getMapState(new MapStateDescriptor<>("attributes", Types.LONG,
        Types.MAP(Types.STRING, Types.STRING)));
    attributesIndexed = getRuntimeContext().getState(new ValueStateDescriptor<>("attributes-indexed", Types.BOOLEAN));
    version = getRuntimeContext().getState(new ValueStateDescriptor<>("version", Types.LONG));
    pending = getRuntimeContext().getState(new ValueStateDescriptor<>("pending", Types.LONG));
    timer = getRuntimeContext().getState(new ValueStateDescriptor<>("timer", Types.LONG));
    catalogCount = getRuntimeContext().getState(new ValueStateDescriptor<>("catalog-count", Types.LONG));
    catchUp = new CatchUpGuard(Path.of(snapshotDir), shards, maxIntervalMs);
    var g = getRuntimeContext().getMetricGroup().addGroup("nann");
    builds = g.counter("indexBuilds");
    incrementalBuilds = g.counter("incrementalIndexBuilds");
    graphs = new java.util.HashMap<>();
    sinceBuilds = new java.util.HashMap<>();
    g.gauge("lastBuildMs", () -> lastBuildMillis);
    g.gauge("catalogItems", () -> catalogSize);
    Files.createDirectories(Path.of(snapshotDir));
  }

  @Override
  public void processElement(CatalogInput in, Context ctx, Collector<IndexDescriptor> out) throws Exception {
    int shard = shard(ctx.getCurrentKey());
    if (in.getTouchShard() != null) {
      // a sharded job's start signal: a shard that has published nothing builds within rebuild.max-interval-ms
      // whether or not an item reaches it (an empty snapshot then), so it cannot hold back every manifest
      if (version.value() == null && timer.value() == null) {
        long at = ctx.timerService().currentProcessingTime() + maxIntervalMs;
        ctx.timerService().registerProcessingTimeTimer(at);
        timer.update(at);
      }
      return;
    }
    ItemEmbedding item = in.getItem();
    catchUp.active();   // every record read, a skipped repeat too, is the topic still answering
    indexAttributesOnce();
    ItemEmbedding held = catalog.get(item.getItemId());
    if (item.getDeleted() ? held == null : sameItem(held, item)) {
      // a delete of an item the catalogue lacks, or an upsert it already holds (a compacted topic read
      // again from its start repeats them all): nothing to build a new version for
      return;
    }
    if (item.getDeleted()) {
      catalog.remove(item.getItemId());
    } else {
      catalog.put(item.getItemId(), item);
    }
    if (drAssigned != null && (held == null || item.getDeleted() || !held.getEmbedding().equals(item.getEmbedding()))) {
      // an item's own paths were its nearest trained item's for its old vector: with a new one (or gone
      // and back within one batch) it is assigned again; attribute-only changes keep them
      drAssigned.remove(item.getItemId());
    }
    if (item.getDeleted() || held == null) {
      Long count = catalogCount.value();
      if (count != null || version.value() == null) {   // counted from an empty catalogue on
        catalogCount.update((count == null ? 0 : count) + (item.getDeleted() ? -1 : 1));
      }
    }
    if (item.getDeleted() || item.getAttributes() == null || item.getAttributes().isEmpty()) {
      attributes.remove(item.getItemId());
    } else {
      attributes.put(item.getItemId(), item.getAttributes());
    }
    if (graphs.containsKey(shard)) {
      sinceBuilds.computeIfAbsent(shard, k -> new ArrayList<>()).add(item);
    }
    long changes = (pending.value() == null ? 0 : pending.value()) + 1;
    pending.update(changes);
    if (changes >= minChanges && !catchUp.holdsBack(shard, version.value(), catalogCount.value())) {
      build(shard, ctx.timerService().currentProcessingTime(), out);
    } else if (timer.value() == null) {
      long at = ctx.timerService().currentProcessingTime() + maxIntervalMs;
      ctx.timerService().registerProcessingTimeTimer(at);
      timer.update(at);
    }
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<IndexDescriptor> out) throws Exception {
    int shard = shard(ctx.getCurrentKey());
    Long at = timer.value();
    if (at == null || at != timestamp) {
      return;   // a timer of a batch that was already built
    }
    timer.clear();
    if (catchUp.holdsBack(shard, version.value(), catalogCount.value())) {
      long next = timestamp + maxIntervalMs;   // still reading the catalogue again after a start without state
      ctx.timerService().registerProcessingTimeTimer(next);
      timer.update(next);
      if (catchUp.firstHold(shard)) {
        LOG.info("{}: reading the catalogue again after a start without state ({} items so far, {} in the newest "
            + "version in the store): the first build waits", shards > 1 ? "shard " + shard + " of "
            + shards : "the catalog", catalogCount.value() == null ? 0 : catalogCount.value(),
            catchUp.storedItems(shard));
      }
      return;
    }
    if (pending.value() != null && pending.value() > 0 || version.value() == null) {
      build(shard, timestamp, out);   // pending changes, or a shard's first version (empty or not)
    }
  }

  /** Whether {@code held} (null: none) already says what {@code item} does: same embedding and attributes. */
  private static boolean sameItem(ItemEmbedding held, ItemEmbedding item) {
    return held != null && held.getEmbedding().equals(item.getEmbedding())
        && java.util.Objects.equals(emptyIfNull(held.getAttributes()), emptyIfNull(item.getAttributes()));
  }

  private static Map<String, String> emptyIfNull(Map<String, String> m) {
    return m == null ? Map.of() : m;
  }

  /** Fills {@link #attributes} from the catalog once, for state written before it existed. */
  private void indexAttributesOnce() throws Exception {
    if (attributesReady || attributesIndexed.value() != null) {
      attributesReady = true;
      return;
    }
    for (Map.Entry<Long, ItemEmbedding> e : catalog.entries()) {
      Map<String, String> a = e.getValue().getAttributes();
      if (a != null && !a.isEmpty()) {
        attributes.put(e.getKey(), a);
      }
    }
    attributesIndexed.update(true);
    attributesReady = true;
  }

  /**
   * The catalog's attributes of every live node, so requests can filter on them during the walk.
   * Reads only the items that have attributes (a catalog without any costs one lookup).
   */
  private dev.nann.graph.HnswIndex withCatalogAttributes(dev.nann.graph.HnswIndex built) throws Exception {
    indexAttributesOnce();
    if (attributes.isEmpty()) {
      return built;
    }
    dev.nann.graph.ItemIdLookup nodes = dev.nann.graph.ItemIdLookup.of(built);
    List<Map<String, String>> perNode = new ArrayList<>(java.util.Collections.nCopies(built.size(), null));
    for (Map.Entry<Long, Map<String, String>> e : attributes.entries()) {
      int node = nodes.nodeOf(e.getKey());
      if (node >= 0) {
        perNode.set(node, e.getValue());
      }
    }
    return built.withAttributes(dev.nann.graph.ItemAttributes.of(perNode));
  }

  /** The shard a key routes (0 for the unsharded catalog's one key). */
  private int shard(int key) {
    return shardKeys == null ? key : shardKeys.shard(key);
  }

  private void build(int shard, long now, Collector<IndexDescriptor> out) throws Exception {
    pending.update(0L);
    timer.clear();
    boolean sharded = shards > 1;
    // after a crash between publishing version N and the checkpoint that records it, the state says
    // N - 1 while version N is out (file and descriptor): never publish N again with another file
    // (sharded: each shard's versions are its own, found among its own files)
    long checkpointed = version.value() == null ? 0 : version.value();
    long[] stored = sharded ? SnapshotStore.shardVersionsIn(Path.of(snapshotDir), shard)
        : SnapshotStore.versionsIn(Path.of(snapshotDir));
    long next = Math.max(checkpointed, stored.length == 0 ? 0 : stored[0]) + 1;
    String what = sharded ? "shard " + shard + " of " + shards + ": version " + next : "index version " + next;
    if (next > checkpointed + 1) {
      LOG.warn("{}version {} is already in the snapshot store (published before a restart, not in the restored "
          + "state): this build becomes version {}", sharded ? "shard " + shard + " of " + shards + ": " : "", next - 1, next);
    }
    long t0 = System.nanoTime();
    dev.nann.graph.HnswIndex built = null;
    dev.nann.graph.GrowableHnsw graph = graphs.get(shard);
    List<ItemEmbedding> sinceBuild = sinceBuilds.computeIfAbsent(shard, k -> new ArrayList<>());
    CatalogVectors vectors = new CatalogVectors(dim);
    boolean inPlace = incremental && graph != null;
    if (inPlace) {
      LOG.info("{}: {} changes into the live graph", what, sinceBuild.size());
      long movedBefore = graph.movedInPlace();
      for (ItemEmbedding item : sinceBuild) {
        float[] v = item.getDeleted() ? null : vectors.of(item);
        if (v == null) {
          graph.delete(item.getItemId());   // deleted, or of another length: out, as a full build leaves it
        } else {
          graph.upsert(item.getItemId(), v);
        }
      }
      sinceBuild.clear();
      logSkipped(vectors, what);
      if (graph.movedInPlace() > movedBefore) {
        LOG.info("{}: {} updates moved their node in place", what, graph.movedInPlace() - movedBefore);
      }
      // judged after the batch: one batch deleting most items must not go out as a graph of tombstones
      if (graph.liveItems() == 0 || graph.tombstoneFraction() > maxTombstoneFraction) {
        LOG.info("{}: {} of the live graph's nodes are tombstones now (rebuild.max-tombstone-fraction {}): a full build",
            what, String.format(java.util.Locale.ROOT, "%.2f", graph.tombstoneFraction()), maxTombstoneFraction);
        graphs.remove(shard);
        inPlace = false;
      } else {
        built = graph.freeze(next);
      }
    }
    if (!inPlace) {
      List<Long> ids = new ArrayList<>();
      List<float[]> rows = new ArrayList<>();
      for (Map.Entry<Long, ItemEmbedding> e : catalog.entries()) {
        float[] v = vectors.of(e.getValue());
        if (v != null) {
          ids.add(e.getKey());
          rows.add(v);
        }
      }
      logSkipped(vectors, what);
      sinceBuild.clear();
      if (ids.isEmpty()) {
        // published all the same: an empty shard must not hold back every manifest, and a snapshot is
        // what tells serving that the deleted items are gone
        LOG.warn("{} holds no item{}: publishing an empty snapshot", sharded ? "shard " + shard + " of " + shards
            : "the catalog", catalog.isEmpty() && version.value() == null ? " (none has reached it since the start)"
            : " after the latest changes");
      }
      long[] idArray = new long[ids.size()];
      float[] emb = new float[ids.size() * dim];
      for (int i = 0; i < idArray.length; i++) {
        idArray[i] = ids.get(i);
        System.arraycopy(rows.get(i), 0, emb, i * dim, dim);
      }
      LOG.info("{}: building over {} items (full build)", what, String.format(java.util.Locale.ROOT, "%,d", idArray.length));
      if (incremental && idArray.length > 0) {
        graph = dev.nann.graph.GrowableHnsw.build(emb, dim, idArray, m, efConstruction, next).moveInPlace(moveInPlace);
        graphs.put(shard, graph);
        built = graph.freeze(next);
      } else {
        built = new dev.nann.graph.HnswIndexBuilder().m(m).efConstruction(efConstruction).threads(buildThreads)
            .seed(next).version(next).build(emb, dim, idArray);
      }
    }
    long tGraph = System.nanoTime();
    built = withCatalogAttributes(built);
    long tAttributes = System.nanoTime();
    if (drPaths != null) {
      built = built.withPaths(DrAssignments.assign(drPaths, built, drAssigned, drStructure, what));
    }
    long tPaths = System.nanoTime();
    SnapshotPublisher publisher = new SnapshotPublisher(Path.of(snapshotDir), m, efConstruction, buildThreads);
    IndexDescriptor d = sharded ? publisher.publishShard(built, shard) : publisher.publish(built);
    version.update(next);
    lastBuildMillis = (System.nanoTime() - t0) / 1_000_000;
    catchUp.active();   // a long build is no quiet in the topic
    catalogSize = d.getItems();
    builds.inc();
    if (inPlace) {
      incrementalBuilds.inc();
    }
    LOG.info("{} {}, verified and published in {} ({} items, {} tombstones; graph {} ms, attributes {} ms, DR paths "
            + "{} ms, write + verify {} ms)", what, inPlace ? "updated in place" : "built", seconds(lastBuildMillis),
        String.format(java.util.Locale.ROOT, "%,d", d.getItems()), built.deletedCount(), (tGraph - t0) / 1_000_000,
        (tAttributes - tGraph) / 1_000_000, (tPaths - tAttributes) / 1_000_000, (System.nanoTime() - tPaths) / 1_000_000);
    out.collect(d);
    if (!sharded) {
      pruneOlderThan(next - keep + 1);   // sharded: ManifestAssembler prunes, knowing which files manifests name
    }
  }

  /** "850 ms", "41 s" */
  static String seconds(long millis) {
    return millis < 1000 ? millis + " ms" : Math.round(millis / 1000.0) + " s";
  }

  private static void logSkipped(CatalogVectors vectors, String what) {
    String line = vectors.summary(what);
    if (line != null) {
      LOG.warn(line);
    }
  }

  private void pruneOlderThan(long oldestKept) throws IOException {
    Path store = Path.of(snapshotDir);
    for (Path p : dev.nann.graph.StoreFiles.sweepTemporary(store,
        dev.nann.graph.StoreFiles.STALE_TEMPORARY_MILLIS)) {
      LOG.info("deleted {}, left by an interrupted snapshot write", p);
    }
    for (long v : SnapshotStore.versionsIn(store)) {
      if (v < oldestKept) {
        Path p = store.resolve(SnapshotStore.fileName(v));
        Files.deleteIfExists(p);
        LOG.info("deleted old snapshot {}", p);
      }
    }
  }
}
