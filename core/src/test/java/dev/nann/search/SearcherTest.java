package dev.nann.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.InnerProductScorer;
import dev.nann.scorer.OnnxModel;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.Scorer;
import dev.nann.scorer.UserState;
import java.util.BitSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SearcherTest {
  static Corpus corpus;
  static HnswIndex index;
  static OnnxModel attention;
  static OnnxScorer scorer;

  @BeforeAll
  static void setUp() {
    corpus = TestData.corpus(4000, 16, 5);
    index = TestData.index(corpus, 8);
    attention = OnnxModel.load(TestData.model("attention", 16));
    scorer = new OnnxScorer(attention);
  }

  @AfterAll
  static void tearDown() {
    attention.close();
  }

  private static UserState user(Scorer s, int u) {
    return s.user(corpus.features(corpus.users().get(u)));
  }

  @Test
  void filteredBeamIsNotStarvedAndMatchesFilteredBruteForce() {
    Searcher searcher = new Searcher(index, scorer);
    int k = 50;
    double found = 0;
    for (int u = 0; u < 5; u++) {
      try (UserState user = user(scorer, u)) {
        // exclude the 300 best nodes and every third node: a heavy filter around the query's optimum
        SearchResult best = searcher.bruteForce(user, 300);
        BitSet out = new BitSet(index.size());
        for (int node : best.nodes()) {
          out.set(node);
        }
        for (int node = 0; node < index.size(); node += 3) {
          out.set(node);
        }
        Searcher.NodeFilter filter = out::get;
        SearchResult exact = searcher.bruteForce(user, k, filter);
        SearchResult beam = searcher.beam(user, k, BeamParams.DEFAULTS, filter, 6);
        assertEquals(k, beam.size(), "user " + u + ": the answer is filled with eligible items");
        java.util.Set<Integer> truth = new java.util.HashSet<>();
        for (int node : exact.nodes()) {
          assertFalse(out.get(node));
          truth.add(node);
        }
        for (int node : beam.nodes()) {
          assertFalse(out.get(node), "an excluded node was returned");
          found += truth.contains(node) ? 1 : 0;
        }
        // the unfiltered call on the same searcher is unaffected by the previous filter
        assertEquals(BeamParams.DEFAULTS.efBottom() >= k ? k : 0, searcher.beam(user, k, BeamParams.DEFAULTS).size());
      }
    }
    assertTrue(found / (5.0 * k) > 0.8, "filtered beam finds most of the filtered exact top-k: " + found / (5.0 * k));
  }

  @Test
  void beamWithLargeEfEqualsBruteForce() {
    Searcher searcher = new Searcher(index, scorer);
    BeamParams wide = new BeamParams(new int[] {4000, 4000, 4000}, new int[] {20, 20, 20});
    for (int u = 0; u < 5; u++) {
      try (UserState user = user(scorer, u)) {
        SearchResult exact = searcher.bruteForce(user, 20);
        SearchResult beam = searcher.beam(user, 20, wide);
        assertArrayEquals(exact.nodes(), beam.nodes(), "user " + u);
        assertArrayEquals(exact.scores(), beam.scores(), 1e-6f);
        for (int i = 1; i < exact.size(); i++) {
          assertTrue(exact.scores()[i - 1] >= exact.scores()[i], "sorted best first");
        }
      }
    }
  }

  @Test
  void hnswWithLargeEfEqualsBruteForce() {
    Searcher searcher = new Searcher(index, scorer);
    for (int u = 0; u < 5; u++) {
      try (UserState user = user(scorer, u)) {
        assertArrayEquals(searcher.bruteForce(user, 20).nodes(), searcher.hnsw(user, 20, 4000).nodes(), "user " + u);
      }
    }
  }

  @Test
  void innerProductScorerSearchEqualsBruteForceAndOnnxTwoSided() {
    try (OnnxModel twoSided = OnnxModel.load(TestData.model("two-sided", 16))) {
      InnerProductScorer ip = new InnerProductScorer(twoSided);
      OnnxScorer onnx = new OnnxScorer(twoSided);
      Searcher viaIp = new Searcher(index, ip);
      Searcher viaOnnx = new Searcher(index, onnx);
      BeamParams wide = new BeamParams(new int[] {4000, 4000}, new int[] {20, 20});
      try (UserState a = user(ip, 1); UserState b = user(onnx, 1)) {
        SearchResult exact = viaIp.bruteForce(a, 30);
        assertArrayEquals(exact.nodes(), viaIp.beam(a, 30, wide).nodes());
        assertArrayEquals(exact.nodes(), viaOnnx.bruteForce(b, 30).nodes());
        assertArrayEquals(exact.scores(), viaOnnx.bruteForce(b, 30).scores(), 1e-4f);
      }
    }
  }

  @Test
  void beamNeverScoresAnItemTwicePerQueryAndScoresFewerThanBruteForce() {
    Searcher searcher = new Searcher(index, scorer);
    BitSet seen = new BitSet();
    int[] duplicates = {0};
    searcher.setListener((nodes, count) -> {
      for (int i = 0; i < count; i++) {
        if (seen.get(nodes[i])) {
          duplicates[0]++;
        }
        seen.set(nodes[i]);
      }
    });
    for (int u = 0; u < 10; u++) {
      seen.clear();
      try (UserState user = user(scorer, u)) {
        SearchResult r = searcher.beam(user, 50, new BeamParams(new int[] {20, 50, 100}, new int[] {1, 2, 3}));
        assertEquals(0, duplicates[0], "user " + u + " scored an item twice");
        assertEquals(seen.cardinality(), r.scored());
        assertTrue(r.scored() < index.size(), "beam should not score everything");
        assertEquals(50, r.size());
      }
      seen.clear();
      try (UserState user = user(scorer, u)) {
        searcher.hnsw(user, 50, 100);
        assertEquals(0, duplicates[0], "hnsw scored an item twice for user " + u);
      }
    }
  }

  @Test
  void tombstonedItemsAreNeverReturned() {
    BitSet dead = new BitSet();
    Searcher live = new Searcher(index, scorer);
    try (UserState user = user(scorer, 2)) {
      int[] top = live.bruteForce(user, 10).nodes();
      dead.set(top[0]);
      dead.set(top[3]);
      long[] ids = new long[index.size()];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = index.itemId(i);
      }
      HnswIndex deleted = new HnswIndex(index.meta(), index.graph(), index.embeddings(), java.nio.LongBuffer.wrap(ids),
          dead, null);
      Searcher s = new Searcher(deleted, scorer);
      for (SearchResult r : new SearchResult[] {s.bruteForce(user, 10), s.beam(user, 10, BeamParams.DEFAULTS),
          s.hnsw(user, 10, 100), s.nann(user, 10, WalkParams.DEFAULTS, null, new DescentChooser())}) {
        for (int node : r.nodes()) {
          assertFalse(dead.get(node), "returned deleted node " + node);
        }
        assertEquals(10, r.size());
      }
    }
  }

  @Test
  void badQueriesFailWithClearMessages() {
    Searcher searcher = new Searcher(index, scorer);
    try (UserState user = user(scorer, 0)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> searcher.beam(user, 0, BeamParams.DEFAULTS));
      assertTrue(e.getMessage().contains("k must be"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> searcher.bruteForce(user, -3));
      e = assertThrows(IllegalArgumentException.class, () -> searcher.beam(user, 500, BeamParams.DEFAULTS));
      assertTrue(e.getMessage().contains("exceeds ef_0"), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new BeamParams(new int[] {100, 200, 400}, new int[] {1, 3}));
    assertTrue(e.getMessage().contains("ef has 3 layers"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> BeamParams.parse("100,x", "1,1"));
    assertTrue(e.getMessage().contains("comma-separated"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new BeamParams(new int[] {0}, new int[] {1}));
  }

  @Test
  void modelAndIndexDimensionsMustAgree() {
    try (OnnxModel d64 = OnnxModel.load(TestData.model("dnn", 64))) {
      OnnxScorer s = new OnnxScorer(d64);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Searcher(index, s));
      assertTrue(e.getMessage().contains("dimension mismatch") && e.getMessage().contains("64")
          && e.getMessage().contains("16"), e.getMessage());
    }
  }

  @ParameterizedTest
  @EnumSource(value = Descent.class, names = {"WIDE", "NARROW"})
  void nannWithTheWholeCorpusAsWidthAndBudgetEqualsBruteForce(Descent descent) {
    Searcher searcher = new Searcher(index, scorer);
    WalkParams all = new WalkParams(index.size(), index.size(), descent);
    for (int u = 0; u < 5; u++) {
      try (UserState user = user(scorer, u)) {
        SearchResult exact = searcher.bruteForce(user, 50);
        SearchResult walk = searcher.nann(user, 50, all);
        assertArrayEquals(exact.nodes(), walk.nodes(), "user " + u + ", " + descent);
        assertArrayEquals(exact.scores(), walk.scores(), 1e-6f);
        assertEquals(index.size(), walk.scored(), "every item scored once, none twice");
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = Descent.class, names = {"WIDE", "NARROW"})
  void nannWithAWideBeamWalksTheGraphToTheExactTopK(Descent descent) {
    // width below the corpus: the walk enters on an upper layer and must find the exact top-k by walking
    Searcher searcher = new Searcher(index, scorer);
    WalkParams wide = new WalkParams(1500, index.size(), descent);
    for (int u = 0; u < 5; u++) {
      try (UserState user = user(scorer, u)) {
        SearchResult walk = searcher.nann(user, 20, wide);
        assertArrayEquals(searcher.bruteForce(user, 20).nodes(), walk.nodes(), "user " + u + ", " + descent);
        assertTrue(walk.scored() < index.size(), "converged before scoring everything: " + walk.scored());
        for (int i = 1; i < walk.size(); i++) {
          assertTrue(walk.scores()[i - 1] >= walk.scores()[i], "sorted best first");
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = Descent.class, names = {"WIDE", "NARROW"})
  void nannNeverScoresANodeTwiceAndBatchesItsCalls(Descent descent) {
    Searcher searcher = new Searcher(index, scorer);
    BitSet seen = new BitSet();
    int[] duplicates = {0};
    searcher.setListener((nodes, count) -> {
      for (int i = 0; i < count; i++) {
        duplicates[0] += seen.get(nodes[i]) ? 1 : 0;
        seen.set(nodes[i]);
      }
    });
    BitSet out = new BitSet(index.size());
    for (int node = 0; node < index.size(); node += 2) {
      out.set(node);
    }
    for (int u = 0; u < 10; u++) {
      for (Searcher.NodeFilter filter : new Searcher.NodeFilter[] {null, out::get}) {
        seen.clear();
        try (UserState user = user(scorer, u)) {
          SearchResult r = searcher.nann(user, 50, new WalkParams(100, 100_000, descent), filter);
          assertEquals(0, duplicates[0], "user " + u + ", " + descent + " scored an item twice");
          assertEquals(seen.cardinality(), r.scored());
          assertTrue(r.scored() < index.size(), "the walk should not score everything");
          assertEquals(50, r.size());
          SearchResult hnsw = new Searcher(index, scorer).hnsw(user, 50, 100);
          assertTrue(r.scoreCalls() * 3 < hnsw.scoreCalls(), "batched: " + r.scoreCalls() + " calls vs HNSW's "
              + hnsw.scoreCalls());
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(value = Descent.class, names = {"WIDE", "NARROW"})
  void nannRespectsTheBudgetExactly(Descent descent) {
    Searcher searcher = new Searcher(index, scorer);
    try (UserState user = user(scorer, 3)) {
      int unbounded = searcher.nann(user, 50, new WalkParams(400, index.size(), descent)).scored();
      assertTrue(unbounded > 600, "the unbounded walk scores " + unbounded);
      for (int budget : new int[] {50, 51, 257, 600, unbounded - 1, unbounded, unbounded + 1000}) {
        SearchResult r = searcher.nann(user, 50, new WalkParams(400, budget, descent));
        assertEquals(Math.min(budget, unbounded), r.scored(), "budget " + budget);
        assertEquals(50, r.size(), "budget " + budget);
      }
      // a budget smaller than the top layer cuts the first batch itself
      SearchResult tiny = searcher.nann(user, 5, new WalkParams(400, 7, descent));
      assertEquals(7, tiny.scored());
      assertEquals(5, tiny.size());
    }
  }

  @ParameterizedTest
  @EnumSource(value = Descent.class, names = {"WIDE", "NARROW"})
  void filteredNannIsNotStarvedAndMatchesFilteredBruteForce(Descent descent) {
    Searcher searcher = new Searcher(index, scorer);
    int k = 50;
    double found = 0;
    for (int u = 0; u < 5; u++) {
      try (UserState user = user(scorer, u)) {
        // exclude the 300 best nodes and every third node: a heavy filter around the query's optimum
        BitSet out = new BitSet(index.size());
        for (int node : searcher.bruteForce(user, 300).nodes()) {
          out.set(node);
        }
        for (int node = 0; node < index.size(); node += 3) {
          out.set(node);
        }
        SearchResult exact = searcher.bruteForce(user, k, out::get);
        SearchResult walk = searcher.nann(user, k, WalkParams.DEFAULTS.withDescent(descent), out::get);
        assertEquals(k, walk.size(), "user " + u + ", " + descent + ": the answer is filled with eligible items");
        java.util.Set<Integer> truth = new java.util.HashSet<>();
        for (int node : exact.nodes()) {
          truth.add(node);
        }
        for (int node : walk.nodes()) {
          assertFalse(out.get(node), "an excluded node was returned");
          found += truth.contains(node) ? 1 : 0;
        }
        assertEquals(k, searcher.nann(user, k, WalkParams.DEFAULTS.withDescent(descent)).size(), "the next, unfiltered query is unaffected");
      }
    }
    assertTrue(found / (5.0 * k) > 0.8, "filtered walk finds most of the filtered exact top-k: " + found / (5.0 * k));
  }

  @Test
  void narrowDescentEntersAtTheEntryPointAndSpendsLessThanTheWideOne() {
    Searcher searcher = new Searcher(index, scorer);
    int[] firstBatch = {-1};
    searcher.setListener((nodes, count) -> firstBatch[0] = firstBatch[0] < 0 ? count : firstBatch[0]);
    int top = index.graph().levels() - 1;
    long narrowItems = 0;
    long wideItems = 0;
    for (int u = 0; u < 5; u++) {
      try (UserState user = user(scorer, u)) {
        firstBatch[0] = -1;
        narrowItems += searcher.nann(user, 50, new WalkParams(400, index.size(), Descent.NARROW)).scored();
        assertEquals(1, firstBatch[0], "HNSW's entry: the graph's entry point alone");
        firstBatch[0] = -1;
        wideItems += searcher.nann(user, 50, new WalkParams(400, index.size(), Descent.WIDE)).scored();
        assertTrue(firstBatch[0] > index.graph().levelSize(top), "the wide entry scores a whole lower layer: "
            + firstBatch[0]);
      }
    }
    assertTrue(narrowItems < wideItems, "narrow " + narrowItems + " vs wide " + wideItems + " items");
    assertEquals(Descent.NARROW, Descent.parse(" Narrow "));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Descent.parse("deep"));
    assertTrue(e.getMessage().contains("'deep'") && e.getMessage().contains("wide or narrow"), e.getMessage());
    assertEquals("W=400 budget=9 descent=narrow", new WalkParams(400, 9, Descent.NARROW).toString());
    assertEquals("W=400 budget=9", new WalkParams(400, 9).toString());
  }

  @Test
  void walkStartsEachLayerWithOneNodeAndGrowsToACallsWorth() {
    Searcher searcher = new Searcher(index, scorer);
    java.util.List<Integer> calls = new java.util.ArrayList<>();
    searcher.setListener((nodes, count) -> calls.add(count));
    int top = index.graph().levels() - 1;
    try (UserState user = user(scorer, 2)) {
      searcher.nann(user, 50, new WalkParams(400, index.size(), Descent.WIDE));
    }
    int degree = index.graph().maxDegree(0);
    assertTrue(top >= 2 && calls.get(0) > degree, "the entry scores a whole upper layer: " + calls);
    // the next layer's walk starts from many scored seeds, yet expands the best one alone, then two
    assertTrue(calls.get(1) <= degree && calls.get(2) <= 2 * degree, "steps start at one node and double: " + calls);
    assertTrue(calls.stream().anyMatch(n -> n > 4 * degree), "later steps expand several nodes at once: " + calls);
  }

  @Test
  void aClimbingWalkShrinksItsSteps() {
    // an inner product in a random direction: the best items lie at the edge of the catalogue, and
    // the walk climbs there from the entry point, finding a new best at many steps
    try (OnnxModel twoSided = OnnxModel.load(TestData.model("two-sided", 16))) {
      Searcher searcher = new Searcher(index, new InnerProductScorer(twoSided));
      java.util.List<int[]> calls = new java.util.ArrayList<>();
      searcher.setListener((nodes, count) -> calls.add(java.util.Arrays.copyOf(nodes, count)));
      java.util.Random random = new java.util.Random(7);
      double grew = 0;
      int climbs = 0;
      for (int u = 0; u < 20; u++) {
        float[] direction = new float[16];
        for (int i = 0; i < direction.length; i++) {
          direction[i] = (float) random.nextGaussian();
        }
        try (UserState user = InnerProductScorer.userVector(direction)) {
          float[] score = new float[index.size()];
          SearchResult all = searcher.bruteForce(user, index.size());
          for (int i = 0; i < all.size(); i++) {
            score[all.nodes()[i]] = all.scores()[i];
          }
          calls.clear();
          searcher.nann(user, 50, new WalkParams(50, index.size(), Descent.NARROW));
          // after a call that found a node better than every node scored before it, the next step
          // expands no more nodes than led there, so its call is no larger on average (doubling the
          // steps regardless gave 1.3 times)
          float best = Float.NEGATIVE_INFINITY;
          for (int c = 0; c + 1 < calls.size(); c++) {
            float before = best;
            for (int node : calls.get(c)) {
              best = Math.max(best, score[node]);
            }
            if (c > 0 && best > before) {
              climbs++;
              grew += (double) calls.get(c + 1).length / calls.get(c).length;
            }
          }
        }
      }
      assertTrue(climbs > 40, "the walks climbed: " + climbs + " calls found a new best");
      assertTrue(grew / climbs < 1.0, "a call after a new best is on average " + grew / climbs + " times its size");
    }
  }

  @Test
  void modesAreATypeWithClearErrors() {
    assertEquals(SearchMode.NANN, SearchMode.parse(" NANN "));
    assertEquals(SearchMode.BEAM, SearchMode.parse("beam"));
    assertEquals(SearchMode.NANN, SearchMode.DEFAULT);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SearchMode.parse("bream"));
    assertTrue(e.getMessage().contains("'bream'") && e.getMessage().contains("nann, beam, hnsw, brute, dr"),
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> SearchMode.parse(null));
    e = assertThrows(IllegalArgumentException.class, () -> new WalkParams(0, 10));
    assertTrue(e.getMessage().contains("width"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new WalkParams(10, 0));
    assertTrue(e.getMessage().contains("budget"), e.getMessage());
  }

  @Test
  void paramsMapOntoGraphsWithFewerLevels() {
    Corpus small = TestData.corpus(300, 16, 9);
    HnswIndex flat = TestData.index(small, 32);     // 300 nodes, M=32: one or two levels
    Searcher s = new Searcher(flat, scorer);
    try (UserState user = scorer.user(small.features(small.users().get(0)))) {
      SearchResult exact = s.bruteForce(user, 10);
      SearchResult beam = s.beam(user, 10, new BeamParams(new int[] {300, 300, 300, 300, 300}, new int[] {5, 5, 5, 5, 5}));
      assertArrayEquals(exact.nodes(), beam.nodes());
      assertArrayEquals(exact.nodes(), s.nann(user, 10, new WalkParams(300, 300)).nodes());
    }
  }
}
