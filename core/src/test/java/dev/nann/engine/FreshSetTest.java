package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fresh set on a real snapshot and ONNX model: upserts are returnable before any snapshot holds
 * them (with the new embedding's score, once per item), deletes are never returned, older and
 * repeated changes are ignored, and a snapshot that holds a change takes it out of the set.
 */
class FreshSetTest {
  private static final int DIM = 16;

  @TempDir
  Path dir;

  @Test
  void changesActAtOnceAndLeaveWhenASnapshotHoldsThem() throws Exception {
    Corpus c = TestData.corpus(2000, DIM, 5);
    IndexDescriptor v1 = write(1, c.embeddings(), c.itemIds());
    try (RetrievalEngine engine = new RetrievalEngine(config())) {
      RetrievalResponse before = ask(engine, v1, "brute", 20);
      assertEquals(ResponseStatus.OK, before.getStatus(), before.toString());
      long best = before.getItems().get(0);
      float bestScore = before.getScores().get(0);
      long worstKept = before.getItems().get(19);
      long third = before.getItems().get(2);
      float[] bestRow = row(c, best);

      // a new item cloned from the best one, an update moving the 20th item onto it, a delete
      long fresh = 7_000_001L;
      engine.applyChange(upsert(fresh, bestRow, 10));
      engine.applyChange(upsert(worstKept, bestRow, 10));
      engine.applyChange(ItemEmbedding.newBuilder().setItemId(third).setEmbedding(List.of()).setDeleted(true)
          .setUpdatedAtMillis(10).build());
      engine.applyChange(upsert(worstKept, bestRow, 10));   // repeated (another subtask): no second copy
      engine.applyChange(upsert(worstKept, row(c, third), 5));   // older than the kept change: ignored
      assertEquals(2, engine.freshCount());

      for (String mode : List.of("brute", "nann", "hnsw")) {
        RetrievalResponse r = ask(engine, v1, mode, 20);
        assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
        assertTrue(r.getItems().contains(fresh), mode + ": the upserted item is returnable at once " + r.getItems());
        assertFalse(r.getItems().contains(third), mode + ": a deleted item is never returned");
        assertEquals(r.getItems().size(), new HashSet<>(r.getItems()).size(), mode + ": one copy per item");
        if (mode.equals("brute")) {
          int at = r.getItems().indexOf(worstKept);
          assertTrue(at >= 0 && at <= 2, "the updated item is scored on its new embedding: " + r.getItems());
          assertEquals(bestScore, r.getScores().get(at), 1e-4f);
          assertEquals(bestScore, r.getScores().get(r.getItems().indexOf(fresh)), 1e-4f);
          assertTrue(r.getItemsScored() >= c.size(), "brute force scores the index and the fresh upserts");
        }
      }

      // v2 holds the update and the delete, not the new item: only the new item stays fresh
      List<Long> ids = new ArrayList<>();
      List<float[]> rows = new ArrayList<>();
      for (long id : c.itemIds()) {
        if (id != third) {
          ids.add(id);
          rows.add(id == worstKept ? bestRow : row(c, id));
        }
      }
      IndexDescriptor v2 = write(2, concat(rows), ids.stream().mapToLong(Long::longValue).toArray());
      RetrievalResponse after = ask(engine, v2, "brute", 20);
      assertEquals(2L, after.getIndexVersion());
      assertEquals(1, engine.freshCount(), "v2 holds the update and the delete");
      assertTrue(after.getItems().contains(fresh));
      assertTrue(after.getItems().contains(worstKept));
      assertFalse(after.getItems().contains(third));
      assertEquals(after.getItems().size(), new HashSet<>(after.getItems()).size());

      // deleting the fresh item takes it out at once; a later snapshot without it empties the set
      engine.applyChange(ItemEmbedding.newBuilder().setItemId(fresh).setEmbedding(List.of()).setDeleted(true)
          .setUpdatedAtMillis(20).build());
      assertEquals(0, engine.freshCount());
      assertFalse(ask(engine, v2, "brute", 20).getItems().contains(fresh));
    }
  }

  @Test
  void growsPastItsFirstCapacityAndKeepsOneEntryPerItem() {
    FreshSet set = new FreshSet(DIM, 10_000);
    float[] v = new float[DIM];
    for (int round = 1; round <= 3; round++) {
      for (long id = 0; id < 1000; id++) {
        v[0] = round;
        set.apply(upsert(id, v, round));
      }
    }
    FreshSet.View view = set.view();
    assertEquals(1000, view.liveUpserts());
    Set<Long> live = new HashSet<>();
    for (int e = 0; e < view.count(); e++) {
      if (!view.isSuperseded(e)) {
        assertTrue(live.add(view.itemId(e)), "one live entry per item");
        assertEquals(3f, view.embeddings()[e * DIM], "the newest change is the live one");
      }
    }
    assertEquals(1000, live.size());
  }

  @Test
  void aFullSetRefusesUpsertsButStillTakesDeletes() {
    FreshSet set = new FreshSet(DIM, 100);
    float[] v = new float[DIM];
    for (long id = 0; id < 100; id++) {
      assertTrue(set.apply(upsert(id, v, 1)));
    }
    assertFalse(set.apply(upsert(1000, v, 1)), "full: the upsert waits for the next snapshot");
    assertTrue(set.apply(upsert(5, v, 1)), "a repeat of a held change is not a new entry");
    assertTrue(set.apply(ItemEmbedding.newBuilder().setItemId(2000).setEmbedding(List.of()).setDeleted(true)
        .setUpdatedAtMillis(2).build()), "deletes are taken up to twice the size: a deleted item must not be served");
    assertEquals(100, set.view().liveUpserts());
    for (long id = 2001; id < 2200; id++) {
      set.apply(ItemEmbedding.newBuilder().setItemId(id).setEmbedding(List.of()).setDeleted(true).setUpdatedAtMillis(2)
          .build());
    }
    assertEquals(200, set.view().count(), "deletes stop at twice the size too");
  }

  private IndexDescriptor write(long version, float[] emb, long[] ids) {
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(version).build(emb, DIM, ids);
    return TestData.publish(built, dir.resolve("index-" + version + ".nann"));
  }

  private EngineConfig config() {
    return TestData.engineConfig(TestData.model("attention", DIM), 1, dir);
  }

  private static RetrievalResponse ask(RetrievalEngine engine, IndexDescriptor index, String mode, int k)
      throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(k).setMode(mode)
        .setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L, 4L))
        .setIndex(index).build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }

  private static ItemEmbedding upsert(long id, float[] v, long at) {
    List<Float> list = new ArrayList<>();
    for (float x : v) {
      list.add(x);
    }
    return ItemEmbedding.newBuilder().setItemId(id).setEmbedding(list).setUpdatedAtMillis(at).build();
  }

  private static float[] row(Corpus c, long id) {
    int i = Arrays.stream(c.itemIds()).boxed().toList().indexOf(id);
    return Arrays.copyOfRange(c.embeddings(), i * DIM, (i + 1) * DIM);
  }

  private static float[] concat(List<float[]> rows) {
    float[] out = new float[rows.size() * DIM];
    for (int i = 0; i < rows.size(); i++) {
      System.arraycopy(rows.get(i), 0, out, i * DIM, DIM);
    }
    return out;
  }
}
