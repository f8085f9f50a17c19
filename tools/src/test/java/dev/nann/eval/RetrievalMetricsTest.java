package dev.nann.eval;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.corpus.MovieLensCorpus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RetrievalMetricsTest {
  @Test
  void handMadeCase() {
    RetrievalMetrics m = new RetrievalMetrics();
    // brute top-4 {1,2,3,4}; retrieved {1,2,5,6}; truth {1,5,9,10}
    m.add(new long[] {1, 2, 5, 6}, new long[] {1, 2, 3, 4}, new long[] {1, 5, 9, 10});
    assertEquals(0.25, m.recallAll(), 1e-12);          // |B ∩ G| / |G| = {1}
    assertEquals(0.5, m.recallRetrieval(), 1e-12);     // |R ∩ G| / |G| = {1,5}
    assertEquals(-1.0, m.recallDelta(), 1e-12);        // (0.25 - 0.5) / 0.25
    assertEquals(0.5, m.coverage(), 1e-12);            // |R ∩ B| / |B| = {1,2}
    // second user: perfect retrieval
    m.add(new long[] {7, 8}, new long[] {8, 7}, new long[] {7});
    assertEquals(2, m.users());
    assertEquals((0.25 + 1.0) / 2, m.recallAll(), 1e-12);
    assertEquals((0.5 + 1.0) / 2, m.recallRetrieval(), 1e-12);
    assertEquals(0.75, m.coverage(), 1e-12);
    assertEquals((0.625 - 0.75) / 0.625, m.recallDelta(), 1e-12);
  }

  @Test
  void emptyTruthCountsZeroRecallButCoverageStillCounts() {
    RetrievalMetrics m = new RetrievalMetrics();
    m.add(new long[] {1}, new long[] {1}, new long[0]);
    assertEquals(0, m.recallAll());
    assertEquals(0, m.recallDelta());
    assertEquals(1.0, m.coverage());
  }

  @Test
  void syntheticCorpusIsDeterministicPerSeed() {
    Corpus a = SyntheticCorpus.generate(2000, 8, 5, 1);
    Corpus b = SyntheticCorpus.generate(2000, 8, 5, 1);
    Corpus c = SyntheticCorpus.generate(2000, 8, 5, 2);
    assertTrue(Arrays.equals(a.embeddings(), b.embeddings()));
    assertTrue(!Arrays.equals(a.embeddings(), c.embeddings()));
    assertEquals(5, a.users().size());
    for (Corpus.User u : a.users()) {
      assertTrue(u.behavior().length >= 10 && u.truth().length >= 1);
    }
  }

  @Test
  void nestedSyntheticCorpusGroupsClustersIntoCategories() {
    Corpus islands = SyntheticCorpus.generate(4000, 16, 5, 3, 4, false);
    Corpus nested = SyntheticCorpus.generate(4000, 16, 5, 3, 4, true);
    assertTrue(Arrays.equals(nested.embeddings(), SyntheticCorpus.generate(4000, 16, 5, 3, 4, true).embeddings()));
    assertTrue(nested.name().startsWith("synthetic-nested:") && islands.name().startsWith("synthetic:"));
    // The 200th nearest item (5% of the corpus) lies in another cluster: an island away for the
    // plain layout, a neighbouring cluster of the same category for the nested one.
    double far = medianKthNeighbour(islands, 200);
    double near = medianKthNeighbour(nested, 200);
    assertTrue(near < 0.6 * far, "nested " + near + " vs islands " + far);
  }

  private static double medianKthNeighbour(Corpus c, int k) {
    int d = c.dim();
    float[] e = c.embeddings();
    double[] kth = new double[50];
    for (int s = 0; s < kth.length; s++) {
      int q = s * 79;
      double[] dist = new double[c.size()];
      for (int i = 0; i < c.size(); i++) {
        double t = 0;
        for (int j = 0; j < d; j++) {
          double x = e[i * d + j] - e[q * d + j];
          t += x * x;
        }
        dist[i] = Math.sqrt(t);
      }
      Arrays.sort(dist);
      kth[s] = dist[k];
    }
    Arrays.sort(kth);
    return kth[kth.length / 2];
  }

  @Test
  void movieLensLoadsAndCountsBadRows() throws Exception {
    java.nio.file.Path ml = TestData.repo().resolve("../shared/data/movielens-100k").normalize();
    org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isDirectory(ml), "shared MovieLens data present");
    MovieLensCorpus.Data d = MovieLensCorpus.read(ml);
    assertEquals(1682, d.itemIds().length);
    assertEquals(943, d.sequences().size());
    assertEquals(0, d.badRows());
    java.nio.file.Path tmp = java.nio.file.Files.createTempDirectory("ml");
    java.nio.file.Files.copy(ml.resolve("u.item"), tmp.resolve("u.item"));
    java.util.List<String> lines = new java.util.ArrayList<>(java.nio.file.Files.readAllLines(ml.resolve("u.data")).subList(0, 500));
    lines.add("garbage");
    lines.add("1\tnotanumber\t5\t881250949");
    lines.add("1\t99999\t5\t881250949");   // unknown item
    java.nio.file.Files.write(tmp.resolve("u.data"), lines);
    MovieLensCorpus.Data bad = MovieLensCorpus.read(tmp);
    assertEquals(3, bad.badRows());
    Corpus corpus = MovieLensCorpus.load(ml, 16, 10, MovieLensCorpus.randomProjection(16, 1));
    assertEquals(1682, corpus.size());
    assertTrue(corpus.users().size() > 900);
  }
}
