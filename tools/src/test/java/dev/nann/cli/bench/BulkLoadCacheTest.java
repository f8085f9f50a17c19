package dev.nann.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.engine.DescriptorGuard;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.SnapshotFormat;
import dev.nann.indexsync.ShardedBulkLoad;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BulkLoadCacheTest {
  @TempDir
  Path dir;

  @Test
  void aSecondLoadLinksTheFirstBuildIntoAFreshStoreAndServingAcceptsIt() throws Exception {
    int n = 2000;
    int dim = 8;
    long[] ids = new long[n];
    float[] emb = new float[n * dim];
    Random r = new Random(5);
    for (int i = 0; i < n; i++) {
      ids[i] = 3L * i + 1;
      for (int j = 0; j < dim; j++) {
        emb[i * dim + j] = (float) r.nextGaussian();
      }
    }
    AtomicInteger builds = new AtomicInteger();
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    Path first = dir.resolve("cluster-1/snapshots");
    BulkLoadCache cache = new BulkLoadCache(dir.resolve("cache"), "corpus-s2-m16-efc40");
    ShardedBulkLoad.Result built = cache.load(first, () -> {
      builds.incrementAndGet();
      return ShardedBulkLoad.publish(first, 1, ids, emb, dim, 2, 16, 40, 1, quiet);
    }, quiet);

    // the cluster's home is wiped between runs: the second store starts empty
    Path second = dir.resolve("cluster-2/snapshots");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    ShardedBulkLoad.Result reused = new BulkLoadCache(dir.resolve("cache"), "corpus-s2-m16-efc40").load(second, () -> {
      builds.incrementAndGet();
      throw new AssertionError("built again");
    }, new PrintStream(log, true));
    assertEquals(1, builds.get());
    assertTrue(log.toString().contains("reusing the build"), log.toString());
    assertEquals(built.items()[0], reused.items()[0]);
    assertEquals(built.buildSeconds()[1], reused.buildSeconds()[1]);

    IndexDescriptor d = reused.descriptor();
    assertEquals(built.descriptor().getSha256(), d.getSha256());
    assertEquals(second.toAbsolutePath().resolve("index-v000000000001.manifest"), Path.of(URI.create(d.getUri())));
    int items = 0;
    for (ShardSnapshot s : d.getShards()) {
      Path file = Path.of(URI.create(s.getUri()));
      assertEquals(second.toAbsolutePath(), file.getParent());
      HnswIndex shard = SnapshotFormat.read(file);
      assertEquals(s.getSha256(), shard.sha256());
      items += shard.size();
    }
    assertEquals(n, items);
    Path models = Files.createDirectories(dir.resolve("models"));
    assertNull(new DescriptorGuard(second.toString(), models.toString(), 10, 2).refuseIndex(d, -1));
    // a build under another key is not this one
    Path third = dir.resolve("cluster-3/snapshots");
    new BulkLoadCache(dir.resolve("cache"), "corpus-s2-m16-efc100").load(third, () -> {
      builds.incrementAndGet();
      return ShardedBulkLoad.publish(third, 1, ids, emb, dim, 2, 16, 100, 1, quiet);
    }, quiet);
    assertEquals(2, builds.get());
  }

  @Test
  void exactAnswersAreComputedOnceAndReadBackInOrder() {
    BulkLoadCache cache = new BulkLoadCache(dir, "key");
    AtomicInteger computed = new AtomicInteger();
    Map<Integer, List<Long>> exact = Map.of(0, List.of(9L, 4L, 7L), 1, List.of(2L));
    assertEquals(exact, cache.exact("q2-k3", () -> {
      computed.incrementAndGet();
      return exact;
    }));
    assertTrue(cache.hasExact("q2-k3"));
    assertEquals(exact, cache.exact("q2-k3", () -> {
      throw new AssertionError("computed again");
    }));
    assertEquals(1, computed.get());
    assertTrue(!cache.hasExact("q2-k4"));
  }

  @Test
  void exactAnswersAreKeyedByTheModelsFiles() throws Exception {
    Path a = Files.createDirectories(dir.resolve("a"));
    Path b = Files.createDirectories(dir.resolve("b"));
    Files.writeString(a.resolve("model.json"), "{\"v\":1}");
    Files.writeString(b.resolve("model.json"), "{\"v\":1}");
    assertEquals(ShardsBench.modelDigest(a), ShardsBench.modelDigest(b));
    Files.writeString(b.resolve("score.onnx"), "other weights");
    assertTrue(!ShardsBench.modelDigest(a).equals(ShardsBench.modelDigest(b)));
  }

  @Test
  void noCacheBuildsEveryTime() {
    BulkLoadCache none = new BulkLoadCache(null, "key");
    AtomicInteger computed = new AtomicInteger();
    none.exact("q", () -> Map.of(computed.incrementAndGet(), List.of()));
    none.exact("q", () -> Map.of(computed.incrementAndGet(), List.of()));
    assertEquals(2, computed.get());
    assertTrue(!none.hasExact("q"));
  }
}
