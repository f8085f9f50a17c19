package dev.nann.indexsync;

import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import dev.nann.shard.ShardAssignment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
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
 * The manifest step of a sharded index-sync job (parallelism 1, keyed by a constant): takes the
 * one-shard descriptors {@link IndexSyncFunction} emits, keeps the newest per shard in keyed
 * state, and once every one of the S shards has published, turns each new shard publish into a
 * new index version: its {@link ShardManifest} is written to the snapshot store
 * ({@code index-v<version>.manifest}), read back, and its descriptor (uri and SHA-256 of the
 * manifest file, {@code shards} = all S shard snapshots, items = their sum) is emitted. A version
 * is therefore live only when all S shards it names are published and verified.
 *
 * <p>Manifest versions continue from the state and from the newest manifest in the store (one
 * written after the last checkpoint is never overwritten by a different one). After each manifest
 * the store is pruned ({@link #prune}): the newest {@code keep} + S manifests stay ({@link
 * #manifestsKept}), and every manifest younger than {@link #MIN_AGE_MILLIS}, and so does every
 * shard file a kept manifest names.
 *
 * <p>A shard that receives no item at all (a catalogue too small to reach every shard of S) publishes
 * an empty snapshot of its own ({@link IndexSyncFunction}, from the job's per-shard start signal), so
 * the first manifest does not wait for it for ever.
 */
public final class ManifestAssembler extends KeyedProcessFunction<Integer, IndexDescriptor, IndexDescriptor> {
  private static final Logger LOG = LoggerFactory.getLogger(ManifestAssembler.class);
  private final String snapshotDir;
  private final int shards;
  private final int keep;

  /** Newest one-shard descriptor per shard. */
  private transient MapState<Integer, IndexDescriptor> newest;
  private transient ValueState<Long> version;
  private transient Counter manifests;

  /**
   * @param snapshotDir the snapshot store the shards write to
   * @param shards S, the number of shards (every one must publish before the first manifest)
   * @param keep manifests kept in the store (and every shard file they name)
   */
  public ManifestAssembler(String snapshotDir, int shards, int keep) {
    if (keep < 1) {
      throw new IllegalArgumentException("keep must be >= 1");
    }
    this.snapshotDir = snapshotDir;
    this.shards = ShardAssignment.check(shards);
    this.keep = keep;
  }

  @Override
  public void open(OpenContext ctx) throws IOException {
    newest = getRuntimeContext().getMapState(new MapStateDescriptor<>("shard-descriptors", Types.INT,
        new AvroTypeInfo<>(IndexDescriptor.class)));
    version = getRuntimeContext().getState(new ValueStateDescriptor<>("manifest-version", Types.LONG));
    manifests = getRuntimeContext().getMetricGroup().addGroup("nann").counter("indexManifests");
    Files.createDirectories(Path.of(snapshotDir));
  }

  @Override
  public void processElement(IndexDescriptor d, Context ctx, Collector<IndexDescriptor> out) throws Exception {
    if (d.getShards().size() != 1 || d.getShards().get(0).getShard() < 0 || d.getShards().get(0).getShard() >= shards) {
      throw new IllegalArgumentException("manifest step of " + shards + " shards got a descriptor that is not one of "
          + "its shards' (version " + d.getVersion() + ", shards " + d.getShards() + ")");
    }
    ShardSnapshot s = d.getShards().get(0);
    IndexDescriptor before = newest.get(s.getShard());
    if (before != null && before.getVersion() >= d.getVersion()) {
      LOG.info("shard {} of {}: version {} ignored, version {} is already in the manifest", s.getShard(), shards,
          d.getVersion(), before.getVersion());
      return;
    }
    newest.put(s.getShard(), d);
    List<IndexDescriptor> all = new ArrayList<>(shards);
    List<Integer> missing = new ArrayList<>();
    for (int shard = 0; shard < shards; shard++) {
      IndexDescriptor one = newest.get(shard);
      if (one == null) {
        missing.add(shard);
      } else {
        all.add(one);
      }
    }
    if (!missing.isEmpty()) {
      LOG.info("shard {} of {}: version {} published; the first manifest waits for {} more shard(s): {}", s.getShard(),
          shards, s.getVersion(), missing.size(), missing.size() <= 16 ? missing : missing.subList(0, 16) + "...");
      return;
    }
    String mixed = ShardManifest.mixedDimensions(all);
    if (mixed != null) {   // an index.dim change: the next manifest waits until every shard has rebuilt at the new one
      LOG.warn("shard {} of {}: version {} published at dim {}; no manifest while the shards' item dimensions differ "
          + "({}): every shard must rebuild with the new embeddings first", s.getShard(), shards, s.getVersion(),
          d.getDim(), mixed);
      return;
    }
    Path store = Path.of(snapshotDir);
    long checkpointed = version.value() == null ? 0 : version.value();
    long[] stored = SnapshotStore.manifestVersionsIn(store);
    long next = Math.max(checkpointed, stored.length == 0 ? 0 : stored[0]) + 1;
    if (next > checkpointed + 1) {
      LOG.warn("manifest version {} is already in the snapshot store (written before a restart, not in the restored "
          + "state): this manifest becomes version {}", next - 1, next);
    }
    ShardManifest manifest = ShardManifest.of(next, all);
    IndexDescriptor published = manifest.publish(store);
    version.update(next);
    manifests.inc();
    LOG.info("manifest version {}: {} shards, {} items (shard {} now at version {})", next, shards,
        String.format(java.util.Locale.ROOT, "%,d", manifest.items()), s.getShard(), s.getVersion());
    out.collect(published);
    for (Path deleted : prune(store, manifestsKept(keep, shards), MIN_AGE_MILLIS, System.currentTimeMillis())) {
      String name = deleted.getFileName().toString();
      LOG.info("deleted {} {}", name.endsWith(".manifest") ? "old manifest" : name.endsWith(".tmp")
          ? "an interrupted write's" : "old shard snapshot", deleted);
    }
  }

  /**
   * Manifests a store keeps for {@code snapshots.keep} = {@code keep}: each shard's publish makes a
   * manifest, so S shards publishing within serving's activation delay (index.shard-activation-ms)
   * make S manifests while requests are still stamped with the version before them; keeping only
   * {@code keep} would delete the shard files that version names under a TaskManager that has yet
   * to load them. The S newest are kept on top of {@code keep}.
   */
  static int manifestsKept(int keep, int shards) {
    return keep + shards;
  }

  /**
   * Manifests younger than this are kept whatever their number: shards publishing faster than
   * serving activates versions ({@code index.shard-activation-ms}, 10 s by default: a version stays
   * current that long after a newer one arrives) make more than S manifests while one is still in
   * use. Two minutes cover the activation delay and a shard snapshot's load with room to spare.
   */
  static final long MIN_AGE_MILLIS = 120_000;

  private static boolean allYoung(Path store, long[] versions, int count, long minAgeMillis, long nowMillis) {
    for (int i = 0; i < count; i++) {
      if (nowMillis - lastModified(store.resolve(SnapshotStore.manifestFileName(versions[i]))) >= minAgeMillis) {
        return false;
      }
    }
    return true;
  }

  private static long lastModified(Path file) {
    try {
      return Files.getLastModifiedTime(file).toMillis();
    } catch (IOException e) {
      return Long.MIN_VALUE / 2;   // gone or unreadable: not kept for its age
    }
  }

  /**
   * Prunes a sharded snapshot store: keeps the newest {@code keep} manifests and deletes older
   * ones; of each shard, deletes the snapshot files older than the oldest version a kept manifest
   * names for it. A file a kept manifest names, a shard file newer than those (not yet in a
   * manifest) and the files of a shard no kept manifest mentions are never deleted; if a kept
   * manifest cannot be read, no shard file is.
   *
   * @return the files deleted
   */
  public static List<Path> prune(Path store, int keep) throws IOException {
    return prune(store, keep, 0, System.currentTimeMillis());
  }

  /**
   * {@link #prune(Path, int)} keeping, beyond the newest {@code keep}, every manifest written less
   * than {@code minAgeMillis} before {@code nowMillis} (and the shard files it names), and, when
   * those young ones are all the newest {@code keep}, the newest older one (serving's until the
   * young ones activate); also deletes
   * temporary files an interrupted write left in the store over an hour ago.
   */
  public static List<Path> prune(Path store, int keep, long minAgeMillis, long nowMillis) throws IOException {
    List<Path> deleted = new ArrayList<>(dev.nann.graph.StoreFiles.sweepTemporary(store,
        dev.nann.graph.StoreFiles.STALE_TEMPORARY_MILLIS));
    long[] versions = SnapshotStore.manifestVersionsIn(store);
    if (versions.length == 0) {
      return deleted;
    }
    while (keep < versions.length && nowMillis - lastModified(store.resolve(SnapshotStore.manifestFileName(versions[keep])))
        < minAgeMillis) {
      keep++;   // newest first: a manifest this young may still be the one serving uses
    }
    if (keep < versions.length && minAgeMillis > 0 && allYoung(store, versions, keep, minAgeMillis, nowMillis)) {
      // a burst of young manifests: the newest one older than them is the version requests are
      // stamped with until the burst's newest activates, however old it is
      keep++;
    }
    Map<Integer, TreeSet<Long>> named = new HashMap<>();
    for (int i = 0; i < Math.min(keep, versions.length); i++) {
      Path file = store.resolve(SnapshotStore.manifestFileName(versions[i]));
      ShardManifest m;
      try {
        m = ShardManifest.read(file);
      } catch (RuntimeException e) {
        LOG.warn("cannot read the kept manifest {} ({}); no shard snapshot is deleted", file, e.getMessage());
        return deleted;
      }
      for (ShardManifest.Entry e : m.shards()) {
        named.computeIfAbsent(e.shard(), k -> new TreeSet<>()).add(e.version());
        if (!e.file().equals(SnapshotStore.shardFileName(e.version(), e.shard()))) {
          LOG.warn("kept manifest {} names {} for shard {} version {}; no shard snapshot is deleted", file, e.file(),
              e.shard(), e.version());
          return deleted;
        }
      }
    }
    for (int i = keep; i < versions.length; i++) {
      Path file = store.resolve(SnapshotStore.manifestFileName(versions[i]));
      if (Files.deleteIfExists(file)) {
        deleted.add(file);
      }
    }
    try (Stream<Path> files = Files.list(store)) {
      for (Path p : files.toList()) {
        long[] shardFile = SnapshotStore.parseShardFileName(p.getFileName().toString());
        if (shardFile == null) {
          continue;
        }
        long v = shardFile[0];
        TreeSet<Long> kept = named.get((int) shardFile[1]);
        if (kept != null && !kept.contains(v) && v < kept.first() && Files.deleteIfExists(p)) {
          deleted.add(p);
        }
      }
    }
    return deleted;
  }
}
