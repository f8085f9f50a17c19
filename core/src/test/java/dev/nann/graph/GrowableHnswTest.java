package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.UserState;
import dev.nann.search.BeamParams;
import dev.nann.search.SearchResult;
import dev.nann.search.Searcher;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Inserts, moves and deletes on a live graph freeze into an index that searches correctly. */
class GrowableHnswTest {
  @Test
  void insertsUpdatesAndDeletesFreezeIntoASearchableIndex() {
    int dim = 16;
    Corpus c = TestData.corpus(2000, dim, 9);
    GrowableHnsw g = GrowableHnsw.build(c.embeddings(), dim, c.itemIds(), 16, 40, 1);
    SplittableRandom rnd = new SplittableRandom(4);
    float[] moved = new float[dim];
    for (int i = 0; i < 100; i++) {                 // new items near existing ones
      float[] v = new float[dim];
      int near = rnd.nextInt(2000);
      for (int j = 0; j < dim; j++) {
        v[j] = c.embeddings()[near * dim + j] + (float) (0.05 * rnd.nextGaussian());
      }
      g.upsert(1_000_000L + i, v);
    }
    for (int j = 0; j < dim; j++) {
      moved[j] = (float) rnd.nextGaussian();
    }
    long movedId = c.itemIds()[5];
    g.upsert(movedId, moved);                        // an updated embedding
    for (int i = 10; i < 20; i++) {
      g.delete(c.itemIds()[i]);
    }
    assertEquals(2000 + 100 - 10, g.liveItems());
    HnswIndex index = g.freeze(2);
    assertEquals(2101, index.size());
    assertEquals(11, index.deletedCount(), "10 deletes + the moved item's old node");
    ItemIdLookup ids = ItemIdLookup.of(index);
    assertArrayEquals(moved, index.embeddings().row(ids.nodeOf(movedId)));
    assertEquals(-1, ids.nodeOf(c.itemIds()[12]));
    assertTrue(ids.nodeOf(1_000_050L) >= 0);

    try (OnnxScorer scorer = OnnxScorer.open(TestData.model("attention", dim), 1)) {
      Searcher s = new Searcher(index, scorer);
      BeamParams wide = new BeamParams(new int[] {3000, 3000, 3000}, new int[] {20, 20, 20});
      for (int u = 0; u < 3; u++) {
        try (UserState user = scorer.user(c.features(c.users().get(u)))) {
          SearchResult exact = s.bruteForce(user, 30);
          SearchResult beam = s.beam(user, 30, wide);
          assertArrayEquals(exact.nodes(), beam.nodes(), "inserted nodes are reachable through the graph");
          for (int node : beam.nodes()) {
            assertFalse(index.isDeleted(node));
          }
        }
      }
    }
  }

  @Test
  void smallMovesKeepTheirNodeAndStayFindable() {
    int dim = 16;
    Corpus c = TestData.corpus(2000, dim, 9);
    GrowableHnsw g = GrowableHnsw.build(c.embeddings(), dim, c.itemIds(), 16, 40, 1).moveInPlace(0.5);
    SplittableRandom rnd = new SplittableRandom(7);
    float[][] now = new float[2000][];
    for (int i = 0; i < 2000; i++) {                 // every item nudged a little, three times over
      now[i] = java.util.Arrays.copyOfRange(c.embeddings(), i * dim, (i + 1) * dim);
    }
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 2000; i++) {
        float[] v = now[i].clone();
        for (int j = 0; j < dim; j++) {
          v[j] += (float) (0.002 * rnd.nextGaussian());
        }
        now[i] = v;
        g.upsert(c.itemIds()[i], v);
      }
    }
    assertTrue(g.movedInPlace() > 5000, "most small moves keep their node: " + g.movedInPlace());
    float[] far = new float[dim];
    java.util.Arrays.fill(far, 5f);
    g.upsert(c.itemIds()[0], far);                   // a large move: tombstone + new node
    now[0] = far;
    HnswIndex index = g.freeze(3);
    assertEquals(2000 + 6000 - g.movedInPlace() + 1, index.size());
    ItemIdLookup ids = ItemIdLookup.of(index);
    for (int i = 0; i < 2000; i++) {
      assertArrayEquals(now[i], index.embeddings().row(ids.nodeOf(c.itemIds()[i])), "the snapshot holds the newest vector");
    }
    try (OnnxScorer scorer = OnnxScorer.open(TestData.model("attention", dim), 1)) {
      Searcher s = new Searcher(index, scorer);
      BeamParams wide = new BeamParams(new int[] {3000, 3000, 3000}, new int[] {20, 20, 20});
      for (int u = 0; u < 3; u++) {
        try (UserState user = scorer.user(c.features(c.users().get(u)))) {
          assertArrayEquals(s.bruteForce(user, 30).nodes(), s.beam(user, 30, wide).nodes(),
              "moved nodes are still reachable through the graph");
        }
      }
    }
    assertThrows(IllegalArgumentException.class, () -> g.moveInPlace(1.5));
  }

  @Test
  void anInterruptedBuildStopsInsteadOfRunningToItsEnd() throws Exception {
    int n = 200_000;
    int dim = 16;
    float[] rows = new float[n * dim];
    java.util.Random rnd = new java.util.Random(4);
    for (int i = 0; i < rows.length; i++) {
      rows[i] = (float) rnd.nextGaussian();
    }
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i;
    }
    java.util.concurrent.atomic.AtomicReference<Throwable> ended = new java.util.concurrent.atomic.AtomicReference<>();
    Thread build = new Thread(() -> {
      try {
        GrowableHnsw.build(rows, dim, ids, 16, 200, 1);
      } catch (Throwable t) {
        ended.set(t);
      }
    });
    build.start();
    Thread.sleep(500);   // well into a build of minutes
    build.interrupt();
    build.join(10_000);
    assertFalse(build.isAlive(), "the build ran on after its thread was interrupted");
    assertTrue(ended.get() instanceof IllegalStateException, String.valueOf(ended.get()));
  }
}
