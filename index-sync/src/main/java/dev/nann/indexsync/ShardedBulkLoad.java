package dev.nann.indexsync;

import dev.nann.graph.HnswIndex;
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
 * are exactly what index-sync publishes, so serving cannot tell the difference and index-sync's
 * version numbers continue from the ones in the store. Its catalogue does not: index-sync builds
 * from the item-embeddings topic, so the loaded items must be on it too, or the next version it
 * publishes lacks them.
 */
public final class ShardedBulkLoad {
  /**
   * What the load published and took: the descriptor to publish (the manifest's; with one shard, the
   * snapshot's), each shard's build seconds and items.
   */
  public record Result(IndexDescriptor descriptor, double[] buildSeconds, int[] items) {
  }

  private ShardedBulkLoad() {
  }

  /**
   * Builds, writes, reads back and verifies every shard (one at a time, each with {@code threads}
   * builder threads), then writes the manifest naming them; with one shard, one unsharded snapshot
   * and its descriptor.
   *
   * @param embeddings row-major {@code ids.length x dim}
   * @param log progress, a line per shard
   */
  public static Result publish(Path store, long version, long[] ids, float[] embeddings, int dim, int shards, int m,
                               int efConstruction, int threads, PrintStream log) {
    ShardAssignment.check(shards);
    SnapshotPublisher publisher = new SnapshotPublisher(store, m, efConstruction, threads);
    if (shards == 1) {   // one unsharded snapshot, as index-sync publishes with index.shards = 1
      long t0 = System.nanoTime();
      IndexDescriptor d = publisher.publish(publisher.build(version, embeddings, dim, ids, version,
          done -> log.printf("[index] %,d of %,d items inserted%n", done, ids.length)));
      double secs = (System.nanoTime() - t0) / 1e9;
      log.printf("[index] version %d: one unsharded snapshot of %,d items built, written and verified in %.1f s%n",
          version, ids.length, secs);
      return new Result(d, new double[] {secs}, new int[] {ids.length});
    }
    int[] counts = new int[shards];
    int[] shardOf = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      shardOf[i] = ShardAssignment.shardOf(ids[i], shards);
      counts[shardOf[i]]++;
    }
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
      HnswIndex built = publisher.build(version, shardEmb, dim, shardIds, version + s,
          done -> log.printf("[shards] shard %d of %d: %,d of %,d items inserted%n", shard, shards, done, shardIds.length));
      published.add(publisher.publishShard(built, s));
      seconds[s] = (System.nanoTime() - t0) / 1e9;
      log.printf("[shards] shard %d of %d: version %d built over %,d items, written and verified in %.1f s%n", s,
          shards, version, counts[s], seconds[s]);
    }
    ShardManifest manifest = ShardManifest.of(version, published);
    IndexDescriptor d = manifest.publish(store);
    log.printf("[shards] manifest version %d: %d shards, %,d items%n", version, shards, d.getItems());
    return new Result(d, seconds, counts);
  }
}
