package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.scorer.OnnxScorer;
import dev.nann.scorer.UserFeatures;
import dev.nann.scorer.UserState;
import dev.nann.search.BeamParams;
import dev.nann.search.DescentChooser;
import dev.nann.search.SearchMode;
import dev.nann.search.SearchParams;
import dev.nann.search.Searcher;
import dev.nann.search.WalkParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One query of every mode on a real index with a real ONNX scorer: each walk given the whole
 * catalogue answers exactly what brute force does, exclusions hold in every mode without shortening
 * the answer, and the fresh set's upserts and deletes act on the answer (upserts of another
 * dimension are not scored); mode hnsw's over-fetch stops at the request's budget.
 */
class QueryExecutorTest {
  private static final int DIM = 16;
  private static final int K = 20;
  private static Corpus corpus;
  private static LoadedIndex loaded;
  private static OnnxScorer scorer;
  private static Searcher searcher;
  private static UserFeatures features;
  /** Every graph mode allowed to visit the whole catalogue. */
  private static SearchParams whole;

  @BeforeAll
  static void setUp() {
    corpus = TestData.corpus(1500, DIM, 9);
    HnswIndex index = TestData.index(corpus, 16);
    loaded = new LoadedIndex(1, index, ItemIdLookup.of(index), 0L);
    scorer = OnnxScorer.open(TestData.model("attention", DIM), 1);
    searcher = new Searcher(index, scorer);
    features = loaded.features(List.of(corpus.itemIds()[3], corpus.itemIds()[70], corpus.itemIds()[400]));
    whole = new SearchParams(new WalkParams(1500, 1500), BeamParams.parse("1500,1500,1500", "50,50,50"), 1500);
  }

  @AfterAll
  static void tearDown() {
    scorer.close();
  }

  private static QueryExecutor.Answer ask(SearchMode mode, Set<Long> excluded, FreshSet.View changes) {
    try (UserState user = scorer.user(features)) {
      return new QueryExecutor(null, 5).run(searcher, loaded, scorer, new DescentChooser(), user, features,
          new QueryExecutor.Query(mode, K, whole, excluded, Map.of()), changes);
    }
  }

  @Test
  void everyWalkGivenTheWholeCatalogueAnswersWhatBruteForceDoes() {
    QueryExecutor.Answer exact = ask(SearchMode.BRUTE, Set.of(), null);
    assertEquals(K, exact.size());
    for (SearchMode mode : List.of(SearchMode.NANN, SearchMode.BEAM, SearchMode.HNSW)) {
      QueryExecutor.Answer a = ask(mode, Set.of(), null);
      assertArrayEquals(exact.items(), a.items(), mode + " differs from brute force");
    }
  }

  @Test
  void exclusionsHoldInEveryModeAndTheAnswerStaysFull() {
    QueryExecutor.Answer exact = ask(SearchMode.BRUTE, Set.of(), null);
    Set<Long> excluded = new HashSet<>();
    for (int i = 0; i < 5; i++) {
      excluded.add(exact.items()[i]);
    }
    for (SearchMode mode : List.of(SearchMode.NANN, SearchMode.BEAM, SearchMode.HNSW, SearchMode.BRUTE)) {
      QueryExecutor.Answer a = ask(mode, excluded, null);
      assertEquals(K, a.size(), mode.id());
      for (long item : a.items()) {
        assertFalse(excluded.contains(item), mode + " returned excluded item " + item);
      }
      assertEquals(exact.items()[5], a.items()[0], mode + ": the best item left leads");
    }
  }

  @Test
  void freshUpsertsJoinAndDeletesLeaveTheAnswer() {
    QueryExecutor.Answer exact = ask(SearchMode.BRUTE, Set.of(), null);
    long best = exact.items()[0];
    long second = exact.items()[1];
    FreshSet fresh = new FreshSet(DIM, 1000);
    fresh.rebase(loaded);
    long clone = 9_000_000L;
    fresh.apply(embedding(clone, row(best)));
    fresh.apply(ItemEmbedding.newBuilder().setItemId(second).setEmbedding(List.of()).setDeleted(true)
        .setUpdatedAtMillis(1).build());
    for (SearchMode mode : List.of(SearchMode.NANN, SearchMode.BRUTE)) {
      QueryExecutor.Answer a = ask(mode, Set.of(), fresh.view());
      List<Long> items = Arrays.stream(a.items()).boxed().toList();
      assertTrue(items.indexOf(clone) <= 1 && items.indexOf(clone) >= 0, mode + ": the clone of the best item ranks "
          + "with it: " + items);
      assertFalse(items.contains(second), mode + ": a deleted item is never returned");
      assertEquals(K, a.size());
    }
  }

  @Test
  void freshUpsertsOfAnotherDimensionAreNotScored() {
    QueryExecutor.Answer exact = ask(SearchMode.BRUTE, Set.of(), null);
    FreshSet other = new FreshSet(64, 1000);   // e.g. a query on the old index racing a swap to dim 64
    for (int i = 0; i < 100; i++) {
      float[] v = new float[64];
      Arrays.fill(v, 1f);
      other.apply(embedding(9_100_000L + i, v));
    }
    for (SearchMode mode : List.of(SearchMode.NANN, SearchMode.BRUTE)) {
      QueryExecutor.Answer a = ask(mode, Set.of(), other.view());
      assertArrayEquals(ask(mode, Set.of(), null).items(), a.items(), mode + ": rows of dim 64 read as dim 16");
      assertEquals(ask(mode, Set.of(), null).scored(), a.scored(), mode + ": no fresh item scored");
    }
    assertEquals(K, exact.size());
  }

  @Test
  void hnswOverFetchStopsAtTheRequestsBudget() {
    // hnsw over-fetches k + exclusions; a long exclusion list raises its ef far past the job's 50
    int budget = 300;
    SearchParams params = new SearchParams(new WalkParams(400, budget), BeamParams.parse("1500,1500,1500", "50,50,50"),
        50);
    Set<Long> excluded = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      excluded.add(corpus.itemIds()[i]);
    }
    try (UserState user = scorer.user(features)) {
      assertTrue(searcher.hnsw(user, budget, budget).scored() > budget,
          "without a budget, a walk at that ef scores more than the budget");
      QueryExecutor.Answer a = new QueryExecutor(null, 5).run(searcher, loaded, scorer, new DescentChooser(), user,
          features, new QueryExecutor.Query(SearchMode.HNSW, K, params, excluded, Map.of()), null);
      assertTrue(a.scored() <= budget, "scored " + a.scored() + " of a budget of " + budget);
      assertEquals(K, a.size());
      for (long item : a.items()) {
        assertFalse(excluded.contains(item));
      }
    }
  }

  @Test
  void aFullFreshSetDoesNotCutAnHnswWalkToTheRequestsBudget() {
    // 400 deletes raise hnsw's over-fetch past the job's ef of 50 as exclusions would; but the set is
    // bounded by configuration, not by the client: the walk is not cut to the request's budget of 300
    int budget = 300;
    SearchParams params = new SearchParams(new WalkParams(400, budget), BeamParams.parse("1500,1500,1500", "50,50,50"),
        50);
    FreshSet fresh = new FreshSet(DIM, 1000);
    fresh.rebase(loaded);
    for (int i = 0; i < 400; i++) {
      fresh.apply(ItemEmbedding.newBuilder().setItemId(corpus.itemIds()[i]).setEmbedding(List.of()).setDeleted(true)
          .setUpdatedAtMillis(1).build());
    }
    try (UserState user = scorer.user(features)) {
      QueryExecutor.Answer a = new QueryExecutor(null, 5).run(searcher, loaded, scorer, new DescentChooser(), user,
          features, new QueryExecutor.Query(SearchMode.HNSW, K, params, Set.of(), Map.of()), fresh.view());
      assertTrue(a.scored() > budget, "scored " + a.scored() + ": the fresh set alone must not cap the walk");
      assertEquals(K, a.size());
    }
  }

  private static float[] row(long id) {
    int i = Arrays.stream(corpus.itemIds()).boxed().toList().indexOf(id);
    return Arrays.copyOfRange(corpus.embeddings(), i * DIM, (i + 1) * DIM);
  }

  private static ItemEmbedding embedding(long id, float[] v) {
    List<Float> list = new ArrayList<>();
    for (float x : v) {
      list.add(x);
    }
    return ItemEmbedding.newBuilder().setItemId(id).setEmbedding(list).setUpdatedAtMillis(1).build();
  }
}
