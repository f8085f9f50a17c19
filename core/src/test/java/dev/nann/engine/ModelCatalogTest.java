package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nann.TestData;
import dev.nann.corpus.Corpus;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.scorer.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model catalogue with real ONNX models: the default serves until a checked model is admitted,
 * a refused model never serves and says why, a stamped model answers when it fits the index, and a
 * model of another item dimension never answers an index it does not fit.
 */
class ModelCatalogTest {
  @TempDir
  Path dir;

  @Test
  void admitsChecksAndChoosesModels() throws Exception {
    LoadedIndex d16 = loaded(1, TestData.corpus(200, 16, 1));
    LoadedIndex d64 = loaded(2, TestData.corpus(200, 64, 2));
    Path def = TestData.model("attention", 16);
    EngineConfig cfg = TestData.engineConfig(def, 1, dir);
    try (ModelCatalog catalog = new ModelCatalog(cfg, ModelSpec.read(def), Runnable::run, () -> d16)) {
      String first = catalog.defaultVersion();
      assertEquals(first, catalog.newestVersion());
      try (var lease = catalog.lease(null, d16, 0)) {
        assertEquals(first, lease.value().version());
      }
      assertNull(catalog.lease(null, d64, 0), "no model scores d64 items");

      ModelDescriptor m2 = copy("dnn", 16, "m-2");
      catalog.prefetch(m2).get(60, TimeUnit.SECONDS);
      assertEquals("m-2", catalog.newestVersion());
      ModelDescriptor stampedFirst = ModelDescriptor.newBuilder(m2).setVersion(first).build();
      try (var lease = catalog.lease(stampedFirst, d16, 0)) {
        assertEquals(first, lease.value().version(), "a task stamped with an accepted model that fits keeps it");
      }

      ModelDescriptor badSum = copy("two-sided", 16, "m-3");
      badSum.setSha256("00".repeat(32));
      catalog.prefetch(badSum).get(60, TimeUnit.SECONDS);
      assertEquals("m-2", catalog.newestVersion());
      assertEquals(1, catalog.refusedCount());
      assertTrue(catalog.refusal("m-3").contains("SHA-256"), catalog.refusal("m-3"));
      assertEquals(" (model m-3 was refused; the job's log says why)", catalog.refusalOf(badSum),
          "clients learn that a model was refused, not the file-system details of why");
      try (var lease = catalog.lease(badSum, d16, 0)) {
        assertEquals("m-2", lease.value().version(), "a refused model never serves");
      }

      ModelDescriptor wrongDim = copy("attention", 64, "m-4");   // names no index: must fit the live d16 one
      catalog.prefetch(wrongDim).get(60, TimeUnit.SECONDS);
      assertEquals(2, catalog.refusedCount());
      assertTrue(catalog.refusal("m-4").contains("dim 64"), catalog.refusal("m-4"));
    }
  }

  @Test
  void aRestoredCatalogServesTheNewestModelItAcceptsAndMakesTasksWaitForIt() throws Exception {
    LoadedIndex d16 = loaded(1, TestData.corpus(200, 16, 1));
    Path def = TestData.model("attention", 16);
    EngineConfig cfg = TestData.engineConfig(def, 1, dir);
    ModelDescriptor m2 = copy("dnn", 16, "m-2");
    ModelDescriptor m3 = copy("two-sided", 16, "m-3");
    m3.setSha256("00".repeat(32));   // refused, as it was before the restart
    java.util.concurrent.ExecutorService loader = java.util.concurrent.Executors.newSingleThreadExecutor();
    try (ModelCatalog catalog = new ModelCatalog(cfg, ModelSpec.read(def), loader, () -> d16)) {
      var restored = catalog.restore(java.util.List.of(m3, m2));
      // asked at once: the task waits for the restore instead of taking the configured default
      try (var lease = catalog.lease(m3, d16, 0)) {
        assertEquals("m-2", lease.value().version(), "the model that served before m-3 was refused");
      }
      assertTrue(restored.isDone());
      assertEquals(restored, catalog.restore(java.util.List.of(m2)), "every subtask restores; the first call counts");
      assertTrue(catalog.refusal("m-3").contains("SHA-256"));
    } finally {
      loader.shutdownNow();
    }
    // the newest model pairs with an index not live yet: the one before it serves the live index
    ModelDescriptor paired = TestData.modelCopy("attention", 16, dir, "m-4", 5L);
    loader = java.util.concurrent.Executors.newSingleThreadExecutor();
    try (ModelCatalog catalog = new ModelCatalog(cfg, ModelSpec.read(def), loader, () -> d16)) {
      catalog.restore(java.util.List.of(paired, m2));
      try (var lease = catalog.lease(paired, d16, 0)) {
        assertEquals("m-2", lease.value().version(), "m-4 serves index versions >= 5 only");
      }
    } finally {
      loader.shutdownNow();
    }
  }

  private static LoadedIndex loaded(long version, Corpus c) {
    HnswIndex index = TestData.index(c, 16);
    return new LoadedIndex(version, index, ItemIdLookup.of(index), 0L);
  }

  /** A copy of a fixture model under a new version. */
  private ModelDescriptor copy(String arch, int d, String version) throws IOException {
    return TestData.modelCopy(arch, d, dir, version, null);
  }
}
