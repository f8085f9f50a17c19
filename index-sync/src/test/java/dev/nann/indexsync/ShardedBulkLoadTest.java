package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.engine.DescriptorGuard;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import dev.nann.shard.ShardAssignment;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedBulkLoadTest {
  @TempDir
  Path store;

  @Test
  void everyItemLandsOnceInItsShardAndServingAcceptsTheManifest() throws Exception {
    int n = 3000;
    int dim = 8;
    long[] ids = new long[n];
    float[] emb = new float[n * dim];
    Random r = new Random(3);
    for (int i = 0; i < n; i++) {
      ids[i] = 10_000L + 7L * i;
      for (int j = 0; j < dim; j++) {
        emb[i * dim + j] = (float) r.nextGaussian();
      }
    }
    ShardedBulkLoad.Result res = ShardedBulkLoad.publish(store, 4, ids, emb, dim, 3, 16, 40, 1,
        new PrintStream(OutputStream.nullOutputStream()));
    IndexDescriptor d = res.descriptor();
    assertEquals(4, d.getVersion());
    assertEquals(3, d.getShards().size());
    assertEquals(n, d.getItems());
    assertEquals(ShardManifest.sha256(Path.of(URI.create(d.getUri()))), d.getSha256());
    Set<Long> seen = new HashSet<>();
    for (ShardSnapshot s : d.getShards()) {
      Path file = Path.of(URI.create(s.getUri()));
      assertEquals(SnapshotStore.shardFileName(4, s.getShard()), file.getFileName().toString());
      HnswIndex shard = SnapshotFormat.read(file);
      assertEquals(s.getSha256(), shard.sha256());
      assertEquals(s.getItems(), shard.size());
      for (int node = 0; node < shard.size(); node++) {
        long id = shard.itemId(node);
        assertEquals(s.getShard(), ShardAssignment.shardOf(id, 3), "item " + id + " in its own shard");
        assertTrue(seen.add(id), "item " + id + " in one shard only");
      }
    }
    assertEquals(n, seen.size());

    // what serving's guard says of it: accepted with S = 3, refused with another S or a wrong file
    Path models = Files.createDirectories(store.resolve("models"));
    assertNull(new DescriptorGuard(store.toString(), models.toString(), 10, 3).refuseIndex(d, -1));
    assertTrue(new DescriptorGuard(store.toString(), models.toString(), 10, 1).refuseIndex(d, -1)
        .contains("index.shards"));
    assertTrue(new DescriptorGuard(store.toString(), models.toString(), 10, 4).refuseIndex(d, -1)
        .contains("has 3 shards, this job serves 4 shards"));
    IndexDescriptor swapped = IndexDescriptor.newBuilder(d).build();
    swapped.getShards().set(1, ShardSnapshot.newBuilder(swapped.getShards().get(1)).setVersion(5).build());
    assertTrue(new DescriptorGuard(store.toString(), models.toString(), 10, 3).refuseIndex(swapped, -1)
        .contains("its manifest"));
  }
}
