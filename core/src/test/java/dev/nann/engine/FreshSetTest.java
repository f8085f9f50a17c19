package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.ItemIdLookup;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.scorer.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fresh set on a real snapshot and ONNX model: upserts are returnable before any snapshot holds
 * them (with the new embedding's score, once per item), deletes are never returned, older and
 * repeated changes are ignored, and a snapshot that holds a change takes it out of the set. A swap
 * to an index of another dimension takes the upserts of the old one out; an empty index answers
 * the fresh set alone.
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
      assertEquals(ChangeOutcome.HELD, set.apply(upsert(id, v, 1)));
    }
    assertEquals(ChangeOutcome.REFUSED, set.apply(upsert(1000, v, 1)), "full: the upsert waits for the next snapshot");
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(5, v, 1)), "a repeat of a held change is not a new entry");
    assertEquals(ChangeOutcome.HELD, set.apply(ItemEmbedding.newBuilder().setItemId(2000).setEmbedding(List.of())
        .setDeleted(true).setUpdatedAtMillis(2).build()), "deletes are taken up to twice the size: a deleted item must not be served");
    assertEquals(100, set.view().liveUpserts());
    for (long id = 2001; id < 2200; id++) {
      set.apply(ItemEmbedding.newBuilder().setItemId(id).setEmbedding(List.of()).setDeleted(true).setUpdatedAtMillis(2)
          .build());
    }
    assertEquals(200, set.view().count(), "deletes stop at twice the size too");
  }

  @Test
  void oneItemChangedAgainAndAgainDoesNotFillTheSet() {
    FreshSet set = new FreshSet(DIM, 100);
    float[] v = new float[DIM];
    for (int round = 1; round <= 500; round++) {
      v[0] = round;
      assertEquals(ChangeOutcome.HELD, set.apply(upsert(7, v, round)), "round " + round + ": one item's older copies take no room");
    }
    for (long id = 100; id < 199; id++) {
      assertEquals(ChangeOutcome.HELD, set.apply(upsert(id, v, 1)), "other items still join: " + id);
    }
    assertEquals(ChangeOutcome.REFUSED, set.apply(upsert(1000, v, 1)), "100 live items: full");
    assertEquals(100, set.view().liveUpserts());
  }

  @Test
  void aChangeRefusedByAFullSetLetsTheItemsOlderCopyGoSoTheNextSnapshotServesIt() {
    Corpus c = TestData.corpus(300, DIM, 3);
    long a = c.itemIds()[10];
    float[] e1 = new float[DIM];
    e1[0] = 1;
    float[] e2 = new float[DIM];
    e2[0] = 2;
    FreshSet set = new FreshSet(DIM, 3);
    set.rebase(loaded(1, c.embeddings(), DIM, c.itemIds()));
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(a, e1, 1)));
    assertTrue(set.view().shadows(set.view().base().ids().nodeOf(a)), "the fresh copy hides the snapshot's");
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(900_001, e1, 1)));
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(900_002, e1, 1)));
    assertEquals(ChangeOutcome.REFUSED, set.apply(upsert(a, e2, 2)), "full: e2 waits for a snapshot");
    assertFalse(set.holds(a), "e1 is obsolete: it left the set");
    assertFalse(set.view().shadows(set.view().base().ids().nodeOf(a)), "the snapshot's copy serves meanwhile");
    // the next snapshot holds e2; no stale e1 hides it
    float[] emb2 = c.embeddings().clone();
    System.arraycopy(e2, 0, emb2, 10 * DIM, DIM);
    set.rebase(loaded(2, emb2, DIM, c.itemIds()));
    FreshSet.View view = set.view();
    assertFalse(view.shadows(view.base().ids().nodeOf(a)));
    assertEquals(2, view.liveUpserts(), "the two new items stay, a's change is the snapshot's");
  }

  /** Serving keeps a checkpointed copy of the set: the outcome says exactly what to keep of each change. */
  @Test
  void eachChangeSaysWhetherTheSetHoldsItTheSnapshotDoesOrItWasStale() {
    Corpus c = TestData.corpus(300, DIM, 3);
    FreshSet set = new FreshSet(DIM, 100);
    set.rebase(loaded(1, c.embeddings(), DIM, c.itemIds()));
    long a = c.itemIds()[10];
    float[] inSnapshot = row(c, a);
    assertEquals(ChangeOutcome.IN_SNAPSHOT, set.apply(upsert(a, inSnapshot, 5)), "the same embedding again");
    assertEquals(ChangeOutcome.IN_SNAPSHOT, set.apply(ItemEmbedding.newBuilder().setItemId(900_000).setEmbedding(List.of())
        .setDeleted(true).setUpdatedAtMillis(5).build()), "a delete of an item no snapshot holds");
    assertEquals(0, set.view().count(), "neither takes room");
    float[] moved = inSnapshot.clone();
    moved[0] += 1;
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(a, moved, 6)));
    // a repeat: another subtask sharing the engine applied it first; it must keep its own copy too
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(a, moved, 6)), "a repeat (another subtask's broadcast)");
    assertEquals(1, set.view().count(), "not a second entry");
    assertEquals(ChangeOutcome.STALE, set.apply(upsert(a, inSnapshot, 4)), "older than the held change");
    assertTrue(set.holds(a), "a stale change leaves the held one alone");
    assertEquals(ChangeOutcome.IN_SNAPSHOT, set.apply(upsert(a, inSnapshot, 7)), "changed back to the snapshot's");
    assertFalse(set.holds(a), "the held change left");
  }

  /** A change of attributes alone (out of stock, a new price band) is a change: filters must see it at once. */
  @Test
  void anAttributeOnlyChangeIsHeldUntilASnapshotHoldsThoseAttributes() {
    Corpus c = TestData.corpus(300, DIM, 3);
    long a = c.itemIds()[10];
    java.util.function.LongFunction<java.util.Map<String, String>> before =
        id -> java.util.Map.of("stock", "in", "shelf", "s" + id % 3);
    FreshSet set = new FreshSet(DIM, 100);
    set.rebase(withAttributes(loaded(1, c.embeddings(), DIM, c.itemIds()), before));
    ItemEmbedding same = ItemEmbedding.newBuilder(upsert(a, row(c, a), 5)).setAttributes(before.apply(a)).build();
    assertEquals(ChangeOutcome.IN_SNAPSHOT, set.apply(same), "the same embedding and attributes again");
    ItemEmbedding outOfStock = ItemEmbedding.newBuilder(same).setUpdatedAtMillis(6)
        .setAttributes(java.util.Map.of("stock", "out", "shelf", "s" + a % 3)).build();
    assertEquals(ChangeOutcome.HELD, set.apply(outOfStock), "only the attributes changed");
    ItemEmbedding other = ItemEmbedding.newBuilder(outOfStock).setAttributes(java.util.Map.of("stock", "back")).build();
    assertEquals(ChangeOutcome.HELD, set.apply(other), "same stamp, other attributes: not a repeat");
    assertEquals(java.util.Map.of("stock", "back"), set.view().attributes(set.view().count() - 1));
    set.rebase(withAttributes(loaded(2, c.embeddings(), DIM, c.itemIds()), before));
    assertTrue(set.holds(a), "a snapshot with the old attributes does not hold the change");
    set.rebase(withAttributes(loaded(3, c.embeddings(), DIM, c.itemIds()),
        id -> id == a ? java.util.Map.of("stock", "back") : before.apply(id)));
    assertFalse(set.holds(a), "one with the new attributes does");
  }

  private static LoadedIndex withAttributes(LoadedIndex l, java.util.function.LongFunction<java.util.Map<String, String>> of) {
    List<java.util.Map<String, String>> perNode = new ArrayList<>();
    for (int node = 0; node < l.index().size(); node++) {
      perNode.add(of.apply(l.index().itemId(node)));
    }
    HnswIndex index = l.index().withAttributes(dev.nann.graph.ItemAttributes.of(perNode));
    return new LoadedIndex(l.version(), index, ItemIdLookup.of(index), 0L);
  }

  @Test
  void withAShardedIndexChangesTheCurrentVersionHoldsDoNotJoin() {
    float[] v = new float[DIM];
    v[0] = 3;
    // the current sharded version: holds item 5 at v, and not item 999
    FreshSet.Holder version = (id, deleted, emb, offset, attrs) -> deleted ? id != 5 : id == 5 && emb[offset] == 3;
    FreshSet set = new FreshSet(DIM, 100);
    set.dropHeld(version, DIM);
    assertEquals(ChangeOutcome.IN_SNAPSHOT, set.apply(upsert(5, v, 1)));
    assertEquals(ChangeOutcome.IN_SNAPSHOT, set.apply(ItemEmbedding.newBuilder().setItemId(999).setEmbedding(List.of())
        .setDeleted(true).setUpdatedAtMillis(1).build()));
    assertFalse(set.holds(5), "a catalogue published again: the version holds the upsert already");
    assertFalse(set.holds(999), "a delete of an item the version lacks");
    v[0] = 4;
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(5, v, 2)));
    assertTrue(set.holds(5), "a real change joins");
  }

  @Test
  void aBaseOfAnotherDimensionTakesTheDeletesButNotTheUpserts() {
    Corpus c16 = TestData.corpus(300, DIM, 3);
    Corpus c64 = TestData.corpus(300, 64, 4);
    LoadedIndex d16 = loaded(1, c16.embeddings(), DIM, c16.itemIds());
    LoadedIndex d64 = loaded(2, c64.embeddings(), 64, c16.itemIds());   // the same items, a new item tower
    FreshSet set = new FreshSet(DIM, 1000);
    set.rebase(d16);
    for (int i = 0; i < 100; i++) {
      assertEquals(ChangeOutcome.HELD, set.apply(upsert(8_000_000L + i, row(c16, c16.itemIds()[i]), 1)));
    }
    long gone = c16.itemIds()[7];
    set.apply(ItemEmbedding.newBuilder().setItemId(gone).setEmbedding(List.of()).setDeleted(true).setUpdatedAtMillis(1)
        .build());
    set.rebase(d64);
    FreshSet.View v = set.view();
    assertEquals(64, v.dim(), "the set takes the new base's dimension");
    assertEquals(0, v.liveUpserts(), "no model of dim 64 can score the dim-16 upserts: they leave");
    assertEquals(1, v.count(), "the delete stays: the new snapshot still holds the item");
    assertTrue(v.isDelete(0));
    assertEquals(gone, v.itemId(0));
    assertTrue(v.shadows(d64.ids().nodeOf(gone)), "and hides the new snapshot's copy");
    IllegalArgumentException old = assertThrows(IllegalArgumentException.class,
        () -> set.apply(upsert(8_100_000L, new float[DIM], 2)));
    assertTrue(old.getMessage().contains("16 values") && old.getMessage().contains("dim 64"), old.getMessage());
    assertEquals(ChangeOutcome.HELD, set.apply(upsert(8_100_000L, new float[64], 2)));
    assertEquals(1, set.view().liveUpserts());
  }

  @Test
  void freshItemsOfTheOldDimensionAreNotScoredAfterASwap() throws Exception {
    Corpus c16 = TestData.corpus(500, DIM, 5);
    Corpus c64 = TestData.corpus(500, 64, 6);
    IndexDescriptor v1 = write(1, c16.embeddings(), DIM, c16.itemIds());
    IndexDescriptor v2 = write(2, c64.embeddings(), 64, c16.itemIds());
    try (RetrievalEngine engine = new RetrievalEngine(config())) {
      assertEquals(ResponseStatus.OK, ask(engine, v1, "brute", 20).getStatus());
      // more rows than the d16 array holds at a stride of 64 (63): reading them so once failed every request
      for (int i = 0; i < 100; i++) {
        assertEquals(ChangeOutcome.HELD, engine.applyChange(upsert(8_000_000L + i, row(c16, c16.itemIds()[i]), 10)));
      }
      assertEquals(100, engine.freshCount());
      engine.prefetch(pairedModel(64, "m-10", 2L)).get(60, TimeUnit.SECONDS);
      for (String mode : List.of("brute", "nann", "hnsw")) {
        RetrievalResponse r = ask(engine, v2, mode, 20);
        assertEquals(ResponseStatus.OK, r.getStatus(), mode + ": " + r);
        assertEquals(2L, r.getIndexVersion());
        assertTrue(r.getItems().stream().allMatch(id -> id < 8_000_000L), mode + ": an old upsert was scored "
            + r.getItems());
      }
      assertEquals(0, engine.freshCount(), "the dim-16 upserts left with the swap to dim 64");
      long refused = engine.freshRefusedCount();
      assertEquals(ChangeOutcome.REFUSED, engine.applyChange(upsert(8_100_000L, new float[DIM], 20)), "a dim-16 upsert on a dim-64 index");
      assertEquals(refused + 1, engine.freshRefusedCount());
      // an upsert of the new dimension, cloned from the best item, joins at once
      long best = ask(engine, v2, "brute", 20).getItems().get(0);
      assertEquals(ChangeOutcome.HELD, engine.applyChange(upsert(8_200_000L, row(c64, best, 64, c16.itemIds()), 20)));
      RetrievalResponse after = ask(engine, v2, "brute", 20);
      assertTrue(after.getItems().subList(0, 2).contains(8_200_000L), after.getItems().toString());
    }
  }

  @Test
  void anEmptyIndexAnswersTheFreshSetAlone() throws Exception {
    IndexDescriptor empty = write(1, new float[0], DIM, new long[0]);
    try (RetrievalEngine engine = new RetrievalEngine(config())) {
      for (String mode : List.of("brute", "nann", "beam", "hnsw")) {
        RetrievalResponse r = ask(engine, empty, mode, 20);
        assertNotEquals(ResponseStatus.UNKNOWN, r.getStatus(), mode + ": " + r);
        assertTrue(r.getItems().isEmpty(), mode + ": " + r.getItems());
      }
      float[] v = new float[DIM];
      v[0] = 1f;
      engine.applyChange(upsert(42L, v, 1));
      for (String mode : List.of("brute", "nann", "beam", "hnsw")) {
        RetrievalResponse r = ask(engine, empty, mode, 20);
        assertEquals(List.of(42L), r.getItems(), mode + ": the fresh item alone, " + r);
      }
    }
  }

  private IndexDescriptor write(long version, float[] emb, long[] ids) {
    return write(version, emb, DIM, ids);
  }

  private IndexDescriptor write(long version, float[] emb, int dim, long[] ids) {
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(version).build(emb, dim, ids);
    return TestData.publish(built, dir.resolve("index-" + version + ".nann"));
  }

  private static LoadedIndex loaded(long version, float[] emb, int dim, long[] ids) {
    HnswIndex index = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(version).build(emb, dim, ids);
    return new LoadedIndex(version, index, ItemIdLookup.of(index), 0L);
  }

  /** A copy of the attention fixture of dim {@code d} under a new version, paired with an index version. */
  private ModelDescriptor pairedModel(int d, String version, long indexVersion) throws IOException {
    return TestData.modelCopy("attention", d, dir, version, indexVersion);
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
    return row(c, id, DIM, c.itemIds());
  }

  /** The row of {@code c} that {@code ids} names {@code id} (an index built from c's rows under those ids). */
  private static float[] row(Corpus c, long id, int dim, long[] ids) {
    int i = Arrays.stream(ids).boxed().toList().indexOf(id);
    return Arrays.copyOfRange(c.embeddings(), i * dim, (i + 1) * dim);
  }

  private static float[] concat(List<float[]> rows) {
    float[] out = new float[rows.size() * DIM];
    for (int i = 0; i < rows.size(); i++) {
      System.arraycopy(rows.get(i), 0, out, i * DIM, DIM);
    }
    return out;
  }
}
