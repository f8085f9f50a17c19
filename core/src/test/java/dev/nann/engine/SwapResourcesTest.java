package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A serving engine runs for months through thousands of index and model swaps: each swap must let go
 * of what the version before it held. Thirty swaps of both, with real models and snapshots: the
 * engine holds no more than a few versions of each loaded, and the threads, open files and direct
 * buffers stay where the first few swaps left them.
 */
class SwapResourcesTest {
  @TempDir
  Path dir;

  @Test
  void swapsLetOldVersionsGoAndLeaveNoThreadsFilesOrBuffers() throws Exception {
    Corpus c = TestData.corpus(1000, 16, 5);
    String[] archs = {"dnn", "attention", "two-sided"};
    try (RetrievalEngine engine = new RetrievalEngine(TestData.engineConfig(TestData.model("attention", 16), 2, dir))) {
      Resources settled = null;
      for (int round = 1; round <= 30; round++) {
        IndexDescriptor index = snapshot(round, c);
        ModelDescriptor model = TestData.modelCopy(archs[round % 3], 16, dir, "m-" + round, null);
        engine.prefetch(model).get(60, TimeUnit.SECONDS);
        for (int i = 0; i < 8; i++) {
          RetrievalResponse r = ask(engine, index);
          assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
          assertEquals("m-" + round, r.getModelVersion());
          assertEquals(round, r.getIndexVersion());
        }
        if (round >= 3) {   // as index-sync's retention deletes versions no longer served
          Files.delete(dir.resolve("index-" + (round - 2) + ".snap"));
        }
        if (round == 5) {
          settled = Resources.now();
        }
        assertTrue(engine.loadedModels() <= 3, "models held after swap " + round + ": " + engine.loadedModels());
        assertTrue(engine.loadedIndexes() <= 3, "index versions held after swap " + round + ": " + engine.loadedIndexes());
      }
      // a leak grows with the 25 swaps since: one thread, file or scorer batch each would show as 25;
      // a pool thread started late or a buffer not yet cleaned is the noise the margins allow
      Resources after = Resources.now();
      assertTrue(after.threads() <= settled.threads() + 3, "threads: " + settled + " -> " + after);
      assertTrue(after.openFiles() <= settled.openFiles() + 5, "open files: " + settled + " -> " + after);
      assertTrue(after.directBytes() <= settled.directBytes() + (4 << 20), "direct buffers: " + settled + " -> " + after);
    }
  }

  /** What a leaked session, scorer batch, mapping or thread would grow. */
  record Resources(int threads, long openFiles, long directBytes) {
    static Resources now() throws Exception {
      for (int i = 0; i < 3; i++) {
        System.gc();   // direct buffers are freed when their owners are collected
        Thread.sleep(100);
      }
      long direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
          .filter(b -> b.getName().equals("direct") || b.getName().equals("mapped"))
          .mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
      try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
        return new Resources(Thread.activeCount(), fds.count(), direct);
      }
    }
  }

  private static RetrievalResponse ask(RetrievalEngine engine, IndexDescriptor index) throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(20).setMode("nann")
        .setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L)).setIndex(index)
        .build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }

  private IndexDescriptor snapshot(long version, Corpus c) {
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(version)
        .build(c.embeddings(), c.dim(), c.itemIds());
    return TestData.publish(built, dir.resolve("index-" + version + ".snap"));
  }
}
