package dev.nann.dr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.TestData;
import dev.nann.graph.DrStructureId;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.ItemIdLookup;
import dev.nann.graph.ItemPaths;
import dev.nann.scorer.ScorerException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A DR structure's identity: the same files give the same identity wherever they are copied, any
 * other training another; serving gathers from a snapshot's paths only when they belong to the
 * structure it loaded (or name none, as snapshots written before did).
 */
class StructureIdentityTest {
  @TempDir
  Path tmp;

  @Test
  void theIdentityFollowsTheFilesNotTheirPlace() throws IOException {
    Path a = structure("a", "{\"depth\": 2, \"width\": 4, \"paths_per_item\": 2, \"seconds\": 1.5}", "1\t0.1,3.3\n2\t1.2\n");
    Path copy = structure("copy", Files.readString(a.resolve("dr.json")), Files.readString(a.resolve("paths.tsv")));
    Path retrained = structure("b", "{\"depth\": 2, \"width\": 4, \"paths_per_item\": 2, \"seconds\": 1.5}",
        "1\t0.1,3.2\n2\t1.2\n");
    Path moreWide = structure("c", "{\"depth\": 2, \"width\": 5, \"paths_per_item\": 2, \"seconds\": 1.5}",
        "1\t0.1,3.3\n2\t1.2\n");
    DrStructureId id = PathTable.read(a).structure();
    assertEquals(new DrStructureId(2, 4, 2, id.sha256()), id);
    assertEquals(id, PathTable.read(copy).structure(), "a copy is the same structure");
    assertEquals(id.key(), PathTable.read(a).structure().key(), "read twice: deterministic");
    assertNotEquals(id, PathTable.read(retrained).structure(), "other paths: another structure");
    DrStructureId wide = PathTable.read(moreWide).structure();
    assertEquals(5, wide.width());
    assertNotEquals(id.sha256(), wide.sha256());
    assertTrue(id.toString().startsWith("D=2 K=4 J=2 sha256=" + id.sha256().substring(0, 12)), id.toString());
  }

  /** Path codes are base-K numbers in a long: a shape with K^D >= 2^63 would wrap them negative and collide. */
  @Test
  void aShapeWhosePathCodesOverflowIsRefused() throws IOException {
    assertEquals(1L << 60, DrStructureId.pathCount(15, 16));
    assertThrows(IllegalArgumentException.class, () -> new DrStructureId(16, 16, 1, "ab".repeat(32)));
    assertThrows(IllegalArgumentException.class, () -> new DrStructureId(10, 100, 1, "ab".repeat(32)));
    String path = String.join(".", java.util.Collections.nCopies(16, "15"));
    Path wide = structure("wide", "{\"depth\": 16, \"width\": 16, \"paths_per_item\": 1}", "1\t" + path + "\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PathTable.read(wide));
    assertTrue(e.getMessage().contains("dr.json") && e.getMessage().contains("2^63"), e.getMessage());
  }

  @Test
  void gatherRefusesASnapshotTableOfAnotherStructure() throws IOException {
    Path dir = TestData.repo().resolve(".cache/trained-smoke/dr");
    Assumptions.assumeTrue(Files.exists(dir.resolve("reference.json")),
        "no DR export at " + dir + " (./test.sh trains one before the Java tests)");
    int userDim = new ObjectMapper().readTree(dir.resolve("reference.json").toFile()).get("users").get(0).size();
    PathTable trained = PathTable.read(dir);
    // an index of the trained items (embeddings do not matter to gathering) with their trained paths
    List<Long> ids = new ArrayList<>(trained.codes().keySet());
    ids.sort(null);
    long[] idArray = ids.stream().mapToLong(Long::longValue).toArray();
    float[] emb = new float[idArray.length * 2];
    Random r = new Random(5);
    for (int i = 0; i < emb.length; i++) {
      emb[i] = r.nextFloat();
    }
    HnswIndex index = new HnswIndexBuilder().m(8).efConstruction(16).seed(1).version(4).build(emb, 2, idArray);
    int j = trained.perItem();
    long[] codes = new long[idArray.length * j];
    for (int node = 0; node < idArray.length; node++) {
      System.arraycopy(trained.codes().get(index.itemId(node)), 0, codes, node * j, j);
    }
    try (PathModel model = PathModel.load(dir, userDim)) {
      assertEquals(trained.structure(), model.structure());
      int[][] best = model.beamSearch(new float[userDim], 3).paths();
      ItemIdLookup lookup = ItemIdLookup.of(index);

      BitSet same = model.gather(best, index.withPaths(ItemPaths.of(codes, j, model.structure())), lookup);
      assertFalse(same.isEmpty(), "the best paths hold items");
      assertEquals(same, model.gather(best, index.withPaths(ItemPaths.of(codes, j)), lookup),
          "a table of unknown structure (an earlier snapshot) is read as this structure's");

      DrStructureId other = new DrStructureId(model.depth(), model.width(), j, "0".repeat(64));
      HnswIndex foreign = index.withPaths(ItemPaths.of(codes, j, other));
      ScorerException e = assertThrows(ScorerException.class, () -> model.gather(best, foreign, lookup));
      assertTrue(e.getMessage().contains("index version 4") && e.getMessage().contains(other.toString())
          && e.getMessage().contains(model.structure().toString()) && e.getMessage().contains("dr.dir"), e.getMessage());
    }
  }

  private Path structure(String name, String spec, String paths) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve(name));
    Files.writeString(dir.resolve("dr.json"), spec);
    Files.writeString(dir.resolve("paths.tsv"), paths);
    return dir;
  }
}
