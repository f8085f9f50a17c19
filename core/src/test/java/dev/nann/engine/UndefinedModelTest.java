package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
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
 * Serving a model that is not defined everywhere (the trainer's {@code undefined-d16} fixture: NaN
 * for an empty history and for items whose first component is negative): every request that meets
 * a NaN gets SCORER_ERROR naming the model, in every mode, and the requests between are answered.
 * Two engines, as an engine serves the newest index it has been shown.
 */
class UndefinedModelTest {
  @TempDir
  static Path dir;
  static RetrievalEngine onUndefined;   // about half the items give NaN
  static RetrievalEngine onDefined;     // every item's first component >= 0: the model scores them all
  static IndexDescriptor undefined;
  static IndexDescriptor defined;

  @BeforeAll
  static void start() {
    Corpus c = TestData.corpus(2000, 16, 29);
    float[] raw = c.embeddings();
    float[] positive = raw.clone();
    for (int i = 0; i < positive.length; i += c.dim()) {
      positive[i] = Math.abs(positive[i]);
    }
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    undefined = TestData.publish(new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(raw, c.dim(), c.itemIds()), a.resolve("index-1.nann"));
    defined = TestData.publish(new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(2)
        .build(positive, c.dim(), c.itemIds()), b.resolve("index-2.nann"));
    onUndefined = new RetrievalEngine(TestData.engineConfig(TestData.model("undefined", 16), 1, a));
    onDefined = new RetrievalEngine(TestData.engineConfig(TestData.model("undefined", 16), 1, b));
  }

  @AfterAll
  static void stop() {
    onUndefined.close();
    onDefined.close();
  }

  @Test
  void everyModeThatMeetsNaNScoresAnswersWithAnErrorNamingTheModel() throws Exception {
    for (String mode : List.of("nann", "beam", "hnsw", "brute")) {
      for (int i = 0; i < 2; i++) {   // and the engine goes on to the next request
        RetrievalResponse bad = ask(onUndefined, undefined, mode, List.of(1L, 2L, 3L));
        assertEquals(ResponseStatus.SCORER_ERROR, bad.getStatus(), mode + ": " + bad);
        assertTrue(bad.getDetail().contains("fixture-undefined-d16") && bad.getDetail().contains("returned NaN for"),
            mode + ": " + bad.getDetail());
        assertTrue(bad.getItems().isEmpty(), mode + ": no ranking built on NaN is answered");
      }
    }
  }

  @Test
  void aHistoryTheUserNetworkIsNotDefinedOnFailsAloneAndTheNextIsAnswered() throws Exception {
    for (String mode : List.of("nann", "beam", "hnsw", "brute")) {
      RetrievalResponse cold = ask(onDefined, defined, mode, List.of());
      assertEquals(ResponseStatus.SCORER_ERROR, cold.getStatus(), mode + ": " + cold);
      assertTrue(cold.getDetail().contains("user network") && cold.getDetail().contains("history of 0 items"),
          cold.getDetail());
      RetrievalResponse good = ask(onDefined, defined, mode, List.of(1L, 2L, 3L));
      assertEquals(ResponseStatus.OK, good.getStatus(), mode + ": " + good);
      assertEquals(20, good.getItems().size(), mode);
      for (float s : good.getScores()) {
        assertTrue(Float.isFinite(s), mode + ": " + good.getScores());
      }
    }
  }

  private static RetrievalResponse ask(RetrievalEngine engine, IndexDescriptor index, String mode, List<Long> history)
      throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(20).setMode(mode)
        .setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(history).setIndex(index).build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }
}
