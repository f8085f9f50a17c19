package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.SnapshotException;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shard file names, the manifest file (format, atomic write, SHA-256) and pruning of a sharded store. */
class ShardManifestTest {
  @TempDir
  Path dir;

  @Test
  void shardAndManifestNamesNeverMatchTheUnshardedPattern() throws Exception {
    assertEquals("index-v000000000003-s0002.nann", SnapshotStore.shardFileName(3, 2));
    assertEquals("index-v000000000007.manifest", SnapshotStore.manifestFileName(7));
    for (String n : List.of(SnapshotStore.fileName(4), SnapshotStore.shardFileName(9, 0), SnapshotStore.shardFileName(5, 0),
        SnapshotStore.shardFileName(11, 1), SnapshotStore.manifestFileName(2), SnapshotStore.manifestFileName(6),
        "index-v000000000099-s0000.nann.tmp-1", "index-v000000000099.manifest.tmp-1")) {
      Files.writeString(dir.resolve(n), "x");
    }
    assertArrayEquals(new long[] {4}, SnapshotStore.versionsIn(dir), "unsharded versions: shard files and manifests not counted");
    assertEquals(4, SnapshotPublisher.newestVersion(dir));
    assertArrayEquals(new long[] {9, 5}, SnapshotStore.shardVersionsIn(dir, 0));
    assertArrayEquals(new long[] {11}, SnapshotStore.shardVersionsIn(dir, 1));
    assertArrayEquals(new long[0], SnapshotStore.shardVersionsIn(dir, 2));
    assertArrayEquals(new long[] {6, 2}, SnapshotStore.manifestVersionsIn(dir));
    assertArrayEquals(new long[0], SnapshotStore.manifestVersionsIn(dir.resolve("missing")));
  }

  @Test
  void aShardIsPublishedVerifiedUnderItsOwnFileName() {
    Random rnd = new Random(5);
    int n = 300;
    int dim = 8;
    float[] emb = new float[n * dim];
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i * 7L;
      for (int j = 0; j < dim; j++) {
        emb[i * dim + j] = (float) rnd.nextGaussian();
      }
    }
    HnswIndex built = new dev.nann.graph.HnswIndexBuilder().m(8).efConstruction(32).seed(4).version(4).build(emb, dim, ids);
    IndexDescriptor d = new SnapshotPublisher(dir, 8, 32, 1).publishShard(built, 3);
    Path file = Path.of(URI.create(d.getUri()));
    assertEquals(SnapshotStore.shardFileName(4, 3), file.getFileName().toString());
    assertEquals(1, d.getShards().size());
    ShardSnapshot s = d.getShards().get(0);
    assertEquals(3, s.getShard());
    assertEquals(4, s.getVersion());
    assertEquals(d.getUri(), s.getUri());
    assertEquals(n, s.getItems());
    assertEquals(SnapshotFormat.read(file).sha256(), s.getSha256());
    assertArrayEquals(new long[] {4}, SnapshotStore.shardVersionsIn(dir, 3));
    assertArrayEquals(new long[0], SnapshotStore.versionsIn(dir));
  }

  @Test
  void theManifestIsWrittenAtomicallyWithItsChecksumAndReadsBack() throws Exception {
    ShardManifest m = ShardManifest.of(7, List.of(shard(0, 3, 250_112, 1_000), shard(1, 5, 249_888, 900)));
    assertEquals(500_000, m.items());
    assertEquals(900, m.createdAtMillis(), "the oldest shard's build time");
    String sha = m.write(dir);
    Path file = dir.resolve("index-v000000000007.manifest");
    assertEquals(sha, ShardManifest.sha256(file));
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList(), "no temporary file left");
    }
    assertEquals("""
        {
          "format": 1,
          "version": 7,
          "items": 500000,
          "dim": 8,
          "m": 16,
          "efConstruction": 40,
          "createdAtMillis": 900,
          "shards": [
            {"shard": 0, "version": 3, "file": "index-v000000000003-s0000.nann", "sha256": "sha-0-3", "items": 250112},
            {"shard": 1, "version": 5, "file": "index-v000000000005-s0001.nann", "sha256": "sha-1-5", "items": 249888}
          ]
        }
        """, Files.readString(file));
    assertEquals(m, ShardManifest.read(file));
    // a version names one manifest: the same bytes again are fine, other ones never replace it
    assertEquals(sha, m.write(dir));
    ShardManifest other = ShardManifest.of(7, List.of(shard(0, 4, 250_112, 1_000), shard(1, 5, 249_888, 900)));
    SnapshotException taken = assertThrows(SnapshotException.class, () -> other.write(dir));
    assertTrue(taken.getMessage().contains("already exists with other contents"), taken.getMessage());
    assertEquals(sha, ShardManifest.sha256(file));
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList(), "no temporary file left by the refused write");
    }

    IndexDescriptor d = m.descriptor(file, sha);
    assertEquals(7, d.getVersion());
    assertEquals(file.toAbsolutePath().toUri().toString(), d.getUri());
    assertEquals(sha, d.getSha256());
    assertEquals(500_000, d.getItems());
    assertEquals(2, d.getShards().size());
    assertEquals(dir.resolve(SnapshotStore.shardFileName(5, 1)).toAbsolutePath().toUri().toString(),
        d.getShards().get(1).getUri());

    // names are written as JSON strings: a quote or backslash in one cannot break the document
    ShardManifest odd = new ShardManifest(8, 1, 8, 16, 40, 1, List.of(new ShardManifest.Entry(0, 8, "a \"b\\c\".nann",
        "sha", 1)));
    odd.write(dir);
    assertEquals(odd, ShardManifest.read(dir.resolve("index-v000000000008.manifest")));

    Files.writeString(file, "{\"format\": 2}");
    assertThrows(SnapshotException.class, () -> ShardManifest.read(file));
    Files.writeString(file, "{\"format\": 1, \"version\": ");
    assertThrows(SnapshotException.class, () -> ShardManifest.read(file));
    assertThrows(IllegalArgumentException.class, () -> ShardManifest.of(1, List.of(shard(1, 1, 1, 1))),
        "shards listed out of order");
  }

  /**
   * A manifest never mixes item dimensions (index.dim changed while some shards still hold the old
   * one), never claims more items than a descriptor can carry, and one in the store whose numbers
   * are out of range is refused when read, so pruning passes it by instead of failing index-sync.
   */
  @Test
  void impossibleManifestsAreRefusedBeforeWritingAndWhenRead() throws Exception {
    IndexDescriptor wide = IndexDescriptor.newBuilder(shard(1, 2, 10, 1)).setDim(16).build();
    IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class,
        () -> ShardManifest.of(3, List.of(shard(0, 1, 10, 1), wide)));
    assertTrue(mixed.getMessage().endsWith("would mix item dimensions: shards [0] at dim 8, [1] at dim 16"),
        mixed.getMessage());
    IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
        () -> ShardManifest.of(3, List.of(shard(0, 1, Integer.MAX_VALUE, 1), shard(1, 1, 1, 1))));
    assertTrue(huge.getMessage().contains("would serve 2147483648 items"), huge.getMessage());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(0, files.count(), "nothing written");
    }

    ShardManifest.of(5, entries(new long[] {2, 1})).write(dir);
    Path bad = dir.resolve(SnapshotStore.manifestFileName(6));
    String five = Files.readString(dir.resolve(SnapshotStore.manifestFileName(5)));
    Files.writeString(bad, five.replace("\"version\": 5", "\"version\": 6")
        .replace("\"shard\": 1, \"version\": 1", "\"shard\": 1, \"version\": -1"));
    SnapshotException refused = assertThrows(SnapshotException.class, () -> ShardManifest.read(bad));
    assertTrue(refused.getMessage().contains("'version' = -1 is outside [0, 999999999999]"), refused.getMessage());
    assertEquals(List.of(), ManifestAssembler.prune(dir, 1), "an unreadable kept manifest: nothing deleted, no failure");
    Files.writeString(bad, five.replace("\"version\": 5", "\"version\": 6")
        .replace("\"items\": 20", "\"items\": 4294967316"));
    assertThrows(SnapshotException.class, () -> ShardManifest.read(bad), "items beyond an int are not narrowed");
  }

  /**
   * Pruning keeps the newest manifests and every shard file they name, however old; it deletes the
   * shard files older than those, and never a shard file newer than the newest manifest.
   */
  @Test
  void pruningNeverDeletesAFileAKeptManifestNames() throws Exception {
    // shard 0 changes often, shard 1 only once: the kept manifests still name shard 1's oldest file
    long[][] manifests = {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {4, 2}};   // manifest i+1: shard 0 version, shard 1 version
    for (int v = 1; v <= 6; v++) {
      Files.writeString(dir.resolve(SnapshotStore.shardFileName(v, 0)), "s0 v" + v);   // v6: not yet in a manifest
    }
    for (int v = 1; v <= 2; v++) {
      Files.writeString(dir.resolve(SnapshotStore.shardFileName(v, 1)), "s1 v" + v);
    }
    Files.writeString(dir.resolve(SnapshotStore.shardFileName(1, 2)), "a shard of another shard count");
    Files.writeString(dir.resolve(SnapshotStore.fileName(1)), "an unsharded snapshot");
    for (int i = 0; i < manifests.length; i++) {
      ShardManifest.of(i + 1, List.of(shard(0, manifests[i][0], 10, 1), shard(1, manifests[i][1], 10, 1))).write(dir);
    }

    List<Path> deleted = ManifestAssembler.prune(dir, 3);
    Set<String> left = names();
    // kept: manifests 3, 4, 5 naming s0 v3, v4 and s1 v1, v2
    for (long v = 3; v <= 5; v++) {
      ShardManifest kept = ShardManifest.read(dir.resolve(SnapshotStore.manifestFileName(v)));
      for (ShardManifest.Entry e : kept.shards()) {
        assertTrue(left.contains(e.file()), "manifest " + v + " names " + e.file() + ", which must stay");
      }
    }
    assertEquals(Set.of("index-v000000000003.manifest", "index-v000000000004.manifest", "index-v000000000005.manifest",
        SnapshotStore.shardFileName(3, 0), SnapshotStore.shardFileName(4, 0), SnapshotStore.shardFileName(5, 0),
        SnapshotStore.shardFileName(6, 0), SnapshotStore.shardFileName(1, 1), SnapshotStore.shardFileName(2, 1),
        SnapshotStore.shardFileName(1, 2), SnapshotStore.fileName(1)), left);
    assertEquals(4, deleted.size(), "manifests 1 and 2, shard 0's versions 1 and 2: " + deleted);

    // keep 1: only the newest manifest's files (and what is newer) stay
    ManifestAssembler.prune(dir, 1);
    left = names();
    assertTrue(left.containsAll(List.of(SnapshotStore.shardFileName(4, 0), SnapshotStore.shardFileName(2, 1),
        SnapshotStore.shardFileName(5, 0), SnapshotStore.shardFileName(6, 0))), left.toString());
    assertFalse(left.contains(SnapshotStore.shardFileName(1, 1)));
    assertFalse(left.contains(SnapshotStore.shardFileName(3, 0)));
    assertEquals(List.of(5L), List.of(SnapshotStore.manifestVersionsIn(dir)[0]));

    // a kept manifest that cannot be read: no shard file is deleted
    Files.writeString(dir.resolve(SnapshotStore.manifestFileName(6)), "not json");
    Set<String> before = names();
    ManifestAssembler.prune(dir, 1);
    Set<String> after = names();
    before.removeIf(n -> n.endsWith(".manifest"));
    assertTrue(after.containsAll(before), "nothing but manifests deleted when a kept one is unreadable");
  }

  @Test
  void aBurstOfShardPublishesKeepsTheVersionServingStillUses() throws Exception {
    // version 10 is live; then each of 4 shards publishes once within the activation delay, making
    // manifests 11 to 14 while requests are still stamped with 10: its shard files must stay
    int shards = 4;
    long[] live = {5, 5, 5, 5};
    ShardManifest.of(10, entries(live)).write(dir);
    for (int s = 0; s < shards; s++) {
      Files.writeString(dir.resolve(SnapshotStore.shardFileName(5, s)), "s" + s + " v5");
    }
    long[] current = live.clone();
    for (int s = 0; s < shards; s++) {
      current[s] = 6;
      Files.writeString(dir.resolve(SnapshotStore.shardFileName(6, s)), "s" + s + " v6");
      ShardManifest.of(11 + s, entries(current)).write(dir);
      ManifestAssembler.prune(dir, ManifestAssembler.manifestsKept(1, shards));
    }
    Set<String> left = names();
    assertTrue(left.contains(SnapshotStore.manifestFileName(10)), left.toString());
    for (int s = 0; s < shards; s++) {
      assertTrue(left.contains(SnapshotStore.shardFileName(5, s)), "shard " + s + " of the live version: " + left);
    }
    // with keep alone (1) the live version's shard files would have gone with its manifest
    ManifestAssembler.prune(dir, 1);
    assertFalse(names().contains(SnapshotStore.shardFileName(5, 0)));
  }

  @Test
  void youngManifestsAndTheirFilesStayWhateverTheirNumber() throws Exception {
    // shards publishing faster than serving activates versions: manifests 10 to 16 all written within
    // the last minute; keep 1 + S alone would delete manifest 10's shard files while it may serve
    long now = System.currentTimeMillis();
    long[] versions = {5, 5};
    for (long m = 10; m <= 16; m++) {
      int s = (int) (m % 2);
      ShardManifest.of(m, entries(versions)).write(dir);
      Files.writeString(dir.resolve(SnapshotStore.shardFileName(versions[s], s)), "s" + s + " v" + versions[s]);
      versions[s]++;
    }
    Files.setLastModifiedTime(dir.resolve(SnapshotStore.manifestFileName(10)),
        java.nio.file.attribute.FileTime.fromMillis(now - 60_000));
    ManifestAssembler.prune(dir, 3, 120_000, now);
    assertTrue(names().contains(SnapshotStore.manifestFileName(10)), "a manifest a minute old stays");
    assertTrue(names().contains(SnapshotStore.shardFileName(5, 0)), "and the shard files it names");
    // once older than the minimum age, only the newest 3 stay
    Files.setLastModifiedTime(dir.resolve(SnapshotStore.manifestFileName(10)),
        java.nio.file.attribute.FileTime.fromMillis(now - 600_000));
    for (long m = 11; m <= 13; m++) {
      Files.setLastModifiedTime(dir.resolve(SnapshotStore.manifestFileName(m)),
          java.nio.file.attribute.FileTime.fromMillis(now - 600_000));
    }
    ManifestAssembler.prune(dir, 3, 120_000, now);
    assertFalse(names().contains(SnapshotStore.manifestFileName(10)));
    assertTrue(names().contains(SnapshotStore.manifestFileName(14)), "14 to 16 are the newest 3");
  }

  @Test
  void theNewestManifestOlderThanTheBurstStaysWithItsFiles() throws Exception {
    // manifest 10 has served for an hour; then both shards publish twice within seconds (11 to 14):
    // requests are still stamped with 10 until the newest activates, so 10 and its files must stay
    long now = System.currentTimeMillis();
    long[] versions = {5, 5};
    for (long m = 10; m <= 14; m++) {
      if (m > 10) {
        versions[(int) (m % 2)]++;
      }
      ShardManifest.of(m, entries(versions)).write(dir);
      for (int s = 0; s < 2; s++) {
        Files.writeString(dir.resolve(SnapshotStore.shardFileName(versions[s], s)), "s" + s + " v" + versions[s]);
      }
    }
    Files.setLastModifiedTime(dir.resolve(SnapshotStore.manifestFileName(10)),
        java.nio.file.attribute.FileTime.fromMillis(now - 3_600_000));
    ManifestAssembler.prune(dir, 3, 120_000, now);
    assertTrue(names().contains(SnapshotStore.manifestFileName(10)), "the version serving still uses");
    assertTrue(names().contains(SnapshotStore.shardFileName(5, 0)), "and the shard files it names");
    assertTrue(names().contains(SnapshotStore.shardFileName(5, 1)));
  }

  @Test
  void anInterruptedWritesTemporaryFileIsSweptOnceStale() throws Exception {
    Path stale = dir.resolve(".index-v000000000003-s0000.nann.1234.tmp");
    Path fresh = dir.resolve(".index-v000000000004-s0000.nann.5678.tmp");
    Files.writeString(stale, "half a snapshot");
    Files.writeString(fresh, "a write in progress");
    Files.setLastModifiedTime(stale, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 7_200_000));
    ShardManifest.of(1, entries(new long[] {1, 1})).write(dir);
    List<Path> deleted = ManifestAssembler.prune(dir, 3);
    assertEquals(List.of(stale), deleted);
    assertTrue(Files.exists(fresh), "a write in progress is left alone");
  }

  private List<IndexDescriptor> entries(long[] versions) {
    List<IndexDescriptor> out = new ArrayList<>();
    for (int s = 0; s < versions.length; s++) {
      out.add(shard(s, versions[s], 10, 1));
    }
    return out;
  }

  private Set<String> names() throws Exception {
    try (Stream<Path> files = Files.list(dir)) {
      return new HashSet<>(files.map(p -> p.getFileName().toString()).toList());
    }
  }

  private IndexDescriptor shard(int shard, long version, int items, long createdAt) {
    String uri = dir.resolve(SnapshotStore.shardFileName(version, shard)).toAbsolutePath().toUri().toString();
    return IndexDescriptor.newBuilder().setVersion(version).setUri(uri).setSha256("sha-" + shard + "-" + version)
        .setItems(items).setDim(8).setM(16).setEfConstruction(40).setCreatedAtMillis(createdAt)
        .setShards(new ArrayList<>(List.of(ShardSnapshot.newBuilder().setShard(shard).setVersion(version).setUri(uri)
            .setSha256("sha-" + shard + "-" + version).setItems(items).build())))
        .build();
  }
}
