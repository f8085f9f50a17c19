package dev.nann.eval;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.search.BeamParams;
import dev.nann.search.SearchParams;
import dev.nann.search.WalkParams;
import org.junit.jupiter.api.Test;

/** The exact-L2 graph check on small real indexes. */
class GraphQualityTest {
  private static final Corpus CORPUS = SyntheticCorpus.generate(3000, 16, 1, 7);

  private static HnswIndex index(int m, int efConstruction) {
    return new HnswIndexBuilder().m(m).efConstruction(efConstruction).build(CORPUS.embeddings(), CORPUS.dim(),
        CORPUS.itemIds());
  }

  @Test
  void anExhaustiveBudgetFindsEveryExactNeighbour() {
    GraphQuality.Result r = GraphQuality.measure(index(8, 40), 20, 30, new SearchParams(new WalkParams(3000, 100_000),
        new BeamParams(new int[] {3000, 3000, 3000}, new int[] {50, 50, 50}), 3000), 1);
    assertEquals(1.0, r.nannRecall(), 1e-12);
    assertEquals(1.0, r.beamRecall(), 1e-12);
    assertEquals(1.0, r.hnswRecall(), 1e-12);
  }

  @Test
  void aSparseGraphAndATinyBudgetLoseNeighboursAndABetterGraphLosesFewer() {
    SearchParams tiny = new SearchParams(new WalkParams(30, 60),
        new BeamParams(new int[] {5, 10, 30}, new int[] {1, 1, 1}), 30);
    GraphQuality.Result poor = GraphQuality.measure(index(2, 2), 40, 30, tiny, 3);
    GraphQuality.Result good = GraphQuality.measure(index(16, 100), 40, 30, tiny, 3);
    assertTrue(poor.nannRecall() < 1.0 && poor.beamRecall() < 1.0 && poor.hnswRecall() < 1.0, "poor graph: " + poor);
    assertTrue(good.hnswRecall() > poor.hnswRecall(), "good " + good + " vs poor " + poor);
    assertTrue(good.beamRecall() >= 0 && good.beamRecall() <= 1);
  }

  @Test
  void badArgumentsAreNamed() {
    HnswIndex idx = index(8, 40);
    var e = assertThrows(IllegalArgumentException.class,
        () -> GraphQuality.measure(idx, 5, 5000, SearchParams.DEFAULTS, 1));
    assertTrue(e.getMessage().contains("k=5000"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> GraphQuality.measure(idx, 0, 10, SearchParams.DEFAULTS, 1));
    assertTrue(e.getMessage().contains("queries"), e.getMessage());
  }
}
