package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walk's budget per request on a real snapshot and ONNX model: a request's budget bounds the
 * items scored, 0 takes the job's default, a budget above the job's cap is cut to it, a budget
 * below k is raised to k, a negative one is INVALID; every mode is reachable by name. A job whose
 * largest k is past what the walks take is refused at configuration.
 */
class RequestBudgetTest {
  @TempDir
  static Path dir;
  static RetrievalEngine engine;
  static IndexDescriptor descriptor;

  @BeforeAll
  static void start() {
    Corpus c = TestData.corpus(3000, 16, 23);
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(c.embeddings(), c.dim(), c.itemIds());
    descriptor = TestData.publish(built, dir.resolve("index-1.nann"));
    EngineConfig base = TestData.engineConfig(TestData.model("attention", 16), 1, dir);
    // width 400, default budget 600, cap 900 (the walk converges after about 1,250 items here)
    engine = new RetrievalEngine(EngineConfig.builder(base.defaultModelDir()).walkerThreads(1).hnswEf(base.hnswEf())
        .walk(400, 600, 900).snapshotDir(dir.toString()).modelRoot(dir.toString()).allowBrute(true).provider("cpu", 0)
        .build());
  }

  @AfterAll
  static void stop() {
    engine.close();
  }

  @Test
  void theBudgetBoundsWhatARequestScores() throws Exception {
    RetrievalResponse small = ask("nann", 50, 300);
    assertEquals(ResponseStatus.OK, small.getStatus(), small.toString());
    assertEquals(300, small.getItemsScored(), "a walk cut by its budget scores exactly the budget");
    assertTrue(small.getScoreCalls() > 1 && small.getScoreCalls() < 300,
        "the answer reports the walk's score calls: " + small.getScoreCalls());
    assertEquals(50, small.getItems().size());
    RetrievalResponse byDefault = ask("nann", 50, 0);
    assertEquals(600, byDefault.getItemsScored(), "0: the job's search.budget");
    RetrievalResponse greedy = ask("nann", 50, 1_000_000);
    assertEquals(900, greedy.getItemsScored(), "a client asking for the whole catalogue gets the job's cap");
    RetrievalResponse belowK = ask("nann", 80, 10);
    assertEquals(80, belowK.getItemsScored(), "raised to k: a walk must score the items it returns");
    assertEquals(80, belowK.getItems().size());
    RetrievalResponse negative = ask("nann", 10, -5);
    assertEquals(ResponseStatus.INVALID, negative.getStatus());
    assertTrue(negative.getDetail().contains("budget=-5"), negative.getDetail());
  }

  @Test
  void everyModeIsReachableByNameAndUnknownOnesAreNamed() throws Exception {
    for (String mode : List.of("nann", "NANN", "beam", "hnsw", "brute")) {
      RetrievalResponse r = ask(mode, 20, 0);
      assertEquals(ResponseStatus.OK, r.getStatus(), mode + ": " + r);
      assertEquals(20, r.getItems().size(), mode);
    }
    RetrievalResponse brute = ask("brute", 20, 0);
    assertEquals(3000, brute.getItemsScored(), "brute force ignores the walk's budget");
    assertTrue(brute.getScoreCalls() >= 1 && brute.getScoreCalls() <= 3000 / 16,
        "brute force scores in large calls: " + brute.getScoreCalls());
    RetrievalResponse unknown = ask("fast", 20, 0);
    assertEquals(ResponseStatus.INVALID, unknown.getStatus());
    assertTrue(unknown.getDetail().contains("unknown mode 'fast'") && unknown.getDetail().contains("beam"),
        unknown.getDetail());
  }

  @Test
  void aLargestKPastTheWalksLimitIsRefusedAtConfiguration() {
    EngineConfig.Builder b = EngineConfig.builder(engine.config().defaultModelDir()).snapshotDir(dir.toString())
        .modelRoot(dir.toString()).provider("cpu", 0);
    assertEquals(dev.nann.search.Searcher.MAX_K, b.maxK(dev.nann.search.Searcher.MAX_K).build().maxK());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> b.maxK(dev.nann.search.Searcher.MAX_K + 1).build());
    assertTrue(e.getMessage().contains("search.max-k") && e.getMessage().contains("100000"), e.getMessage());
  }

  private static RetrievalResponse ask(String mode, int k, int budget) throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(k).setMode(mode)
        .setBudget(budget).setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L, 4L))
        .setIndex(descriptor).build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }
}
