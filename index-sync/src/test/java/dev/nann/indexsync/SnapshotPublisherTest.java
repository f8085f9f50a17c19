package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotPublisherTest {
  @TempDir
  Path dir;

  @Test
  void publishesADescriptorThatNamesTheVerifiedFile() {
    Random rnd = new Random(4);
    int n = 800;
    int dim = 8;
    float[] emb = new float[n * dim];
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = 1000 + i;
      for (int j = 0; j < dim; j++) {
        emb[i * dim + j] = (float) rnd.nextGaussian();
      }
    }
    IndexDescriptor d = new SnapshotPublisher(dir, 8, 32, 1).publish(7, emb, dim, ids, 1, x -> { });
    assertEquals(7, d.getVersion());
    assertEquals(n, d.getItems());
    Path file = Path.of(java.net.URI.create(d.getUri()));
    assertTrue(Files.exists(file) && file.getFileName().toString().equals(SnapshotStore.fileName(7)));
    HnswIndex index = SnapshotFormat.read(file);
    assertEquals(d.getSha256(), index.sha256());
    assertEquals(d.getSha256(), SnapshotFormat.storedChecksum(file));
    java.util.Set<Long> seen = new java.util.HashSet<>();
    for (int node = 0; node < index.size(); node++) {
      seen.add(index.itemId(node));
    }
    assertEquals(n, seen.size(), "every item id present once after renumbering");
  }

  @Test
  void theNewestVersionInTheStoreIsFoundSoARestartNeverReusesIt() throws Exception {
    assertEquals(0, SnapshotPublisher.newestVersion(dir.resolve("missing")));
    assertEquals(0, SnapshotPublisher.newestVersion(dir));
    for (long v : new long[] {3, 12, 9}) {
      Files.writeString(dir.resolve(SnapshotStore.fileName(v)), "x");
    }
    Files.writeString(dir.resolve("index-v000000000099.nann.tmp"), "a write that never finished");
    Files.writeString(dir.resolve("notes.txt"), "not a snapshot");
    assertEquals(12, SnapshotPublisher.newestVersion(dir));
  }
}
