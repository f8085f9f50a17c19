package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.SnapshotException;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sharded behaviour lookup reads rows from the shard files: one cut short after it was verified
 * refuses its version; a reader stopped by an interrupt (a cancelled task) refuses nothing.
 */
class BehaviourLookupTest {
  @TempDir
  Path dir;

  @Test
  void aShardFileCutShortAfterItWasVerifiedRefusesItsVersionInsteadOfFailingTheTask() throws Exception {
    Corpus c = TestData.corpus(20_000, 16, 5);
    Path file = dir.resolve("index-v000000000001-s0000.nann");
    IndexDescriptor manifest = oneShard(c, file);
    BehaviourLookup lookup = lookup();
    List<Long> seq = List.of(c.itemIds()[19_990], c.itemIds()[19_999], c.itemIds()[0]);
    for (int i = 0; i < 30_000; i++) {   // compiled by now, as on a serving TaskManager
      assertEquals(3, lookup.features(manifest, seq).length());
    }

    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(4096);   // written over in place, or a disk filling up: its pages are gone
    }
    SnapshotException e = assertThrows(SnapshotException.class, () -> lookup.features(manifest, seq));
    assertTrue(e.getMessage().contains("changed on disk after it was verified"), e.getMessage());
    assertTrue(lookup.refusal(manifest).contains("changed on disk"), "refused from now on");
    assertThrows(SnapshotException.class, () -> lookup.features(manifest, seq));
    assertFalse(lookup.refusal(manifest).isEmpty());
  }

  @Test
  void anInterruptedReaderFailsItsOwnLookupOnly() throws Exception {
    Corpus c = TestData.corpus(2_000, 16, 6);
    Path file = dir.resolve("index-v000000000001-s0000.nann");
    IndexDescriptor manifest = oneShard(c, file);
    BehaviourLookup lookup = lookup();
    List<Long> seq = List.of(c.itemIds()[5], c.itemIds()[7]);
    assertEquals(2, lookup.features(manifest, seq).length());
    // an interrupted reader's read closes the file's channel for every reader
    Thread.currentThread().interrupt();
    assertThrows(SnapshotException.class, () -> lookup.features(manifest, seq));
    assertTrue(Thread.interrupted(), "the interrupt is kept for the task that is being stopped");
    assertEquals(2, lookup.features(manifest, seq).length(), "the next reader reopens the file");
    assertEquals(null, lookup.refusal(manifest), "nothing refused");
  }

  /**
   * Shards publish in bursts, each publish a manifest: loading the next ones ahead must not evict the
   * version requests are using (it would be reloaded and its files re-verified on every request).
   */
  @Test
  void aBurstOfNewerVersionsKeepsTheOneInUse() throws Exception {
    Corpus c = TestData.corpus(500, 16, 7);
    IndexDescriptor v1 = oneShard(c, dir.resolve("index-v000000000001-s0000.nann"));
    BehaviourLookup lookup = lookup();
    List<Long> seq = List.of(c.itemIds()[3]);
    assertEquals(1, lookup.features(v1, seq).length());
    for (long v = 2; v <= 4; v++) {   // manifests naming the same shard file, loaded ahead of their activation
      lookup.prefetch(IndexDescriptor.newBuilder(v1).setVersion(v).build());
      assertEquals(1, lookup.features(v1, seq).length(), "v1 is still current");
    }
    assertEquals(java.util.Set.of(1L, 3L, 4L), lookup.keptVersions(), "the least recently used (2) went, not v1");
  }

  /** A shard file of another dimension than its manifest's is refused, not read across item boundaries. */
  @Test
  void aShardOfAnotherDimensionThanItsManifestIsRefused() throws Exception {
    Corpus c = TestData.corpus(500, 16, 8);
    IndexDescriptor manifest = oneShard(c, dir.resolve("index-v000000000001-s0000.nann"));
    IndexDescriptor narrower = IndexDescriptor.newBuilder(manifest).setVersion(2).setDim(8).build();
    BehaviourLookup lookup = lookup();
    SnapshotException e = assertThrows(SnapshotException.class,
        () -> lookup.features(narrower, List.of(c.itemIds()[1], c.itemIds()[2])));
    assertTrue(e.getMessage().contains("holds items of dim 16, the manifest says 8"), e.getMessage());
    assertEquals(2, lookup.features(manifest, List.of(c.itemIds()[1], c.itemIds()[2])).length());
  }

  /** An empty shard file has no rows: whatever its dimension, it is no reason to refuse a version. */
  @Test
  void anEmptyShardOfAnotherDimensionIsFine() throws Exception {
    Corpus c = TestData.corpus(500, 16, 9);
    IndexDescriptor full = oneShard(c, dir.resolve("index-v000000000001-s0000.nann"));
    Path emptyFile = dir.resolve("index-v000000000000-s0001.nann");
    IndexDescriptor empty = TestData.publish(new HnswIndexBuilder().m(16).efConstruction(40).seed(0).version(0)
        .build(new float[0], 8, new long[0]), emptyFile);
    IndexDescriptor manifest = IndexDescriptor.newBuilder(full).setShards(List.of(full.getShards().get(0),
        ShardSnapshot.newBuilder().setShard(1).setVersion(0).setUri(emptyFile.toString()).setSha256(empty.getSha256())
            .setItems(0).build())).build();
    List<Long> inShard0 = new java.util.ArrayList<>();
    for (long id : c.itemIds()) {
      if (dev.nann.shard.ShardAssignment.shardOf(id, 2) == 0 && inShard0.size() < 3) {
        inShard0.add(id);
      }
    }
    assertEquals(3, lookup().features(manifest, inShard0).length());
  }

  /** A one-shard manifest over {@code c}, its shard written to {@code file}. */
  private static IndexDescriptor oneShard(Corpus c, Path file) {
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(c.embeddings(), c.dim(), c.itemIds());
    IndexDescriptor one = TestData.publish(built, file);
    ShardSnapshot shard = ShardSnapshot.newBuilder().setShard(0).setVersion(1).setUri(file.toString())
        .setSha256(one.getSha256()).setItems(one.getItems()).build();
    return IndexDescriptor.newBuilder(one).setShards(List.of(shard)).build();
  }

  /** A lookup over this test's directory that loads on the calling thread. */
  private BehaviourLookup lookup() {
    return new BehaviourLookup(new DescriptorGuard(dir.toString(), dir.toString(), 1000), Runnable::run);
  }
}
