package dev.nann.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.UserState;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DescentChooserTest {
  // the walk's own test fixture: 4,000 clustered items (d = 16, M = 8) and the attention fixture model
  static Corpus corpus;
  static HnswIndex index;
  static OnnxScorer scorer;

  @BeforeAll
  static void setUp() {
    SearcherTest.setUp();
    corpus = SearcherTest.corpus;
    index = SearcherTest.index;
    scorer = SearcherTest.scorer;
  }

  @AfterAll
  static void tearDown() {
    SearcherTest.tearDown();
  }

  private static SearchResult answer(int[] nodes, float[] scores) {
    return new SearchResult(nodes, scores, nodes.length, 1, 0, 0, 0, 0);
  }

  @Test
  void gainCountsTheBestItemsOnlyOneDescentFound() {
    SearchResult wide = answer(new int[] {1, 2, 3, 4}, new float[] {9, 8, 7, 6});
    SearchResult narrow = answer(new int[] {1, 3, 5, 6}, new float[] {9, 7, 5.5f, 1});
    // the best 4 of both: 1 (both), 2 (wide), 3 (both), 4 (wide): wide found 2 of 4 alone
    assertEquals(0.5, DescentChooser.gain(wide, narrow, 4), 1e-9);
    assertEquals(-0.5, DescentChooser.gain(narrow, wide, 4), 1e-9);
    assertEquals(0, DescentChooser.gain(wide, wide, 4), 1e-9);
    SearchResult both = SearchResult.union(wide, narrow, 5);
    assertArrayEquals(new int[] {1, 2, 3, 4, 5}, both.nodes(), "best first, each node once");
    assertEquals(8, both.scored(), "the costs of both walks");
  }

  @Test
  void theFirstQueriesWalkBothDescentsThenTheModelKeepsOne() {
    Searcher searcher = new Searcher(index, scorer);
    java.util.List<String> said = new java.util.ArrayList<>();
    DescentChooser chooser = new DescentChooser(said::add);
    WalkParams auto = new WalkParams(200, 100_000, Descent.AUTO);
    double gains = 0;
    double largest = Double.NEGATIVE_INFINITY;
    int halfMissed = 0;
    for (int q = 0; q < DescentChooser.SAMPLES; q++) {
      assertNull(chooser.chosen(), "still learning after " + q + " queries");
      try (UserState user = scorer.user(corpus.features(corpus.users().get(q % corpus.users().size())))) {
        // the comparison walks at width 2k whatever the served width, each on half the budget
        SearchResult wide = searcher.nann(user, 50, auto.withWidth(100).withDescent(Descent.WIDE).withBudget(50_000));
        SearchResult narrow = searcher.nann(user, 50, auto.withWidth(100).withDescent(Descent.NARROW).withBudget(50_000));
        SearchResult learning = searcher.nann(user, 50, auto, null, chooser);
        assertArrayEquals(SearchResult.union(wide, narrow, 50).nodes(), learning.nodes(),
            "a learning query answers with the best of both walks");
        assertEquals(wide.scored() + narrow.scored(), learning.scored());
        SearchResult tight = searcher.nann(user, 50, auto.withBudget(301), null, new DescentChooser());
        assertEquals(301, tight.scored(), "a learning query shares its budget between the two walks");
        double g = DescentChooser.gain(wide, narrow, 50);
        gains += g;
        largest = Math.max(largest, g);
        halfMissed += g >= DescentChooser.USER_GAIN ? 1 : 0;
      }
    }
    Descent expected = gains / DescentChooser.SAMPLES > DescentChooser.WIDE_GAIN || halfMissed > 0 ? Descent.WIDE
        : Descent.NARROW;
    assertEquals(expected, chooser.chosen());
    assertEquals(gains / DescentChooser.SAMPLES, chooser.meanGain(), 1e-9);
    assertEquals(largest, chooser.largestGain(), 1e-12);
    assertEquals(1, said.size(), "the choice is told once");
    String told = String.format(java.util.Locale.ROOT, "%d of them gained 50%% or more, the largest %+.0f%%",
        halfMissed, 100 * largest);
    assertTrue(said.get(0).contains(told), said.get(0));
    try (UserState user = scorer.user(corpus.features(corpus.users().get(0)))) {
      SearchResult settled = searcher.nann(user, 50, auto, null, chooser);
      assertEquals(searcher.nann(user, 50, auto.withDescent(expected)).scored(), settled.scored(),
          "once settled, a query walks the chosen descent alone");
    }
    assertThrows(IllegalArgumentException.class, () -> {
      try (UserState user = scorer.user(corpus.features(corpus.users().get(0)))) {
        searcher.nann(user, 50, auto);
      }
    }, "auto needs the model's chooser");
  }

  @Test
  void oneUserLeftWithHalfAnAnswerKeepsTheWideDescentBehindASmallMean() {
    // 63 users for whom both descents find the same 10 items, one for whom they share none: a mean
    // gain of 1/64 (below WIDE_GAIN), but that user's narrow walk misses every best item
    assertEquals(Descent.WIDE, settle(1.0));
    // the same user with only 4 of its 10 best items missed by the narrow descent: the mean decides
    assertEquals(Descent.NARROW, settle(0.4));
  }

  /** Settles a chooser on 63 queries of gain 0 and one of gain {@code last} (k = 10). */
  private static Descent settle(double last) {
    DescentChooser chooser = new DescentChooser();
    int[] same = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int q = 0; q < DescentChooser.SAMPLES; q++) {
      assertNull(chooser.next());
      int[] wide = same;
      int[] narrow = same;
      if (q == DescentChooser.SAMPLES - 1) {
        // the wide walk's best `missed` items are its own; the narrow walk has lesser ones of its own instead
        int missed = (int) Math.round(10 * last);
        wide = new int[10];
        narrow = new int[10];
        for (int i = 0; i < 10; i++) {
          wide[i] = i < missed ? 100 + i : i - missed;
          narrow[i] = i < 10 - missed ? i : 200 + i;
        }
      }
      chooser.record(result(wide), result(narrow), 10);
    }
    assertEquals(last / DescentChooser.SAMPLES, chooser.meanGain(), 1e-9);
    return chooser.chosen();
  }

  private static SearchResult result(int[] nodes) {
    float[] scores = new float[nodes.length];
    for (int i = 0; i < nodes.length; i++) {
      // best first: a wide walk's own items above the shared ones, a narrow walk's own below them
      scores[i] = nodes[i] >= 200 ? 0.5f - i * 0.01f : nodes[i] >= 100 ? 2f - i * 0.01f : 1f - nodes[i] * 0.01f;
    }
    return new SearchResult(nodes, scores, nodes.length, 1, 0, 0, 0, 0);
  }

  @Test
  void smallAnswersAreComparedAtFiftyItemsAndQueriesThatTellNothingAreReplaced() {
    Searcher searcher = new Searcher(index, scorer);
    WalkParams auto = new WalkParams(200, 100_000, Descent.AUTO);
    DescentChooser chooser = new DescentChooser();
    try (UserState user = scorer.user(corpus.features(corpus.users().get(3)))) {
      // k = 1: the walks compare their best 50 (a gain of one item in one would settle the model)
      SearchResult wide = searcher.nann(user, 50, auto.withWidth(100).withDescent(Descent.WIDE).withBudget(50_000));
      SearchResult narrow = searcher.nann(user, 50, auto.withWidth(100).withDescent(Descent.NARROW).withBudget(50_000));
      SearchResult one = searcher.nann(user, 1, auto, null, chooser);
      assertArrayEquals(SearchResult.union(wide, narrow, 1).nodes(), one.nodes(), "the best one of both");
      assertEquals(wide.scored() + narrow.scored(), one.scored(), "both walks compared 50 items at width 100");
      assertEquals(DescentChooser.gain(wide, narrow, 50), chooser.meanGain(), 1e-9);
      // 30 eligible items: fewer than compared, every such query is replaced and nothing is settled
      DescentChooser filtered = new DescentChooser();
      for (int q = 0; q < 2 * DescentChooser.SAMPLES; q++) {
        SearchResult r = searcher.nann(user, 10, auto, node -> node % 100 != 0 || node >= 3000, filtered);
        assertEquals(10, r.size());
      }
      assertNull(filtered.chosen(), "answers a filter cut short say nothing of the scorer");
      assertNull(filtered.next(), "the comparisons are still to come");
    }
  }

  @Test
  void aFailedLearningQueryIsReplacedAndOthersTakeTheWideDescentMeanwhile() {
    DescentChooser chooser = new DescentChooser();
    for (int i = 0; i < DescentChooser.SAMPLES; i++) {
      assertNull(chooser.next(), "comparison " + i);
    }
    assertEquals(Descent.WIDE, chooser.next(), "every comparison is in flight: the others walk wide");
    chooser.abandon();
    assertNull(chooser.next(), "an abandoned comparison is handed out again");
    Searcher searcher = new Searcher(index, scorer);
    try (UserState user = scorer.user(corpus.features(corpus.users().get(0)))) {
      // k out of range fails inside the learning walk: the chooser gets its comparison back
      DescentChooser fresh = new DescentChooser();
      assertThrows(IllegalArgumentException.class,
          () -> searcher.nann(user, 0, new WalkParams(200, 1000, Descent.AUTO), null, fresh));
      for (int i = 0; i < DescentChooser.SAMPLES; i++) {
        assertNull(fresh.next(), "all " + DescentChooser.SAMPLES + " comparisons are still to come");
      }
    }
  }
}
