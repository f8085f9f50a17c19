package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.engine.DescriptorGuard;
import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serving's guard against hostile manifest descriptors of a sharded index, on a real store (two
 * versions published as index-sync publishes them): a descriptor must agree with the manifest file
 * of its version (name, SHA-256, shard list) and the manifest with every shard file (version and
 * SHA-256), so a real shard list under a far higher version, an older shard file slipped into a
 * version, or a made-up checksum cannot become current.
 */
class ShardedDescriptorGuardTest {
  private static final int SHARDS = 2;
  private static final int DIM = 8;

  @TempDir
  Path store;

  private DescriptorGuard guard;
  private IndexDescriptor v1;
  private IndexDescriptor v2;

  @BeforeEach
  void publishTwoVersions() throws Exception {
    guard = new DescriptorGuard(store.toString(), Files.createDirectories(store.resolve("models")).toString(), 10,
        SHARDS);
    v1 = publish(1, 1);
    v2 = publish(2, 2);
  }

  private IndexDescriptor publish(long version, long seed) {
    int n = 400;
    long[] ids = new long[n];
    float[] emb = new float[n * DIM];
    Random r = new Random(seed);
    for (int i = 0; i < n; i++) {
      ids[i] = i;
      for (int j = 0; j < DIM; j++) {
        emb[i * DIM + j] = (float) r.nextGaussian();
      }
    }
    return ShardedBulkLoad.publish(store, version, ids, emb, DIM, SHARDS, 8, 32, 1,
        new PrintStream(OutputStream.nullOutputStream())).descriptor();
  }

  private static void assertRefused(String why, String expected) {
    assertTrue(why != null && why.contains(expected), why);
  }

  @Test
  void realManifestsAreAccepted() {
    assertNull(guard.refuseIndex(v1, -1));
    assertNull(guard.refuseIndex(v2, 1));
  }

  @Test
  void aRealShardListUnderAFarHigherVersionIsRefused() {
    long far = v2.getVersion() + 1_000_000;
    // the real manifest's uri: not the manifest of that version
    assertRefused(guard.refuseIndex(IndexDescriptor.newBuilder(v2).setVersion(far).build(), -1),
        "the manifest of that version is " + SnapshotStore.manifestFileName(far));
    // the name of that version's manifest, which does not exist
    String missing = store.resolve(SnapshotStore.manifestFileName(far)).toUri().toString();
    assertRefused(guard.refuseIndex(IndexDescriptor.newBuilder(v2).setVersion(far).setUri(missing).build(), -1),
        "cannot read manifest");
  }

  @Test
  void anOlderShardFileStillInTheStoreCannotBeSlippedIntoAVersion() {
    IndexDescriptor rollback = IndexDescriptor.newBuilder(v2).setShards(new ArrayList<>(v2.getShards())).build();
    rollback.getShards().set(0, v1.getShards().get(0));   // a real, verified file of shard 0, one version older
    assertRefused(guard.refuseIndex(rollback, 1), "its manifest " + Path.of(URI.create(v2.getUri())) + " lists "
        + SnapshotStore.shardFileName(2, 0));
  }

  @Test
  void madeUpChecksumsAreRefused() {
    String madeUp = "ab".repeat(32);
    assertRefused(guard.refuseIndex(IndexDescriptor.newBuilder(v2).setSha256(madeUp).build(), 1),
        "the descriptor of index version 2 says " + madeUp);
    IndexDescriptor shardSum = IndexDescriptor.newBuilder(v2).setShards(new ArrayList<>(v2.getShards())).build();
    shardSum.getShards().set(1, ShardSnapshot.newBuilder(v2.getShards().get(1)).setSha256(madeUp).build());
    assertRefused(guard.refuseIndex(shardSum, 1), "its manifest");
    assertRefused(guard.refuseIndex(IndexDescriptor.newBuilder(v2).setDim(DIM * 2).build(), 1),
        "its descriptor says version 2, " + v2.getItems() + " items of dim " + DIM * 2);
  }

  /** A manifest that itself lists a shard file's version or checksum wrongly (a faulty writer) is refused too. */
  @Test
  void aManifestMustAgreeWithTheShardFilesItNames() throws Exception {
    ShardSnapshot real = v2.getShards().get(1);
    IndexDescriptor wrongSum = manifest(3, 1, ShardSnapshot.newBuilder(real).setSha256("cd".repeat(32)).build());
    assertRefused(guard.refuseIndex(wrongSum, 2), "shard snapshot " + Path.of(URI.create(real.getUri()))
        + " has SHA-256 " + real.getSha256());

    // shard 0's version-1 file copied under the name of a version 7 it never built
    ShardSnapshot old = v1.getShards().get(0);
    Path renamed = store.resolve(SnapshotStore.shardFileName(7, 0));
    Files.copy(Path.of(URI.create(old.getUri())), renamed);
    IndexDescriptor wrongVersion = manifest(4, 0, ShardSnapshot.newBuilder(old).setVersion(7)
        .setUri(renamed.toUri().toString()).build());
    assertRefused(guard.refuseIndex(wrongVersion, 3), "holds version 1, the manifest of index version 4 says 7");
  }

  /** v2's shards with shard {@code shard} replaced, published as a real manifest of {@code version}. */
  private IndexDescriptor manifest(long version, int shard, ShardSnapshot replacement) {
    List<IndexDescriptor> perShard = new ArrayList<>();
    for (ShardSnapshot s : v2.getShards()) {
      ShardSnapshot one = s.getShard() == shard ? replacement : s;
      perShard.add(IndexDescriptor.newBuilder(v2).setVersion(one.getVersion()).setUri(one.getUri())
          .setSha256(one.getSha256()).setItems(one.getItems()).setShards(new ArrayList<>(List.of(one))).build());
    }
    return ShardManifest.of(version, perShard).publish(store);
  }
}
