package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.dr.PathModel;
import dev.nann.engine.EngineConfig;
import dev.nann.engine.RetrievalEngine;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.FileCorpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mode=dr reads the path table index-sync put into the snapshot, so an item added after the DR
 * structure was trained is reachable through its nearest item's paths (trainer smoke outputs); a
 * snapshot whose paths another structure made is refused, not gathered from.
 */
class DrSnapshotServingTest {
  @TempDir
  Path dir;

  @Test
  void anItemAddedAfterTrainingIsGatheredThroughTheSnapshotsPathTable() throws Exception {
    Path smoke = Path.of(System.getProperty("nann.repo", "..")).resolve(".cache/trained-smoke").toAbsolutePath();
    Assumptions.assumeTrue(Files.exists(smoke.resolve("dr/dr.json")) && Files.exists(smoke.resolve("attention/corpus")),
        "no trainer smoke outputs at " + smoke + " (./test.sh makes them before the Java tests)");
    Corpus c = FileCorpus.load(smoke.resolve("attention/corpus"));
    int d = c.dim();
    Corpus.User user = c.users().get(0);
    List<Long> sequence = new ArrayList<>();
    for (int row : user.behavior()) {
      sequence.add(c.itemIds()[row]);
    }
    int beam = 3;
    long twinOf;
    Set<Long> gathered;
    int[][] best;
    long[] bestCodes;
    try (PathModel model = PathModel.load(smoke.resolve("dr"), d)) {
      best = model.beamSearch(model.userVector(c.features(user)), beam).paths();
      gathered = new java.util.HashSet<>(model.items(best));
      twinOf = gathered.iterator().next();
      bestCodes = Arrays.stream(best).mapToLong(model::code).toArray();
    }
    // the catalog plus one new item: an exact copy of a gathered item under an id DR never saw
    long newId = 999_999_999L;
    int twinRow = -1;
    for (int i = 0; i < c.itemIds().length; i++) {
      if (c.itemIds()[i] == twinOf) {
        twinRow = i;
      }
    }
    float[] emb = Arrays.copyOf(c.embeddings(), c.embeddings().length + d);
    System.arraycopy(c.embeddings(), twinRow * d, emb, c.embeddings().length, d);
    long[] ids = Arrays.copyOf(c.itemIds(), c.itemIds().length + 1);
    ids[ids.length - 1] = newId;
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1).build(emb, d, ids);
    HashMap<Long, long[]> assigned = new HashMap<>();
    built = built.withPaths(DrPathTable.load(smoke.resolve("dr")).forIndex(built, assigned));
    assertTrue(assigned.containsKey(newId), "the new item got paths");
    IndexDescriptor desc = new SnapshotPublisher(dir, 16, 40, 1).publish(built);

    try (RetrievalEngine engine = new RetrievalEngine(EngineConfig.builder(smoke.resolve("attention/model").toString()).walkerThreads(1).hnswEf(200)
        .snapshotDir(dir.toString()).provider("cpu", 0).deepRetrieval(smoke.resolve("dr").toString(), beam).build())) {
      // what the snapshot's table puts on the best paths: trained items, the twin, and the
      // corpus' distractors (also "new" to DR), each through its nearest item's paths
      java.util.BitSet onPaths = new java.util.BitSet();
      for (long code : bestCodes) {
        for (int node : built.paths().nodesOf(code)) {
          onPaths.set(node);
        }
      }
      assertTrue(onPaths.cardinality() > gathered.size(), "the snapshot table reaches more than the trained table");
      assertTrue(onPaths.cardinality() <= 1000, "the whole gathered set fits in one answer");
      RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("dr-new").setUserId(1).setK(1000)
          .setMode("dr").setCreatedAtMillis(System.currentTimeMillis()).build();
      RetrievalResponse r = engine.submit(ScoringTask.newBuilder().setRequest(req).setSequence(sequence).setIndex(desc)
          .build()).get(60, TimeUnit.SECONDS);
      assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
      assertTrue(r.getItems().contains(newId), "the new item is reachable in mode dr");
      assertEquals(onPaths.cardinality(), r.getItemsScored(), "exactly the items on the best paths are scored");
    }
  }

  /**
   * index-sync and serving pointed at different trainings: the snapshot's paths name the structure
   * index-sync read, serving loaded another, so mode dr answers SCORER_ERROR naming both instead of
   * gathering the items of unrelated paths; other modes still answer.
   */
  @Test
  void aSnapshotOfAnotherStructureIsRefusedInModeDr() throws Exception {
    Path smoke = Path.of(System.getProperty("nann.repo", "..")).resolve(".cache/trained-smoke").toAbsolutePath();
    Assumptions.assumeTrue(Files.exists(smoke.resolve("dr/dr.json")) && Files.exists(smoke.resolve("attention/corpus")),
        "no trainer smoke outputs at " + smoke + " (./test.sh makes them before the Java tests)");
    Corpus c = FileCorpus.load(smoke.resolve("attention/corpus"));
    // "another training": the same shape, another dr.json (a retrain records its own history)
    Path retrained = Files.createDirectories(dir.resolve("retrained"));
    Files.writeString(retrained.resolve("dr.json"),
        Files.readString(smoke.resolve("dr/dr.json")).replaceFirst("\\{", "{\"retrained\": true, "));
    Files.copy(smoke.resolve("dr/paths.tsv"), retrained.resolve("paths.tsv"));
    DrPathTable indexSyncs = DrPathTable.load(retrained);
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(c.embeddings(), c.dim(), c.itemIds());
    built = built.withPaths(indexSyncs.forIndex(built, new HashMap<>()));
    Path store = Files.createDirectories(dir.resolve("store"));
    IndexDescriptor desc = new SnapshotPublisher(store, 16, 40, 1).publish(built);
    List<Long> sequence = new ArrayList<>();
    for (int row : c.users().get(0).behavior()) {
      sequence.add(c.itemIds()[row]);
    }
    try (RetrievalEngine engine = new RetrievalEngine(EngineConfig.builder(smoke.resolve("attention/model").toString())
        .walkerThreads(1).hnswEf(200).snapshotDir(store.toString()).provider("cpu", 0)
        .deepRetrieval(smoke.resolve("dr").toString(), 3).build());
         PathModel serving = PathModel.load(smoke.resolve("dr"), c.dim())) {
      RetrievalResponse dr = ask(engine, desc, sequence, "dr");
      assertEquals(ResponseStatus.SCORER_ERROR, dr.getStatus(), dr.toString());
      assertTrue(dr.getDetail().contains(indexSyncs.structure().toString())
          && dr.getDetail().contains(serving.structure().toString()), dr.getDetail());
      assertEquals(ResponseStatus.OK, ask(engine, desc, sequence, "hnsw").getStatus(), "other modes still answer");
    }
  }

  private static RetrievalResponse ask(RetrievalEngine engine, IndexDescriptor desc, List<Long> sequence, String mode)
      throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("dr-" + mode).setUserId(1).setK(10)
        .setMode(mode).setCreatedAtMillis(System.currentTimeMillis()).build();
    return engine.submit(ScoringTask.newBuilder().setRequest(req).setSequence(sequence).setIndex(desc).build())
        .get(60, TimeUnit.SECONDS);
  }
}
