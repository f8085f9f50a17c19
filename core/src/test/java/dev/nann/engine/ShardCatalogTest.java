package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A shard snapshot that fails to load is refused for a while, not for the TaskManager's life: a
 * quiet shard serves one file manifest after manifest, so a passing read error must heal; and while
 * refused it is not read again on every request.
 */
class ShardCatalogTest {
  @TempDir
  Path dir;

  @Test
  void aRefusedShardVersionIsTriedAgainAfterAPauseAndThenServed() throws Exception {
    Corpus c = TestData.corpus(300, 8, 3);
    Path file = dir.resolve("index-v000000000001-s0000.nann");
    IndexDescriptor written = TestData.publish(new HnswIndexBuilder().m(8).efConstruction(20).seed(1).version(1)
        .build(c.embeddings(), c.dim(), c.itemIds()), file);
    ShardSnapshot shard = ShardSnapshot.newBuilder().setShard(0).setVersion(1).setUri(file.toUri().toString())
        .setSha256(written.getSha256()).setItems(written.getItems()).build();
    IndexDescriptor manifest = IndexDescriptor.newBuilder().setVersion(1).setUri(dir.resolve("m").toString())
        .setSha256("00".repeat(32)).setItems(c.size()).setDim(c.dim()).setCreatedAtMillis(1)
        .setShards(List.of(shard)).build();
    Path away = dir.resolve("elsewhere");
    Files.move(file, away);   // as a passing read error would: the load fails
    Duration pause = Duration.ofSeconds(1);
    try (ShardCatalog catalog = new ShardCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 100, 1),
        Runnable::run, pause)) {
      assertNull(catalog.lease(manifest, 0), "the file is gone: no lease");
      assertEquals(1, catalog.refusedCount());
      Thread.sleep(pause.toMillis() + 100);
      // the pause is over and many requests come at once: one of them tries again (and fails), the pause
      // doubles once, not once per request
      java.util.concurrent.ExecutorService requests = java.util.concurrent.Executors.newFixedThreadPool(6);
      try {
        List<java.util.concurrent.Future<?>> all = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
          all.add(requests.submit(() -> assertNull(catalog.lease(manifest, 0))));
        }
        for (var f : all) {
          f.get();
        }
      } finally {
        requests.shutdown();
      }
      long t0 = System.nanoTime();
      Files.move(away, file);
      var early = catalog.lease(manifest, 0);
      if (System.nanoTime() - t0 < 2 * pause.toNanos()) {   // else this machine stalled past the pause
        assertNull(early, "refused within the pause, though the file is back: not read again per request");
      } else if (early != null) {
        early.close();
      }
      Thread.sleep(2 * pause.toMillis() + 200);
      try (var lease = catalog.lease(manifest, 0)) {
        assertNotNull(lease, "after the doubled pause the version is tried again and served");
        assertEquals(c.size(), lease.value().index().size());
      }
      assertEquals(1, catalog.refusedCount(), "one refusal counted, not one per try");
      assertEquals(java.util.Map.of(0, 1L), catalog.servedVersions());
    }
  }

  @Test
  void whatIsRememberedOfEachShardVersionDoesNotGrowWithTheirNumber() throws Exception {
    Corpus c = TestData.corpus(300, 8, 3);
    try (ShardCatalog catalog = new ShardCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 100, 1),
        Runnable::run)) {
      for (long v = 1; v <= 20; v++) {
        Path file = dir.resolve(String.format("index-v%012d-s0000.nann", v));
        IndexDescriptor written = TestData.publish(new HnswIndexBuilder().m(8).efConstruction(20).seed(v).version(v)
            .build(c.embeddings(), c.dim(), c.itemIds()), file);
        ShardSnapshot shard = ShardSnapshot.newBuilder().setShard(0).setVersion(v).setUri(file.toUri().toString())
            .setSha256(written.getSha256()).setItems(written.getItems()).build();
        IndexDescriptor manifest = IndexDescriptor.newBuilder().setVersion(v).setUri(dir.resolve("m").toString())
            .setSha256("00".repeat(32)).setItems(c.size()).setDim(c.dim()).setCreatedAtMillis(1)
            .setShards(List.of(shard)).build();
        try (var lease = catalog.lease(manifest, 0)) {
          assertEquals(v, lease.value().version());
        }
      }
      assertEquals(20L, catalog.servedVersions().get(0));
      assertTrue(catalog.entriesRemembered() <= ShardCatalog.ENTRIES_KEPT, "remembered " + catalog.entriesRemembered()
          + " manifest entries: the newest few, not one a version for good");
    }
  }
}
