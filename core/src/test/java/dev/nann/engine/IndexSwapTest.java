package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Index versions in the engine: a newer version becomes live, and a request stamped with an older
 * version that has already been let go is answered on the live one (no reload on a walker thread,
 * versions only move forward).
 */
class IndexSwapTest {
  private static final int DIM = 16;

  @TempDir
  Path dir;

  @Test
  void anOlderVersionLetGoIsAnsweredOnTheLiveOne() throws Exception {
    Corpus c = TestData.corpus(1000, DIM, 3);
    IndexDescriptor v1 = write(1, c);
    IndexDescriptor v2 = write(2, c);
    try (RetrievalEngine engine = new RetrievalEngine(TestData.engineConfig(TestData.model("attention", DIM), 1, dir))) {
      assertEquals(1L, ask(engine, v1).getIndexVersion());
      assertEquals(2L, ask(engine, v2).getIndexVersion(), "a newer version becomes live");
      RetrievalResponse late = ask(engine, v1);
      assertEquals(ResponseStatus.OK, late.getStatus(), late.toString());
      assertEquals(2L, late.getIndexVersion(), "v1 was let go: answered on the live version, not reloaded");
    }
  }

  private IndexDescriptor write(long version, Corpus c) {
    HnswIndex built = new HnswIndexBuilder().m(16).efConstruction(40).seed(version).version(version)
        .build(c.embeddings(), DIM, c.itemIds());
    return TestData.publish(built, dir.resolve("index-" + version + ".nann"));
  }

  private static RetrievalResponse ask(RetrievalEngine engine, IndexDescriptor index) throws Exception {
    RetrievalRequest req = RetrievalRequest.newBuilder().setRequestId("r").setUserId(1).setK(20).setMode("nann")
        .setCreatedAtMillis(System.currentTimeMillis()).build();
    ScoringTask task = ScoringTask.newBuilder().setRequest(req).setSequence(List.of(1L, 2L, 3L))
        .setIndex(index).build();
    return engine.submit(task).get(60, TimeUnit.SECONDS);
  }
}
