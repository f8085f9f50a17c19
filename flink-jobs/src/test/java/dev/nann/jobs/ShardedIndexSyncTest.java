package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.indexsync.ManifestAssembler;
import dev.nann.indexsync.ShardManifest;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ShardSnapshot;
import dev.nann.schemas.internal.CatalogInput;
import dev.nann.shard.ShardAssignment;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sharded index-sync pipeline ({@code index.shards} &gt; 1) on a Flink MiniCluster: catalog
 * changes become per-shard verified snapshots, and a version is published as a manifest only once
 * every shard has one. Also how changes become versions of an unsharded index.
 */
class ShardedIndexSyncTest {
  private static final int DIM = 8;

  @TempDir
  Path dir;

  private IndexSyncConfig config(int shards, int minChanges) {
    return IndexSyncConfig.of(Map.of(
        "kafka.bootstrap-servers", "127.0.0.1:1",   // not used: the pipeline is fed from a collection
        "snapshot.dir", dir.resolve("snapshots").toString(),
        "index.dim", Integer.toString(DIM),
        "index.m", "8",
        "index.shards", Integer.toString(shards),
        "rebuild.min-changes", Integer.toString(minChanges),
        "rebuild.max-interval-ms", "3600000",   // builds come from min-changes only: a bounded input fires no timer
        "snapshots.keep", "3"));
  }

  private static List<IndexDescriptor> run(IndexSyncConfig cfg, List<CatalogInput> input, int parallelism) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, new Configuration());
    DataStream<CatalogInput> items = env.fromData(input, new AvroTypeInfo<>(CatalogInput.class));
    List<IndexDescriptor> out = new ArrayList<>();
    try (CloseableIterator<IndexDescriptor> it = IndexSyncJob.descriptors(items, cfg).executeAndCollect("sharded-index-sync-test")) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  private static CatalogInput upsert(long id, Random rnd) {
    List<Float> v = new ArrayList<>();
    for (int i = 0; i < DIM; i++) {
      v.add((float) rnd.nextGaussian());
    }
    return CatalogInput.newBuilder().setItem(ItemEmbedding.newBuilder().setItemId(id).setEmbedding(v).build()).build();
  }

  private static CatalogInput delete(long id) {
    return CatalogInput.newBuilder().setItem(ItemEmbedding.newBuilder().setItemId(id).setDeleted(true).build()).build();
  }

  /** The first {@code n} ids from {@code from} up that fall in {@code shard} of {@code shards}. */
  private static List<Long> idsOfShard(int shard, int shards, int n, long from) {
    List<Long> ids = new ArrayList<>();
    for (long id = from; ids.size() < n; id++) {
      if (ShardAssignment.shardOf(id, shards) == shard) {
        ids.add(id);
      }
    }
    return ids;
  }

  /**
   * Checks a manifest descriptor against its file and every shard file it names; returns the live
   * item ids of each shard.
   */
  private static Map<Integer, Set<Long>> verify(IndexDescriptor manifest, int shards) {
    Path file = Path.of(URI.create(manifest.getUri()));
    assertEquals(SnapshotStore.manifestFileName(manifest.getVersion()), file.getFileName().toString());
    assertEquals(manifest.getSha256(), ShardManifest.sha256(file), "the descriptor carries the manifest file's SHA-256");
    ShardManifest onDisk = ShardManifest.read(file);
    assertEquals(manifest.getVersion(), onDisk.version());
    assertEquals(shards, manifest.getShards().size(), "a manifest names every shard");
    Map<Integer, Set<Long>> live = new HashMap<>();
    long total = 0;
    for (int shard = 0; shard < shards; shard++) {
      ShardSnapshot s = manifest.getShards().get(shard);
      assertEquals(shard, s.getShard(), "shards in shard order");
      Path shardFile = Path.of(URI.create(s.getUri()));
      assertEquals(SnapshotStore.shardFileName(s.getVersion(), shard), shardFile.getFileName().toString());
      assertEquals(shardFile.getFileName().toString(), onDisk.shards().get(shard).file());
      assertEquals(s.getSha256(), onDisk.shards().get(shard).sha256());
      HnswIndex index = SnapshotFormat.read(shardFile);   // verifies the file's checksum
      assertEquals(s.getSha256(), index.sha256());
      assertEquals(s.getVersion(), index.meta().version());
      Set<Long> ids = new HashSet<>();
      for (int node = 0; node < index.size(); node++) {
        if (!index.isDeleted(node)) {
          long id = index.itemId(node);
          assertEquals(shard, ShardAssignment.shardOf(id, shards), "item " + id + " is in the shard ShardAssignment says");
          assertTrue(ids.add(id), "item " + id + " is live once");
        }
      }
      assertEquals(s.getItems(), ids.size());
      total += ids.size();
      live.put(shard, ids);
    }
    assertEquals(total, manifest.getItems());
    assertEquals(total, onDisk.items());
    return live;
  }

  private Set<String> storeFiles() throws Exception {
    try (Stream<Path> files = Files.list(dir.resolve("snapshots"))) {
      return new TreeSet<>(files.map(p -> p.getFileName().toString()).toList());
    }
  }

  /**
   * S = 2 on one parallel instance (both shards, and both in-memory graphs, in one instance):
   * shard 0 publishes first, and no manifest comes until shard 1 has published too; a later change
   * in shard 1 alone gives a new manifest version naming its new file and shard 0's unchanged one.
   */
  @Test
  void twoShardsBecomeOneManifestThatMovesWithEachShard() throws Exception {
    Random rnd = new Random(11);
    List<Long> s0 = idsOfShard(0, 2, 200, 1);
    List<Long> s1 = idsOfShard(1, 2, 340, 1);
    List<CatalogInput> in = new ArrayList<>();
    for (long id : s0) {
      in.add(upsert(id, rnd));   // shard 0's 200th change: it publishes its version 1 alone
    }
    for (long id : s1.subList(0, 200)) {
      in.add(upsert(id, rnd));   // shard 1's version 1: now the first manifest
    }
    // 200 more changes, all in shard 1: 140 new items, 50 deletes, 10 moved items (in place into its graph)
    for (long id : s1.subList(200, 340)) {
      in.add(upsert(id, rnd));
    }
    for (long id : s1.subList(0, 50)) {
      in.add(delete(id));
    }
    for (long id : s1.subList(50, 60)) {
      in.add(upsert(id, rnd));
    }
    List<IndexDescriptor> out = run(config(2, 200), in, 1);

    assertEquals(2, out.size(), "one manifest per shard publish once both shards have one: " + out);
    IndexDescriptor m1 = out.get(0);
    IndexDescriptor m2 = out.get(1);
    assertEquals(1, m1.getVersion());
    assertEquals(2, m2.getVersion());

    Map<Integer, Set<Long>> v1 = verify(m1, 2);
    assertEquals(new HashSet<>(s0), v1.get(0));
    assertEquals(new HashSet<>(s1.subList(0, 200)), v1.get(1));
    assertEquals(400, m1.getItems());

    Map<Integer, Set<Long>> v2 = verify(m2, 2);
    assertEquals(m1.getShards().get(0), m2.getShards().get(0), "shard 0 did not change: the same file and checksum");
    assertEquals(2, m2.getShards().get(1).getVersion());
    assertNotEquals(m1.getShards().get(1).getUri(), m2.getShards().get(1).getUri());
    assertEquals(new HashSet<>(s0), v2.get(0));
    assertEquals(new HashSet<>(s1.subList(50, 340)), v2.get(1));
    assertEquals(200 + 290, m2.getItems(), "the catalogue: 200 + 340 items less 50 deletes");

    // shard 0's lone publish (before shard 1 had one) made no manifest: two manifests for three shard files
    assertEquals(new TreeSet<>(List.of(SnapshotStore.manifestFileName(1), SnapshotStore.manifestFileName(2),
        SnapshotStore.shardFileName(1, 0), SnapshotStore.shardFileName(1, 1), SnapshotStore.shardFileName(2, 1))),
        storeFiles());
  }

  /** More shards than parallel instances: every shard is built by its own key, and one manifest names all three. */
  @Test
  void threeShardsOnTwoInstances() throws Exception {
    Random rnd = new Random(12);
    List<CatalogInput> in = new ArrayList<>();
    Set<Long> catalogue = new HashSet<>();
    for (int shard = 0; shard < 3; shard++) {
      for (long id : idsOfShard(shard, 3, 150, 10_000)) {
        in.add(upsert(id, rnd));
        catalogue.add(id);
      }
    }
    java.util.Collections.shuffle(in, rnd);
    List<IndexDescriptor> out = run(config(3, 150), in, 2);
    assertEquals(1, out.size(), "each shard publishes once; the manifest comes with the last of them");
    Map<Integer, Set<Long>> live = verify(out.get(0), 3);
    Set<Long> all = new HashSet<>();
    live.values().forEach(all::addAll);
    assertEquals(catalogue, all, "every item of the catalogue in exactly one shard");
    assertEquals(450, out.get(0).getItems());
  }

  @Test
  void aShardEmptiedByDeletesPublishesAnEmptySnapshot() throws Exception {
    Random rnd = new Random(5);
    List<CatalogInput> in = new ArrayList<>();
    for (int shard = 0; shard < 2; shard++) {
      for (long id : idsOfShard(shard, 2, 3, 1)) {
        in.add(upsert(id, rnd));
      }
    }
    List<Long> shard1 = idsOfShard(1, 2, 3, 1);
    shard1.forEach(id -> in.add(delete(id)));
    List<IndexDescriptor> out = run(config(2, 1), in, 1);
    Map<Integer, Set<Long>> last = verify(out.get(out.size() - 1), 2);
    assertEquals(Set.of(), last.get(1), "shard 1's deleted items are gone from the index, not left in its last file");
    assertEquals(new HashSet<>(idsOfShard(0, 2, 3, 1)), last.get(0));
  }

  /** The unsharded index: how catalogue changes become versions. */
  @Test
  void oneBatchThatDeletesMostItemsIsAFullBuildAndChangesThatChangeNothingMakeNoVersion() throws Exception {
    Random rnd = new Random(6);
    List<CatalogInput> in = new ArrayList<>();
    for (long id = 1; id <= 100; id++) {
      in.add(upsert(id, rnd));
    }
    for (long id = 1; id <= 90; id++) {
      in.add(delete(id));
    }
    for (long id = 101; id <= 110; id++) {
      in.add(upsert(id, rnd));
    }
    // then a delete of an item the catalogue never had, and an upsert it already holds: no version
    in.add(delete(999));
    in.add(in.get(in.size() - 2));
    List<IndexDescriptor> out = run(config(1, 100), in, 1);
    assertEquals(2, out.size(), "versions: " + out);
    HnswIndex v2 = SnapshotFormat.read(Path.of(URI.create(out.get(1).getUri())));
    assertEquals(0, v2.deletedCount(), "90 of 110 nodes would be tombstones (max 0.2): built in full");
    assertEquals(20, v2.size());

    emptyStore();   // a new catalogue: a stored snapshot would hold the first build back (a start without state)
    List<IndexDescriptor> versions = run(config(1, 1), List.of(upsert(1, rnd), upsert(2, rnd), delete(999),
        delete(998)), 1);
    assertEquals(2, versions.size(), "deletes of unknown items publish nothing: " + versions);
  }

  @Test
  void theShardCountIsChecked() {
    assertEquals(1, config(1, 10).get(IndexSyncOptions.SHARDS));
    assertEquals(1024, config(1024, 10).get(IndexSyncOptions.SHARDS));
    for (int bad : new int[] {0, -1, 1025}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config(bad, 10));
      assertTrue(e.getMessage().contains("index.shards"), e.getMessage());
    }
  }

  /**
   * The manifest step alone: nothing before every shard has published; each later shard publish
   * is a new version naming the newest file of every shard; a shard version it already has is
   * ignored; versions continue after the newest manifest already in the store.
   */
  @Test
  void theManifestStepWaitsForEveryShardAndContinuesTheStoresVersions() throws Exception {
    Path store = dir.resolve("snapshots");
    Files.createDirectories(store);
    // manifests written before a crash (not in any restored state): the next one must be version 6
    for (long v = 3; v <= 5; v++) {
      ShardManifest.of(v, List.of(shard(store, 0, 1), shard(store, 1, 1))).write(store);
      // written before the crash, long enough ago that their age alone does not keep them
      Files.setLastModifiedTime(store.resolve(SnapshotStore.manifestFileName(v)),
          java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 600_000));
    }
    List<IndexDescriptor> in = List.of(shard(store, 0, 1), shard(store, 0, 2), shard(store, 1, 1), shard(store, 1, 1),
        shard(store, 0, 3));
    List<IndexDescriptor> out = assemble(store, in, 2, 1);
    assertEquals(2, out.size(), "manifests after shard 1's first publish and after shard 0's version 3: " + out);
    assertEquals(6, out.get(0).getVersion());
    assertEquals(List.of(2L, 1L), out.get(0).getShards().stream().map(ShardSnapshot::getVersion).toList());
    assertEquals(7, out.get(1).getVersion());
    assertEquals(List.of(3L, 1L), out.get(1).getShards().stream().map(ShardSnapshot::getVersion).toList());
    assertEquals(out.get(0).getShards().get(1), out.get(1).getShards().get(1), "shard 1's unchanged file named again");
    assertEquals(out.get(1).getSha256(), ShardManifest.sha256(Path.of(URI.create(out.get(1).getUri()))));
    assertEquals(30, out.get(1).getItems());
    assertEquals(new TreeSet<>(List.of(SnapshotStore.manifestFileName(5), SnapshotStore.manifestFileName(6),
        SnapshotStore.manifestFileName(7))), storeFiles(), "keep 1 + 2 shards: manifests 3 and 4 pruned");
  }

  /**
   * A catalogue too small to reach every shard: the shard no item reaches publishes an empty snapshot
   * of its own once rebuild.max-interval-ms has passed since the start (its start signal), and the
   * first manifest comes; its first item later builds it as any shard's.
   */
  @Test
  void aShardNoItemReachesPublishesAnEmptySnapshot() throws Exception {
    int shards = 3;
    IndexSyncConfig cfg = IndexSyncConfig.of(Map.of(
        "kafka.bootstrap-servers", "127.0.0.1:1", "snapshot.dir", dir.resolve("snapshots").toString(),
        "index.dim", Integer.toString(DIM), "index.m", "8", "index.shards", Integer.toString(shards),
        "rebuild.min-changes", "20", "rebuild.max-interval-ms", "500", "snapshots.keep", "3"));
    Random rnd = new Random(5);
    List<CatalogInput> input = new ArrayList<>();
    for (int shard = 0; shard < 2; shard++) {
      idsOfShard(shard, shards, 20, 1).forEach(id -> input.add(upsert(id, rnd)));
    }
    long late = idsOfShard(2, shards, 1, 1).get(0);
    input.add(upsert(late, rnd));   // shard 2's only item, long after its wait
    input.add(input.get(0));        // a repeat (no change), read after shard 2's item has had time to build
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, new Configuration());
    DataStream<CatalogInput> items = env.fromData(input, new AvroTypeInfo<>(CatalogInput.class))
        .map(new org.apache.flink.api.common.functions.RichMapFunction<CatalogInput, CatalogInput>() {
          private int seen;

          @Override
          public CatalogInput map(CatalogInput in) throws Exception {
            if (++seen >= input.size() - 1) {
              Thread.sleep(3_000);   // past the shards' rebuild interval: their timers fire meanwhile
            }
            return in;
          }
        }, new AvroTypeInfo<>(CatalogInput.class));
    List<IndexDescriptor> out = new ArrayList<>();
    try (CloseableIterator<IndexDescriptor> it = IndexSyncJob.descriptors(items, cfg).executeAndCollect("empty-shard")) {
      it.forEachRemaining(out::add);
    }
    assertTrue(out.size() >= 2, "a manifest with shard 2 empty, another once its item came: " + out);
    Map<Integer, Set<Long>> first = verify(out.get(0), shards);
    assertEquals(Set.of(), first.get(2), "shard 2 published empty");
    assertEquals(40, out.get(0).getItems());
    Map<Integer, Set<Long>> last = verify(out.get(out.size() - 1), shards);
    assertEquals(Set.of(late), last.get(2));
    assertEquals(41, out.get(out.size() - 1).getItems());
  }

  /** An index.dim change: no manifest mixes dimensions; the next comes once every shard is at the new one. */
  @Test
  void noManifestMixesItemDimensions() throws Exception {
    Path store = dir.resolve("snapshots");
    Files.createDirectories(store);
    List<IndexDescriptor> in = List.of(shard(store, 0, 1), shard(store, 1, 1),
        IndexDescriptor.newBuilder(shard(store, 0, 2)).setDim(2 * DIM).build(),
        IndexDescriptor.newBuilder(shard(store, 1, 2)).setDim(2 * DIM).build());
    List<IndexDescriptor> out = assemble(store, in, 2, 3);
    assertEquals(List.of(DIM, 2 * DIM), out.stream().map(IndexDescriptor::getDim).toList(), out.toString());
    assertEquals(List.of(2L, 2L), out.get(1).getShards().stream().map(ShardSnapshot::getVersion).toList());
  }

  /**
   * A start without state reads the catalogue again from the topic's start: its first build waits
   * until as many items as the newest stored snapshot holds have been read, instead of
   * publishing the first rebuild.min-changes of them as the newest version. Sharded and not.
   */
  @Test
  void aStartWithoutStateWaitsForTheCatalogueBeforeItsFirstBuild() throws Exception {
    for (int shards : new int[] {1, 2}) {
      Random rnd = new Random(6);
      List<CatalogInput> catalogue = new ArrayList<>();
      for (long id = 1; id <= 200; id++) {
        catalogue.add(upsert(id, rnd));
      }
      List<IndexDescriptor> first = run(config(shards, 1), catalogue, 1);
      IndexSyncConfig cfg = config(shards, 20);
      assertEquals(200, first.get(first.size() - 1).getItems(), "the first run built the whole catalogue: " + first);
      List<IndexDescriptor> again = run(cfg, catalogue, 1);   // no state, the same snapshot store
      assertTrue(!again.isEmpty(), "S=" + shards + ": a version after the start without state");
      assertEquals(200, again.get(0).getItems(), "S=" + shards + ": the first version after a start "
          + "without state holds the catalogue, not its first items: " + again.get(0));
      assertTrue(again.get(0).getVersion() > first.get(first.size() - 1).getVersion(), "versions go on");
      emptyStore();
    }
  }

  /**
   * The same when the topic answers late: the shards' start signals fire before any item is read,
   * and a shard the store has items for must not publish an empty snapshot then (the manifest would
   * replace the full version with an empty one).
   */
  @Test
  void aStartWithoutStateWhoseItemsComeLatePublishesNoEmptyShard() throws Exception {
    int shards = 2;
    Random rnd = new Random(7);
    List<CatalogInput> catalogue = new ArrayList<>();
    for (long id = 1; id <= 200; id++) {
      catalogue.add(upsert(id, rnd));
    }
    assertEquals(200, run(config(shards, 1), catalogue, 1).stream().mapToInt(IndexDescriptor::getItems).max().orElse(0));
    IndexSyncConfig cfg = IndexSyncConfig.of(Map.of(
        "kafka.bootstrap-servers", "127.0.0.1:1", "snapshot.dir", dir.resolve("snapshots").toString(),
        "index.dim", Integer.toString(DIM), "index.m", "8", "index.shards", Integer.toString(shards),
        "rebuild.min-changes", "20", "rebuild.max-interval-ms", "300", "snapshots.keep", "3"));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, new Configuration());
    DataStream<CatalogInput> late = env.fromData(catalogue, new AvroTypeInfo<>(CatalogInput.class))
        .map(new org.apache.flink.api.common.functions.RichMapFunction<CatalogInput, CatalogInput>() {
          private boolean first = true;

          @Override
          public CatalogInput map(CatalogInput in) throws Exception {
            if (first) {
              first = false;
              Thread.sleep(2_000);   // several rebuild intervals before the first item
            }
            return in;
          }
        }, new AvroTypeInfo<>(CatalogInput.class));
    List<IndexDescriptor> again = new ArrayList<>();
    try (CloseableIterator<IndexDescriptor> it = IndexSyncJob.descriptors(late, cfg).executeAndCollect("late-items")) {
      it.forEachRemaining(again::add);
    }
    assertTrue(!again.isEmpty(), "a version once the catalogue was read again");
    assertEquals(200, again.get(0).getItems(), "no empty or partial first version: " + again.get(0));
  }

  /** An empty shard has no rows, so no dimension that matters: one from before an index.dim change holds nothing back. */
  @Test
  void anEmptyShardOfTheOldDimensionJoinsTheNewDimensionsManifests() throws Exception {
    Path store = dir.resolve("snapshots");
    Files.createDirectories(store);
    IndexDescriptor emptyOld = shard(store, 1, 1);
    emptyOld = IndexDescriptor.newBuilder(emptyOld).setItems(0).setShards(List.of(ShardSnapshot.newBuilder(
        emptyOld.getShards().get(0)).setItems(0).build())).build();
    List<IndexDescriptor> in = List.of(shard(store, 0, 1), emptyOld,
        IndexDescriptor.newBuilder(shard(store, 0, 2)).setDim(2 * DIM).build());
    List<IndexDescriptor> out = assemble(store, in, 2, 3);
    assertEquals(List.of(DIM, 2 * DIM), out.stream().map(IndexDescriptor::getDim).toList(), out.toString());
  }

  /** The manifest step alone over {@code in}: the manifests it emits. */
  private static List<IndexDescriptor> assemble(Path store, List<IndexDescriptor> in, int shards, int keep)
      throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, new Configuration());
    List<IndexDescriptor> out = new ArrayList<>();
    try (CloseableIterator<IndexDescriptor> it = env.fromData(in, new AvroTypeInfo<>(IndexDescriptor.class))
        .keyBy(d -> 0, Types.INT)
        .process(new ManifestAssembler(store.toString(), shards, keep), new AvroTypeInfo<>(IndexDescriptor.class))
        .executeAndCollect("manifest-step")) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  private void emptyStore() throws Exception {
    try (Stream<Path> files = Files.list(dir.resolve("snapshots"))) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
  }

  private static IndexDescriptor shard(Path store, int shard, long version) {
    String uri = store.resolve(SnapshotStore.shardFileName(version, shard)).toAbsolutePath().toUri().toString();
    String sha = "%064x".formatted(shard * 1000 + version);
    int items = 10 + 10 * shard;
    return IndexDescriptor.newBuilder().setVersion(version).setUri(uri).setSha256(sha).setItems(items).setDim(DIM)
        .setM(8).setEfConstruction(40).setCreatedAtMillis(1000 + version)
        .setShards(new ArrayList<>(List.of(ShardSnapshot.newBuilder().setShard(shard).setVersion(version).setUri(uri)
            .setSha256(sha).setItems(items).build())))
        .build();
  }
}
