package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.SnapshotFormat;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.internal.CatalogInput;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Index-sync's Deep Retrieval paths for items train-dr did not see, across builds, on a MiniCluster. */
class DrIndexSyncTest {
  @TempDir
  Path dir;

  /**
   * An untrained item takes its nearest trained item's paths and keeps them while its neighbours
   * change, but a new embedding of its own assigns it again.
   */
  @Test
  void anUntrainedItemIsAssignedAgainWhenItsOwnEmbeddingChanges() throws Exception {
    Path dr = Files.createDirectories(dir.resolve("dr"));
    Files.writeString(dr.resolve("dr.json"), "{\"format\": 1, \"depth\": 2, \"width\": 4, \"paths_per_item\": 1}");
    Files.writeString(dr.resolve("paths.tsv"), "1\t0.1\n2\t3.3\n");
    IndexSyncConfig cfg = IndexSyncConfig.of(Map.of(
        "kafka.bootstrap-servers", "127.0.0.1:1",   // not used: the pipeline is fed from a collection
        "snapshot.dir", dir.resolve("snapshots").toString(),
        "index.dim", "2",
        "index.m", "4",
        "rebuild.min-changes", "3",
        "rebuild.max-interval-ms", "3600000",
        "dr.dir", dr.toString()));
    List<CatalogInput> in = new ArrayList<>(List.of(item(1, 0), item(2, 10), item(3, 1)));   // build 1: 3 near 1
    in.addAll(List.of(item(3, 9), item(4, 20), item(5, 30)));                              // build 2: 3 moved near 2
    List<IndexDescriptor> out = run(cfg, in);
    assertEquals(2, out.size(), out.toString());
    assertArrayEquals(new long[] {1}, pathsOf(out.get(0), 3), "first near item 1 (path 0.1)");
    assertArrayEquals(new long[] {15}, pathsOf(out.get(1), 3), "moved next to item 2 (path 3.3)");
  }

  private static CatalogInput item(long id, float x) {
    return CatalogInput.newBuilder().setItem(ItemEmbedding.newBuilder().setItemId(id).setEmbedding(List.of(x, 0f))
        .build()).build();
  }

  private static long[] pathsOf(IndexDescriptor d, long itemId) {
    HnswIndex index = SnapshotFormat.read(Path.of(URI.create(d.getUri())));
    for (int node = 0; node < index.size(); node++) {
      if (!index.isDeleted(node) && index.itemId(node) == itemId) {
        return index.paths().pathsOf(node);
      }
    }
    throw new AssertionError("no item " + itemId + " in " + d.getUri());
  }

  private static List<IndexDescriptor> run(IndexSyncConfig cfg, List<CatalogInput> input) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1, new Configuration());
    DataStream<CatalogInput> items = env.fromData(input, new AvroTypeInfo<>(CatalogInput.class));
    List<IndexDescriptor> out = new ArrayList<>();
    try (CloseableIterator<IndexDescriptor> it = IndexSyncJob.descriptors(items, cfg).executeAndCollect("dr-index-sync")) {
      it.forEachRemaining(out::add);
    }
    return out;
  }
}
