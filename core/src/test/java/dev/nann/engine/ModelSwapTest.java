package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.scorer.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot model swap in the engine, with real ONNX models and real snapshot files: a model is admitted
 * only after every check and warm-up, a failing one is refused while the previous keeps answering,
 * versions only move forward, and a model paired with a new index serves exactly that index.
 */
class ModelSwapTest {
  @TempDir
  static Path dir;
  static RetrievalEngine engine;
  static IndexDescriptor d16;
  static IndexDescriptor d64;

  @BeforeAll
  static void start() {
    d16 = snapshot(1, TestData.corpus(500, 16, 5));
    d64 = snapshot(2, TestData.corpus(500, 64, 6));
    engine = new RetrievalEngine(TestData.engineConfig(TestData.model("attention", 16), 2, dir));
  }

  @AfterAll
  static void stop() {
    engine.close();
  }

  @Test
  void swapsRefusesAndPairsModelsWithTheirIndex() throws Exception {
    String first = engine.modelVersion();
    assertEquals(first, ask(d16, null).getModelVersion());

    // a good model: admitted after its checks, then answers (tasks stamped with it and unstamped ones)
    ModelDescriptor m2 = model("dnn", 16, "m-2", null, false);
    engine.prefetch(m2).get(60, TimeUnit.SECONDS);
    assertEquals("m-2", engine.modelVersion());
    assertEquals("m-2", ask(d16, m2).getModelVersion());
    assertEquals("m-2", ask(d16, null).getModelVersion());

    // corrupt ONNX file, wrong model.json checksum, wrong dimension, ONNX files without checksums:
    // each refused, m-2 keeps answering
    ModelDescriptor corrupt = model("attention", 16, "m-3", null, true);
    ModelDescriptor badSum = model("two-sided", 16, "m-4", null, false);
    badSum.setSha256("00".repeat(32));
    ModelDescriptor wrongDim = model("attention", 64, "m-5", null, false);
    ModelDescriptor unpinned = model("dnn", 16, "m-6", null, false);
    ObjectMapper json = new ObjectMapper();
    Path unpinnedJson = Path.of(unpinned.getUri()).resolve("model.json");
    ObjectNode spec = (ObjectNode) json.readTree(unpinnedJson.toFile());
    spec.remove("sha256");
    json.writeValue(unpinnedJson.toFile(), spec);
    unpinned.setSha256(ModelSpec.sha256(unpinnedJson));
    for (ModelDescriptor bad : List.of(corrupt, badSum, wrongDim, unpinned)) {
      engine.prefetch(bad).get(60, TimeUnit.SECONDS);
      RetrievalResponse r = ask(d16, bad);
      assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
      assertEquals("m-2", r.getModelVersion(), bad.getVersion() + " must not answer");
    }
    assertEquals(4, engine.refusedModels());

    // versions only move forward: an older version arriving late is ignored, not swapped in
    ModelDescriptor older = model("two-sided", 16, "m-1", null, false);
    engine.prefetch(older).get(60, TimeUnit.SECONDS);
    assertEquals("m-2", engine.modelVersion());
    assertEquals("m-2", ask(d16, older).getModelVersion());

    // a d64 model paired with index 2: serves index 2 only; index 1 keeps its d16 model
    ModelDescriptor paired = model("attention", 64, "m-10", 2L, false);
    engine.prefetch(paired).get(60, TimeUnit.SECONDS);
    assertEquals("m-10", engine.modelVersion());
    assertEquals("m-2", ask(d16, paired).getModelVersion());
    // one more model for index 2 before it is live: the live index keeps the model that fits it
    ModelDescriptor paired2 = model("dnn", 64, "m-11", 2L, false);
    engine.prefetch(paired2).get(60, TimeUnit.SECONDS);
    assertEquals("m-11", engine.modelVersion());
    RetrievalResponse stillOld = ask(d16, paired2);
    assertEquals(ResponseStatus.OK, stillOld.getStatus(), stillOld.toString());
    assertEquals("m-2", stillOld.getModelVersion());
    RetrievalResponse onNew = ask(d64, paired);
    assertEquals(ResponseStatus.OK, onNew.getStatus(), onNew.toString());
    assertEquals("m-11", onNew.getModelVersion(), "m-10 was let go; the newest model for index 2 answers");
    assertEquals(2L, onNew.getIndexVersion());
    assertEquals(4, engine.refusedModels());
  }

  @Test
  void modelVersionsCompareNumerically() {
    assertTrue(ModelVersions.compare("m-9", "m-10") < 0);
    assertTrue(ModelVersions.compare("m-10.1", "m-10") > 0);
    assertTrue(ModelVersions.compare("2026-11-25T09", "2026-11-25T10") < 0);
    assertTrue(ModelVersions.compare("v007", "v7") > 0);
    assertEquals(0, ModelVersions.compare("abc", "abc"));
    assertTrue(ModelVersions.compare("a", "b") < 0);
  }

  private static RetrievalResponse ask(IndexDescriptor index, ModelDescriptor model) throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(20).setMode("nann")
        .setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L)).setIndex(index).setModel(model)
        .build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }

  private static IndexDescriptor snapshot(long version, Corpus c) {
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(1).version(version)
        .build(c.embeddings(), c.dim(), c.itemIds());
    return TestData.publish(built, dir.resolve("index-" + version + ".snap"));
  }

  /** A copy of a fixture model under a new version, optionally with one ONNX file corrupted. */
  private static ModelDescriptor model(String arch, int d, String version, Long indexVersion, boolean corrupt)
      throws IOException {
    ModelDescriptor m = TestData.modelCopy(arch, d, dir, version, indexVersion);
    if (corrupt) {
      Path score = dir.resolve(version).resolve("score.onnx");
      byte[] b = Files.readAllBytes(score);
      b[b.length / 2] ^= 0x33;
      Files.write(score, b);
    }
    return m;
  }
}
