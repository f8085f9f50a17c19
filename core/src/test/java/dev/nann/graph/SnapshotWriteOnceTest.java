package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot file name carries a version, and a version names one file only: a write never
 * replaces another file of that name (two writers of one version: one wins, the other fails
 * clearly), rewriting the same bytes is fine, and no temporary file is left behind.
 */
class SnapshotWriteOnceTest {
  static HnswIndex first;
  static HnswIndex second;

  @TempDir
  Path tmp;

  @BeforeAll
  static void build() {
    Corpus c = TestData.corpus(1500, 16, 5);
    // one version, two different graphs: what two writers of version 4 would each build
    first = new HnswIndexBuilder().m(8).efConstruction(32).seed(1).version(4)
        .build(c.embeddings(), c.dim(), c.itemIds());
    second = new HnswIndexBuilder().m(8).efConstruction(32).seed(2).version(4)
        .build(c.embeddings(), c.dim(), c.itemIds());
  }

  @Test
  void aVersionsFileIsNeverReplacedByOtherBytes() throws Exception {
    Path file = tmp.resolve("store/" + SnapshotStore.fileName(4));
    String sha = SnapshotFormat.write(first, file).sha256();
    assertEquals(sha, SnapshotFormat.write(first, file).sha256(), "the same bytes again: fine");
    SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFormat.write(second, file));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("already exists with other contents")
        && e.getMessage().contains("not replacing it"), e.getMessage());
    assertEquals(sha, SnapshotFormat.read(file).sha256(), "the first file is still the version's file");
    try (Stream<Path> files = Files.list(file.getParent())) {
      assertEquals(List.of(file), files.toList(), "no temporary file left");
    }
  }

  @Test
  void ofTwoConcurrentWritersOfOneVersionExactlyOneWins() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 5; round++) {
        Path file = tmp.resolve("round-" + round + ".nann");
        CountDownLatch start = new CountDownLatch(1);
        List<Future<String>> writers = new ArrayList<>();
        for (HnswIndex index : List.of(first, second)) {
          writers.add(pool.submit(() -> {
            start.await();
            return SnapshotFormat.write(index, file).sha256();
          }));
        }
        start.countDown();
        List<String> won = new ArrayList<>();
        int refused = 0;
        for (Future<String> w : writers) {
          try {
            won.add(w.get());
          } catch (java.util.concurrent.ExecutionException e) {
            assertTrue(e.getCause() instanceof SnapshotException, String.valueOf(e.getCause()));
            refused++;
          }
        }
        assertEquals(1, won.size(), "round " + round + ": one writer publishes the version");
        assertEquals(1, refused, "round " + round + ": the other is refused");
        assertEquals(won.get(0), SnapshotFormat.read(file).sha256(), "the file is the winner's");
      }
    } finally {
      pool.shutdownNow();
    }
    try (Stream<Path> files = Files.list(tmp)) {
      assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary file left");
    }
  }
}
