package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.ItemAttributes;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request-time attribute filters on a real snapshot and ONNX model: every answer matches the
 * filter, the walk keeps going until k eligible items are found, fresh items are filtered the same
 * way, and a malformed filter is an INVALID answer.
 */
class AttributeFilterTest {
  @TempDir
  static Path dir;
  static RetrievalEngine engine;
  static IndexDescriptor descriptor;
  static Map<Long, Map<String, String>> attrs = new HashMap<>();

  @BeforeAll
  static void start() {
    Corpus c = TestData.corpus(3000, 16, 21);
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(c.embeddings(), c.dim(), c.itemIds());
    List<Map<String, String>> perNode = new ArrayList<>();
    for (int node = 0; node < built.size(); node++) {
      long id = built.itemId(node);
      Map<String, String> a = Map.of("genre", "g" + id % 5, "lang", id % 3 == 0 ? "fr" : "en");
      attrs.put(id, a);
      perNode.add(a);
    }
    descriptor = TestData.publish(built.withAttributes(ItemAttributes.of(perNode)), dir.resolve("index-1.nann"));
    engine = new RetrievalEngine(TestData.engineConfig(TestData.model("attention", 16), 1, dir));
  }

  @AfterAll
  static void stop() {
    engine.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"nann", "beam", "hnsw", "brute"})
  void everyAnswerMatchesAndKIsFilled(String mode) throws Exception {
    // 1 genre of 5 and French (1 in 3): about 200 eligible of 3000 items
    Map<String, List<String>> filter = Map.of("genre", List.of("g2"), "lang", List.of("fr"));
    long eligible = attrs.values().stream().filter(a -> ItemAttributes.matches(a, filter)).count();
    RetrievalResponse r = ask(mode, 100, filter);
    assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
    for (long id : r.getItems()) {
      assertTrue(ItemAttributes.matches(attrs.get(id), filter), mode + " returned " + id + " " + attrs.get(id));
    }
    assertTrue(eligible > 150, "fixture has " + eligible + " eligible items");
    assertEquals(100, r.getItems().size(), mode + ": the walk keeps going until k eligible items are found");
    // nothing eligible: an empty answer without walking the graph
    RetrievalResponse none = ask(mode, 10, Map.of("genre", List.of("no-such-genre")));
    assertEquals(ResponseStatus.OK, none.getStatus());
    assertTrue(none.getItems().isEmpty());
    assertEquals(0, none.getItemsScored());
    // OR within a key: two genres admit more
    RetrievalResponse wider = ask(mode, 100, Map.of("genre", List.of("g2", "g3")));
    for (long id : wider.getItems()) {
      assertTrue(List.of("g2", "g3").contains(attrs.get(id).get("genre")));
    }
  }

  @Test
  void freshItemsAreFilteredAndBadFiltersAreInvalid() throws Exception {
    List<Float> v = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      v.add(0.5f);
    }
    engine.applyChange(ItemEmbedding.newBuilder().setItemId(900_001).setEmbedding(v)
        .setAttributes(Map.of("genre", "g9")).setUpdatedAtMillis(1).build());
    engine.applyChange(ItemEmbedding.newBuilder().setItemId(900_002).setEmbedding(v)
        .setAttributes(Map.of("genre", "g8")).setUpdatedAtMillis(1).build());
    // an upsert without attributes: no filter admits it, and it fails no filtered request
    engine.applyChange(ItemEmbedding.newBuilder().setItemId(900_003).setEmbedding(v).setUpdatedAtMillis(1).build());
    RetrievalResponse r = ask("nann", 50, Map.of("genre", List.of("g9")));
    assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
    assertEquals(List.of(900_001L), r.getItems(), "only the fresh item has genre g9");
    RetrievalResponse noDr = ask("dr", 10, Map.of());
    assertEquals(ResponseStatus.INVALID, noDr.getStatus());
    assertTrue(noDr.getDetail().contains("dr.dir"), noDr.getDetail());
    RetrievalResponse bad = ask("nann", 10, Map.of("genre", List.of()));
    assertEquals(ResponseStatus.INVALID, bad.getStatus());
    assertTrue(bad.getDetail().contains("attributeFilter"), bad.getDetail());
  }

  private static RetrievalResponse ask(String mode, int k, Map<String, List<String>> filter) throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(k).setMode(mode)
        .setAttributeFilter(filter).setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L, 4L))
        .setIndex(descriptor).build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }
}
