package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.dr.PathModel;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.FileCorpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mode=dr in the engine, on the trainer's smoke outputs (./test.sh writes them): the answer holds
 * only items of the user's best DR paths, reranked by the model, and only those items are scored.
 */
class DeepRetrievalModeTest {
  @TempDir
  Path dir;

  @Test
  void answersFromTheItemsOfTheBestPathsOnly() throws Exception {
    Path smoke = TestData.repo().resolve(".cache/trained-smoke");
    Assumptions.assumeTrue(Files.exists(smoke.resolve("dr/dr.json")) && Files.exists(smoke.resolve("attention/corpus")),
        "no trainer smoke outputs at " + smoke + " (./test.sh makes them before the Java tests)");
    Corpus c = FileCorpus.load(smoke.resolve("attention/corpus"));
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(c.embeddings(), c.dim(), c.itemIds());
    IndexDescriptor d = TestData.publish(built, dir.resolve("index-1.nann"));
    int beam = 3;
    try (RetrievalEngine engine = new RetrievalEngine(EngineConfig.builder(smoke.resolve("attention/model").toString()).walkerThreads(1).hnswEf(200)
        .snapshotDir(dir.toString()).provider("cpu", 0).deepRetrieval(smoke.resolve("dr").toString(), beam).build());
         PathModel paths = PathModel.load(smoke.resolve("dr"), c.dim())) {
      Corpus.User user = c.users().get(0);
      List<Long> sequence = new ArrayList<>();
      float[] mean = new float[c.dim()];
      for (int row : user.behavior()) {
        sequence.add(c.itemIds()[row]);
        for (int j = 0; j < c.dim(); j++) {
          mean[j] += c.embeddings()[row * c.dim() + j] / user.behavior().length;
        }
      }
      Set<Long> gathered = new HashSet<>(paths.items(paths.beamSearch(mean, beam).paths()));
      RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("dr-1").setUserId(1).setK(20).setMode("dr")
          .setCreatedAtMillis(System.currentTimeMillis()).build();
      RetrievalResponse r = engine.submit(ScoringTask.newBuilder().setRequest(req).setSequence(sequence).setIndex(d)
          .build()).get(60, TimeUnit.SECONDS);
      assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
      assertFalse(r.getItems().isEmpty());
      assertTrue(gathered.containsAll(r.getItems()), "every answer comes from the best paths");
      assertEquals(gathered.size(), r.getItemsScored(), "exactly the gathered items are scored");
      assertTrue(r.getItemsScored() < built.size());
      for (int i = 1; i < r.getScores().size(); i++) {
        assertTrue(r.getScores().get(i - 1) >= r.getScores().get(i), "reranked best first");
      }

      // fresh upserts with the best answer's embedding: an item off the chosen paths and a new item
      // (no path yet) would both score at the top, but mode dr answers from the paths alone
      long best = r.getItems().get(0);
      List<Float> bestEmbedding = embeddingOf(c, best);
      long offPath = -1;
      for (long id : c.itemIds()) {
        if (!gathered.contains(id)) {
          offPath = id;
          break;
        }
      }
      long newItem = Arrays.stream(c.itemIds()).max().orElseThrow() + 1;
      for (long id : new long[] {offPath, newItem}) {
        assertEquals(ChangeOutcome.HELD, engine.applyChange(ItemEmbedding.newBuilder().setItemId(id).setEmbedding(bestEmbedding)
            .setUpdatedAtMillis(System.currentTimeMillis()).build()));
      }
      RetrievalResponse again = engine.submit(ScoringTask.newBuilder().setRequest(RetrievalRequest.newBuilder(req)
          .setRequestId("dr-2").build()).setSequence(sequence).setIndex(d).build()).get(60, TimeUnit.SECONDS);
      assertEquals(ResponseStatus.OK, again.getStatus(), again.toString());
      assertTrue(gathered.containsAll(again.getItems()), "fresh items off the paths stay out: " + again.getItems());

      // an item on the paths that the fresh set changed is answered from its fresh copy
      List<Float> nudged = bestEmbedding.stream().map(v -> v * 1.01f).toList();
      assertEquals(ChangeOutcome.HELD, engine.applyChange(ItemEmbedding.newBuilder().setItemId(best).setEmbedding(nudged)
          .setUpdatedAtMillis(System.currentTimeMillis()).build()));
      RetrievalResponse changed = engine.submit(ScoringTask.newBuilder().setRequest(RetrievalRequest.newBuilder(req)
          .setRequestId("dr-2b").build()).setSequence(sequence).setIndex(d).build()).get(60, TimeUnit.SECONDS);
      assertTrue(changed.getItems().contains(best), "an updated item on the paths: " + changed.getItems());

      // the request's budget bounds the items gathered and scored, as it bounds the walk
      int budget = gathered.size() / 2;
      Assumptions.assumeTrue(budget > 20, "the best paths hold too few items to cut: " + gathered.size());
      RetrievalResponse cut = engine.submit(ScoringTask.newBuilder().setRequest(RetrievalRequest.newBuilder(req)
          .setRequestId("dr-3").setBudget(budget).build()).setSequence(sequence).setIndex(d).build())
          .get(60, TimeUnit.SECONDS);
      assertEquals(ResponseStatus.OK, cut.getStatus(), cut.toString());
      assertTrue(cut.getItemsScored() <= budget + 2, "scored " + cut.getItemsScored() + " with a budget of " + budget
          + " (the two fresh items are scored besides)");
      assertTrue(gathered.containsAll(cut.getItems()));

      // excluded items take none of the budget: with the first 40 items the paths give excluded and a
      // budget of 40, the answer still holds k items, from the next ones
      java.util.BitSet first = paths.gather(paths.beamSearch(mean, beam).paths(), built,
          dev.nann.graph.ItemIdLookup.of(built), 40, node -> true);
      List<Long> firstIds = first.stream().mapToObj(built::itemId).toList();
      RetrievalResponse excluding = engine.submit(ScoringTask.newBuilder().setRequest(RetrievalRequest.newBuilder(req)
          .setRequestId("dr-4").setBudget(40).setExcludeItems(firstIds).build()).setSequence(sequence).setIndex(d)
          .build()).get(60, TimeUnit.SECONDS);
      assertEquals(ResponseStatus.OK, excluding.getStatus(), excluding.toString());
      assertEquals(20, excluding.getItems().size(), excluding.toString());
      assertTrue(java.util.Collections.disjoint(firstIds, excluding.getItems()));

      // an item on the paths whose fresh copy now matches a filter no snapshot item matches is gathered
      // and answered from that copy
      long second = r.getItems().get(1);
      assertEquals(ChangeOutcome.HELD, engine.applyChange(ItemEmbedding.newBuilder().setItemId(second)
          .setEmbedding(embeddingOf(c, second)).setAttributes(java.util.Map.of("shelf", "new"))
          .setUpdatedAtMillis(System.currentTimeMillis()).build()));
      RetrievalResponse filtered = engine.submit(ScoringTask.newBuilder().setRequest(RetrievalRequest.newBuilder(req)
          .setRequestId("dr-5").setAttributeFilter(java.util.Map.of("shelf", List.of("new"))).build())
          .setSequence(sequence).setIndex(d).build()).get(60, TimeUnit.SECONDS);
      assertEquals(List.of(second), filtered.getItems(), filtered.toString());

      // nor do items whose fresh copy fails the filter: every item on the paths but the last one gathered
      // gets a copy that does not match, and a budget of one still finds the last
      int[][] best3 = paths.beamSearch(mean, beam).paths();
      dev.nann.graph.ItemIdLookup lookup = dev.nann.graph.ItemIdLookup.of(built);
      java.util.BitSet all = paths.gather(best3, built, lookup, Integer.MAX_VALUE, node -> true);
      java.util.BitSet allButLast = paths.gather(best3, built, lookup, all.cardinality() - 1, node -> true);
      long now = System.currentTimeMillis();
      long last = -1;
      for (int node = all.nextSetBit(0); node >= 0; node = all.nextSetBit(node + 1)) {
        long id = built.itemId(node);
        boolean isLast = !allButLast.get(node);
        last = isLast ? id : last;
        engine.applyChange(ItemEmbedding.newBuilder().setItemId(id).setEmbedding(embeddingOf(c, id))
            .setAttributes(java.util.Map.of("shelf", isLast ? "newest" : "old")).setUpdatedAtMillis(now).build());
      }
      RetrievalResponse newest = engine.submit(ScoringTask.newBuilder().setRequest(RetrievalRequest.newBuilder(req)
          .setRequestId("dr-5b").setBudget(1).setAttributeFilter(java.util.Map.of("shelf", List.of("newest"))).build())
          .setSequence(sequence).setIndex(d).build()).get(60, TimeUnit.SECONDS);
      assertEquals(List.of(last), newest.getItems(), newest.toString());

      // items deleted since the snapshot take none of the budget either
      for (long id : firstIds) {
        engine.applyChange(ItemEmbedding.newBuilder().setItemId(id).setDeleted(true)
            .setUpdatedAtMillis(System.currentTimeMillis()).build());
      }
      RetrievalResponse afterDeletes = engine.submit(ScoringTask.newBuilder().setRequest(RetrievalRequest.newBuilder(req)
          .setRequestId("dr-6").setBudget(40).build()).setSequence(sequence).setIndex(d).build())
          .get(60, TimeUnit.SECONDS);
      assertEquals(20, afterDeletes.getItems().size(), afterDeletes.toString());
      assertTrue(java.util.Collections.disjoint(firstIds, afterDeletes.getItems()));
    }
  }

  /**
   * A structure that fails to load fails the engine's start with the structure named, and leaves no
   * model loaded behind: Flink retries a failed open again and again, and runtime sessions are freed
   * only by closing them.
   */
  @Test
  void aBrokenStructureLeavesNoModelLoaded() throws Exception {
    Path smoke = TestData.repo().resolve(".cache/trained-smoke");
    Assumptions.assumeTrue(Files.exists(smoke.resolve("dr/dr.json")),
        "no trainer smoke outputs at " + smoke + " (./test.sh makes them before the Java tests)");
    Path broken = dir.resolve("dr-broken");
    Files.createDirectories(broken);
    try (var files = Files.list(smoke.resolve("dr"))) {
      for (Path f : files.toList()) {
        if (!f.getFileName().toString().equals("layer_1.onnx")) {
          Files.copy(f, broken.resolve(f.getFileName()));
        }
      }
    }
    EngineConfig config = EngineConfig.builder(smoke.resolve("attention/model").toString()).walkerThreads(1)
        .snapshotDir(dir.toString()).provider("cpu", 0).deepRetrieval(broken.toString(), 3).build();
    int before = dev.nann.scorer.OnnxModel.openModels();
    for (int attempt = 0; attempt < 3; attempt++) {
      var e = org.junit.jupiter.api.Assertions.assertThrows(dev.nann.scorer.ModelContractException.class,
          () -> new RetrievalEngine(config).close());
      assertTrue(e.getMessage().contains("layer_1.onnx"), e.getMessage());
    }
    assertEquals(before, dev.nann.scorer.OnnxModel.openModels(), "models left loaded by failed starts");
  }

  private static List<Float> embeddingOf(Corpus c, long itemId) {
    long[] ids = c.itemIds();
    for (int row = 0; row < ids.length; row++) {
      if (ids[row] == itemId) {
        List<Float> e = new ArrayList<>();
        for (int j = 0; j < c.dim(); j++) {
          e.add(c.embeddings()[row * c.dim() + j]);
        }
        return e;
      }
    }
    throw new AssertionError("no item " + itemId);
  }
}
