package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.TestData;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ModelDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Descriptors may only name files inside the configured roots (however the path is spelled: ../,
 * file: uris, links, other schemes), the file must hold the version and SHA-256 claimed, and an
 * index version may not jump absurdly far ahead of the current one. (Manifest descriptors of a
 * sharded index: {@code ShardedDescriptorGuardTest} in index-sync, which writes real manifests.)
 */
class DescriptorGuardTest {
  @TempDir
  Path dir;

  @Test
  void pathsOutsideTheRootsAreRefusedHoweverSpelled() throws Exception {
    Path snapshots = Files.createDirectories(dir.resolve("store/snapshots"));
    Path models = Files.createDirectories(dir.resolve("store/models"));
    Files.writeString(dir.resolve("secret.txt"), "x");
    DescriptorGuard guard = new DescriptorGuard(snapshots.toString(), models.toString(), 10);
    assertEquals(snapshots.resolve("index-v1.nann"), guard.snapshotFile("index-v1.nann"));
    assertEquals(snapshots.resolve("index-v1.nann"), guard.snapshotFile(snapshots.resolve("index-v1.nann").toUri().toString()));
    for (String bad : new String[] {"../../secret.txt", dir.resolve("secret.txt").toString(), "/etc/passwd",
        "file:///etc/passwd", "file://host/etc/passwd", "s3://bucket/index.nann", "", "sub/../../models/x"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> guard.snapshotFile(bad), bad);
      assertTrue(e.getMessage().startsWith("the snapshot uri"), e.getMessage());
    }
    // a link inside the root that points outside it
    Path link = Files.createSymbolicLink(snapshots.resolve("escape"), dir);
    assertThrows(IllegalArgumentException.class, () -> guard.snapshotFile(link.resolve("secret.txt").toString()));
    assertThrows(IllegalArgumentException.class, () -> guard.modelDir(snapshots.toString()), "models live under their own root");
  }

  @Test
  void anIndexDescriptorMustNameARealSnapshotOfItsVersionWithinTheWindow() {
    dev.nann.corpus.Corpus c = TestData.corpus(200, 16, 1);
    IndexDescriptor v3 = TestData.publish(new dev.nann.graph.HnswIndexBuilder().m(8).efConstruction(20).version(3)
        .build(c.embeddings(), c.dim(), c.itemIds()), dir.resolve("index-v3.nann"));
    DescriptorGuard guard = new DescriptorGuard(dir.toString(), dir.toString(), 10);
    assertNull(guard.refuseIndex(v3, -1));
    assertNull(guard.refuseIndex(v3, 2));
    IndexDescriptor lying = IndexDescriptor.newBuilder(v3).setVersion(4).build();
    assertTrue(guard.refuseIndex(lying, 2).contains("holds version 3"), guard.refuseIndex(lying, 2));
    IndexDescriptor absurd = IndexDescriptor.newBuilder(v3).setVersion(Long.MAX_VALUE).build();
    assertTrue(guard.refuseIndex(absurd, 2).contains("more than 10 above the current 2"), guard.refuseIndex(absurd, 2));
    IndexDescriptor missing = IndexDescriptor.newBuilder(v3).setUri("index-v9.nann").setVersion(9).build();
    assertTrue(guard.refuseIndex(missing, 2) != null);
  }

  /**
   * The catalogue keeps the first descriptor it sees of a version, so one with the right version
   * and a made-up SHA-256 must be refused before it can take that version number.
   */
  @Test
  void anIndexDescriptorMustCarryTheSnapshotsSha256() {
    dev.nann.corpus.Corpus c = TestData.corpus(200, 16, 2);
    IndexDescriptor v5 = TestData.publish(new dev.nann.graph.HnswIndexBuilder().m(8).efConstruction(20).version(5)
        .build(c.embeddings(), c.dim(), c.itemIds()), dir.resolve("index-v5.nann"));
    DescriptorGuard guard = new DescriptorGuard(dir.toString(), dir.toString(), 10);
    assertNull(guard.refuseIndex(v5, 4));
    assertNull(guard.refuseIndex(IndexDescriptor.newBuilder(v5).setSha256(v5.getSha256().toUpperCase()).build(), 4),
        "hex case is not a different checksum");
    String madeUp = "ab".repeat(32);
    String why = guard.refuseIndex(IndexDescriptor.newBuilder(v5).setSha256(madeUp).build(), 4);
    assertTrue(why != null && why.contains("has SHA-256 " + v5.getSha256()) && why.contains("says " + madeUp), why);
  }

  @Test
  void aModelDescriptorMustNameAModelDirectoryOfItsVersion() throws Exception {
    Path m = Files.createDirectories(dir.resolve("m-1"));
    try (Stream<Path> files = Files.list(TestData.model("dnn", 16))) {
      for (Path f : files.toList()) {
        Files.copy(f, m.resolve(f.getFileName()));
      }
    }
    String version = dev.nann.scorer.ModelSpec.read(m).version();
    DescriptorGuard guard = new DescriptorGuard(dir.toString(), dir.toString(), 10);
    ModelDescriptor good = ModelDescriptor.newBuilder().setVersion(version).setUri(m.toString()).setSha256("x")
        .setItemDim(16).build();
    assertNull(guard.refuseModel(good));
    assertTrue(guard.refuseModel(ModelDescriptor.newBuilder(good).setVersion("m-99").build()).contains("holds version"));
    assertTrue(guard.refuseModel(ModelDescriptor.newBuilder(good).setUri("/tmp").build()).contains("outside"));
  }
}
