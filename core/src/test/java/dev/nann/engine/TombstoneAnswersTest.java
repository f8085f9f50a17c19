package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot with tombstones (moved and deleted items of an in-place build, up to
 * rebuild.max-tombstone-fraction of its nodes) answers k live items in every mode, even with k at the
 * walk's width, where the tombstones among the walk's best would otherwise take answer places.
 */
class TombstoneAnswersTest {
  @TempDir
  Path dir;

  @Test
  void kLiveItemsWhateverTheTombstones() throws Exception {
    Corpus c = TestData.corpus(3000, 16, 31);
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(c.embeddings(), c.dim(), c.itemIds());
    BitSet dead = TestData.everyNth(built.size(), 5);   // a fifth of the nodes
    Set<Long> deadIds = new HashSet<>();
    dead.stream().forEach(node -> deadIds.add(built.itemId(node)));
    IndexDescriptor d = TestData.publish(TestData.withTombstones(built, dead), dir.resolve("index-1.nann"));
    EngineConfig cfg = EngineConfig.builder(TestData.model("attention", 16).toString()).walkerThreads(1).hnswEf(100)
        .walk(100, 20_000, 100_000).beam("100,100,100", "1,1,3").snapshotDir(dir.toString()).modelRoot(dir.toString())
        .allowBrute(true).provider("cpu", 0).build();
    try (RetrievalEngine engine = new RetrievalEngine(cfg)) {
      for (String mode : List.of("nann", "beam", "hnsw", "brute")) {
        RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r-" + mode).setUserId(1).setK(100)
            .setMode(mode).setCreatedAtMillis(System.currentTimeMillis()).build();
        RetrievalResponse r = engine.submit(ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L))
            .setIndex(d).build()).get(60, TimeUnit.SECONDS);
        assertEquals(ResponseStatus.OK, r.getStatus(), mode + ": " + r);
        assertEquals(100, r.getItems().size(), mode + ": k live items, k at the walk's width");
        for (long id : r.getItems()) {
          assertFalse(deadIds.contains(id), mode + " answered the deleted item " + id);
        }
      }
    }
  }
}
