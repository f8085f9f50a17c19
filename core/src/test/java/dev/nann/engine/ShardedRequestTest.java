package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.ShardSnapshot;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.shard.ShardAssignment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A scattered task on a real shard snapshot and ONNX model: a request is validated before its
 * shard plan is made, so a k out of range is INVALID with its reason, never an internal error.
 */
class ShardedRequestTest {
  private static final int DIM = 16;
  private static final int SHARDS = 2;

  @TempDir
  Path dir;

  @Test
  void aKOutOfRangeOnAShardIsInvalidNotAnInternalError() throws Exception {
    Corpus c = TestData.corpus(600, DIM, 8);
    List<ShardSnapshot> shards = new ArrayList<>();
    for (int s = 0; s < SHARDS; s++) {
      shards.add(shard(c, s));
    }
    IndexDescriptor manifest = IndexDescriptor.newBuilder().setVersion(1).setUri(dir.resolve("manifest-1").toString())
        .setSha256("00".repeat(32)).setItems(c.size()).setDim(DIM).setCreatedAtMillis(1).setShards(shards).build();
    EngineConfig cfg = EngineConfig.builder(TestData.model("attention", DIM).toString()).walkerThreads(1).hnswEf(200)
        .snapshotDir(dir.toString()).modelRoot(dir.toString()).provider("cpu", 0).shards(SHARDS, 0).build();
    try (RetrievalEngine engine = new RetrievalEngine(cfg)) {
      RetrievalResponse ok = ask(engine, manifest, 20);
      assertTrue(ok.getStatus() == ResponseStatus.OK || ok.getStatus() == ResponseStatus.COLD_START, ok.toString());
      assertFalse(ok.getItems().isEmpty());
      for (int k : new int[] {2_000_000_000, cfg.maxK() + 1, 0}) {
        RetrievalResponse r = ask(engine, manifest, k);
        assertEquals(ResponseStatus.INVALID, r.getStatus(), "k=" + k + ": " + r);
        assertTrue(r.getDetail().startsWith("k=" + k + " is out of range"), r.getDetail());
        assertEquals(1L, r.getIndexVersion());
      }
    }
  }

  /**
   * Mode dr scores every item it gathers on a shard exactly, as brute force does, so each shard
   * returns the full k of its gathered items, not the share of k a walk is sized for: the one shard
   * holding more than that share of the user's best items keeps them.
   */
  @Test
  void deepRetrievalOnAShardReturnsTheFullK() throws Exception {
    Path smoke = TestData.repo().resolve(".cache/trained-smoke");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(smoke.resolve("dr/dr.json"))
        && Files.exists(smoke.resolve("attention/corpus")), "no trainer smoke outputs at " + smoke
        + " (./test.sh makes them before the Java tests)");
    Corpus c = dev.nann.corpus.FileCorpus.load(smoke.resolve("attention/corpus"));
    List<ShardSnapshot> shards = new ArrayList<>();
    for (int s = 0; s < SHARDS; s++) {
      shards.add(shard(c, s));
    }
    IndexDescriptor manifest = IndexDescriptor.newBuilder().setVersion(1).setUri(dir.resolve("manifest-1").toString())
        .setSha256("00".repeat(32)).setItems(c.size()).setDim(c.dim()).setCreatedAtMillis(1).setShards(shards).build();
    EngineConfig cfg = EngineConfig.builder(smoke.resolve("attention/model").toString()).walkerThreads(1)
        .snapshotDir(dir.toString()).modelRoot(dir.toString()).provider("cpu", 0).shards(SHARDS, 0)
        .deepRetrieval(smoke.resolve("dr").toString(), 5).build();
    int k = 40;
    assertTrue(dev.nann.shard.ShardPlan.of(SHARDS, k, cfg.search()).shardK() < k, "a walk's share is below k");
    try (RetrievalEngine engine = new RetrievalEngine(cfg)) {
      RetrievalResponse r = ask(engine, manifest, k, "dr");
      assertTrue(r.getStatus() == ResponseStatus.OK, r.toString());
      assertTrue(r.getItemsScored() >= k, "the test needs a shard gathering k items: " + r.getItemsScored());
      assertEquals(k, r.getItems().size(), r.toString());
    }
  }

  /** Shard {@code s} of the corpus (the items the assignment gives it) as a snapshot of version 1. */
  private ShardSnapshot shard(Corpus c, int s) {
    List<Integer> rows = new ArrayList<>();
    for (int i = 0; i < c.size(); i++) {
      if (ShardAssignment.shardOf(c.itemIds()[i], SHARDS) == s) {
        rows.add(i);
      }
    }
    int dim = c.dim();
    float[] emb = new float[rows.size() * dim];
    long[] ids = new long[rows.size()];
    for (int j = 0; j < rows.size(); j++) {
      System.arraycopy(c.embeddings(), rows.get(j) * dim, emb, j * dim, dim);
      ids[j] = c.itemIds()[rows.get(j)];
    }
    IndexDescriptor file = TestData.publish(new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(1)
        .build(emb, dim, ids), dir.resolve("shard-1-" + s + ".nann"));
    return ShardSnapshot.newBuilder().setShard(s).setVersion(1).setUri(file.getUri()).setSha256(file.getSha256())
        .setItems(file.getItems()).build();
  }

  private static RetrievalResponse ask(RetrievalEngine engine, IndexDescriptor manifest, int k) throws Exception {
    return ask(engine, manifest, k, "nann");
  }

  private static RetrievalResponse ask(RetrievalEngine engine, IndexDescriptor manifest, int k, String mode)
      throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(k).setMode(mode)
        .setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L)).setIndex(manifest)
        .setShard(0).build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }
}
