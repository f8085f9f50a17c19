package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index catalogue on real snapshot files: the newest loaded version becomes live (and the fresh
 * set hears of it), a refused version falls back to the live one and is not re-read, an older
 * version is answered on the live one, and nothing loadable means no lease. Loads racing on several
 * threads leave the newest version live, made live in version order.
 */
class IndexCatalogTest {
  private static final int DIM = 16;

  @TempDir
  Path dir;

  private final List<Long> madeLive = new ArrayList<>();

  @Test
  void newestVersionBecomesLiveAndARefusedOneFallsBack() {
    Corpus c = TestData.corpus(300, DIM, 3);
    IndexDescriptor v1 = write(1, c);
    IndexDescriptor v2 = write(2, c);
    IndexDescriptor badSum = write(3, c);
    badSum.setSha256("00".repeat(32));
    try (IndexCatalog catalog = new IndexCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 1000), Runnable::run, live -> madeLive.add(live.version()))) {
      assertNull(catalog.live());
      assertEquals(-1, catalog.newestVersion());
      catalog.prefetch(v1);
      assertEquals(1L, catalog.live().version());
      catalog.prefetch(v2);
      assertEquals(2L, catalog.live().version());
      assertEquals(List.of(1L, 2L), madeLive);

      try (var lease = catalog.lease(badSum)) {
        assertEquals(2L, lease.value().version(), "a refused version is answered on the live one");
      }
      assertTrue(catalog.refusal(3).contains("SHA-256"), catalog.refusal(3));
      try (var again = catalog.lease(badSum)) {
        assertEquals(2L, again.value().version());
      }
      assertEquals(1, catalog.refusedCount(), "a refused version is remembered, not re-read per request");

      try (var late = catalog.lease(v1)) {
        assertEquals(2L, late.value().version(), "an older version let go is answered on the live one");
      }
      assertEquals(2L, catalog.newestVersion());
      assertEquals(List.of(1L, 2L), madeLive, "neither a refused nor an older version becomes live");
    }
  }

  @Test
  void aVersionTooLargeForTheHeapIsRefusedOnceAndTheLiveOneKeepsServing() {
    Corpus c = TestData.corpus(300, DIM, 3);
    IndexDescriptor v1 = write(1, c);
    IndexDescriptor v2 = write(2, c);
    java.util.concurrent.atomic.AtomicInteger loadsOf2 = new java.util.concurrent.atomic.AtomicInteger();
    java.util.function.Function<IndexDescriptor, LoadedIndex> read = d -> {
      if (d.getVersion() == 2) {
        loadsOf2.incrementAndGet();
        throw new OutOfMemoryError("Java heap space");
      }
      dev.nann.graph.HnswIndex index = dev.nann.graph.SnapshotFormat.read(Path.of(d.getUri())).onHeap();
      return new LoadedIndex(d.getVersion(), index, dev.nann.graph.ItemIdLookup.of(index), 0);
    };
    try (IndexCatalog catalog = new IndexCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 1000), Runnable::run,
        live -> madeLive.add(live.version()), read)) {
      catalog.prefetch(v1);
      catalog.prefetch(v2);   // the error reached the loader thread (and killed it) before
      assertTrue(catalog.refusal(2).contains("out of memory"), catalog.refusal(2));
      for (int i = 0; i < 3; i++) {
        try (var lease = catalog.lease(v2)) {
          assertEquals(1L, lease.value().version(), "the live version answers");
        }
      }
      assertEquals(1, loadsOf2.get(), "each request loaded it again on a walker");
      assertEquals(List.of(1L), madeLive);
    }
  }

  @Test
  void whatIsRememberedOfEachVersionDoesNotGrowWithTheirNumber() {
    Corpus c = TestData.corpus(300, DIM, 3);
    try (IndexCatalog catalog = new IndexCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 1000), Runnable::run,
        live -> madeLive.add(live.version()))) {
      for (long v = 1; v <= 12; v++) {
        IndexDescriptor d = write(v, c);
        if (v % 3 == 0) {
          d.setSha256("00".repeat(32));   // refused
        }
        catalog.prefetch(d);
      }
      assertEquals(11L, catalog.live().version());
      // the live one, the one before it, and 12 refused after it went live (descriptor and refusal)
      assertTrue(catalog.versionsRemembered() <= 4, "remembered " + catalog.versionsRemembered()
          + " versions' descriptors and refusals: one a version for the TaskManager's life before");
    }
  }

  @Test
  void nothingLoadableMeansNoLease() {
    IndexDescriptor missing = IndexDescriptor.newBuilder().setVersion(7).setUri("index-7.nann").setSha256("00")
        .setItems(1).setDim(DIM).setCreatedAtMillis(0).build();
    try (IndexCatalog catalog = new IndexCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 1000), Runnable::run, live -> madeLive.add(live.version()))) {
      assertNull(catalog.lease(missing));
      assertNotNull(catalog.refusal(7));
      assertTrue(madeLive.isEmpty());
    }
  }

  @Test
  void withNothingLiveAnUnloadableVersionIsServedFromTheNewestGoodSnapshotInTheStore() throws Exception {
    Corpus c = TestData.corpus(300, DIM, 3);
    write(1, c, dev.nann.graph.SnapshotStore.fileName(1));
    IndexDescriptor v2 = write(2, c, dev.nann.graph.SnapshotStore.fileName(2));
    IndexDescriptor v3 = write(3, c, dev.nann.graph.SnapshotStore.fileName(3));
    // a restored job's newest descriptor (v3) names a file since deleted; v2's file is damaged
    java.nio.file.Files.delete(Path.of(v3.getUri()));
    Path v2file = Path.of(v2.getUri());
    byte[] b = java.nio.file.Files.readAllBytes(v2file);
    b[b.length / 2] ^= 0x5A;
    java.nio.file.Files.write(v2file, b);
    try (IndexCatalog catalog = new IndexCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 1000), Runnable::run,
        live -> madeLive.add(live.version()))) {
      try (var lease = catalog.lease(v3)) {
        assertNotNull(lease, "answered from the store, not NO_INDEX");
        assertEquals(1L, lease.value().version(), "the newest snapshot that loads and verifies");
      }
      assertEquals(1L, catalog.live().version());
      assertEquals(List.of(1L), madeLive);
      assertNotNull(catalog.refusal(3));
      assertNotNull(catalog.refusal(2), "the damaged one was tried and refused");
    }
  }

  /**
   * Requests stamped with different versions load them on several walker threads at once. The swap
   * (newest version, pin, fresh-set rebase) must be one step: the interleaving that broke it is too
   * narrow to force from outside, so many rounds race and each must end with the newest version live.
   */
  @Test
  void racingLoadsLeaveTheNewestVersionLiveAndGoLiveInVersionOrder() throws Exception {
    Corpus c = TestData.corpus(60, DIM, 3);
    int versions = 4;
    List<IndexDescriptor> ds = new ArrayList<>();
    for (long v = 1; v <= versions; v++) {
      ds.add(write(v, c));
    }
    ExecutorService walkers = Executors.newFixedThreadPool(versions);
    try {
      for (int round = 0; round < 150; round++) {
        List<Long> order = Collections.synchronizedList(new ArrayList<>());
        try (IndexCatalog catalog = new IndexCatalog(new DescriptorGuard(dir.toString(), dir.toString(), 1000),
            Runnable::run, live -> order.add(live.version()))) {
          CyclicBarrier start = new CyclicBarrier(versions);
          List<Future<?>> loads = new ArrayList<>();
          for (IndexDescriptor d : ds) {
            loads.add(walkers.submit(() -> {
              start.await(10, TimeUnit.SECONDS);
              try (var lease = catalog.lease(d)) {
                return lease == null ? null : lease.key();
              }
            }));
          }
          for (Future<?> f : loads) {
            f.get(30, TimeUnit.SECONDS);
          }
          assertEquals(versions, catalog.newestVersion(), "round " + round);
          assertEquals((long) versions, catalog.live().version(), "round " + round + ": the newest version is live");
          List<Long> sorted = new ArrayList<>(order);
          Collections.sort(sorted);
          assertEquals(sorted, order, "round " + round + ": versions went live out of order");
          assertEquals((long) versions, order.get(order.size() - 1));
        }
      }
    } finally {
      walkers.shutdownNow();
    }
  }

  private IndexDescriptor write(long version, Corpus c, String name) {
    return TestData.publish(new HnswIndexBuilder().m(16).efConstruction(40).seed(version).version(version)
        .build(c.embeddings(), DIM, c.itemIds()), dir.resolve(name));
  }

  private IndexDescriptor write(long version, Corpus c) {
    return TestData.publish(new HnswIndexBuilder().m(16).efConstruction(40).seed(version).version(version)
        .build(c.embeddings(), DIM, c.itemIds()), dir.resolve("index-" + version + ".nann"));
  }
}
