package dev.nann.indexsync;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.SnapshotFormat;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.shard.ShardAssignment;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A whole catalogue built into S shard snapshots and one manifest, outside the streaming job: the
 * first load of a large catalogue, where sending every item through item-embeddings and the
 * index-sync job's state would only delay the first build. Shard files, checksums and the manifest
 * are exactly what index-sync publishes, so serving cannot tell the difference and index-sync
 * continues from the versions in the store.
 */
public final class ShardedBulkLoad {
  /** What the load took: the manifest's descriptor and each shard's build seconds. */
  public record Result(IndexDescriptor manifest, double[] buildSeconds, int[] items) {
  }

  private ShardedBulkLoad() {
  }

  /**
   * Builds, writes, reads back and verifies every shard (one at a time, each with {@code threads}
   * builder threads), then writes the manifest naming them.
   *
   * @param embeddings row-major {@code ids.length x dim}
   * @param log progress, a line per shard
   */
  public static Result publish(Path store, long version, long[] ids, float[] embeddings, int dim, int shards, int m,
                               int efConstruction, int threads, PrintStream log) {
    ShardAssignment.check(shards);
    int[] counts = new int[shards];
    int[] shardOf = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      shardOf[i] = ShardAssignment.shardOf(ids[i], shards);
      counts[shardOf[i]]++;
    }
    SnapshotPublisher publisher = new SnapshotPublisher(store, m, efConstruction, threads);
    List<IndexDescriptor> published = new ArrayList<>();
    double[] seconds = new double[shards];
    for (int s = 0; s < shards; s++) {
      long[] shardIds = new long[counts[s]];
      float[] shardEmb = new float[counts[s] * dim];
      int n = 0;
      for (int i = 0; i < ids.length; i++) {
        if (shardOf[i] == s) {
          shardIds[n] = ids[i];
          System.arraycopy(embeddings, i * dim, shardEmb, n * dim, dim);
          n++;
        }
      }
      long t0 = System.nanoTime();
      final int shard = s;
      HnswIndex built = new HnswIndexBuilder().m(m).efConstruction(efConstruction).threads(threads).seed(version + s)
          .version(version).progress(done -> log.printf("[shards] shard %d of %d: %,d of %,d items inserted%n", shard,
              shards, done, shardIds.length))
          .build(shardEmb, dim, shardIds);
      published.add(publisher.publishShard(built, s));
      seconds[s] = (System.nanoTime() - t0) / 1e9;
      log.printf("[shards] shard %d of %d: version %d built over %,d items, written and verified in %.1f s%n", s,
          shards, version, counts[s], seconds[s]);
    }
    ShardManifest manifest = ShardManifest.of(version, published);
    String sha = manifest.write(store);
    IndexDescriptor d = manifest.descriptor(store.resolve(SnapshotFormat.manifestFileName(version)), sha);
    log.printf("[shards] manifest version %d: %d shards, %,d items%n", version, shards, d.getItems());
    return new Result(d, seconds, counts);
  }
}
