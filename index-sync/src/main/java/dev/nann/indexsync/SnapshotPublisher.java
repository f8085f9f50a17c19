package dev.nann.indexsync;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.HnswIndexBuilder;
import dev.nann.graph.SnapshotException;
import dev.nann.graph.SnapshotFormat;
import dev.nann.graph.SnapshotStore;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ShardSnapshot;
import java.nio.file.Path;
import java.util.function.LongConsumer;

/**
 * Builds a snapshot for one catalogue version and returns the descriptor that may be published
 * only because the written file was read back, checksummed and matched: a snapshot that cannot be
 * read back never gets a descriptor.
 */
public final class SnapshotPublisher {
  private final Path directory;
  private final int m;
  private final int efConstruction;
  private final int threads;

  /**
   * @param directory where snapshot files go ({@code index-v<version>.nann})
   */
  public SnapshotPublisher(Path directory, int m, int efConstruction, int threads) {
    this.directory = directory;
    this.m = m;
    this.efConstruction = efConstruction;
    this.threads = threads;
  }

  /** The newest version with a snapshot file in {@code directory}, or 0 when there is none. */
  public static long newestVersion(Path directory) {
    long[] versions = SnapshotStore.versionsIn(directory);
    return versions.length == 0 ? 0 : versions[0];
  }

  /**
   * Builds, writes, reads back and verifies.
   *
   * @param embeddings row-major {@code ids.length x dim}
   * @param progress nodes inserted so far, about every second
   * @throws SnapshotException if the written file does not read back identically
   */
  public IndexDescriptor publish(long version, float[] embeddings, int dim, long[] ids, long seed, LongConsumer progress) {
    return publish(build(version, embeddings, dim, ids, seed, progress));
  }

  /** Builds a graph of {@code version} with this publisher's M, efConstruction and threads (not yet written). */
  public HnswIndex build(long version, float[] embeddings, int dim, long[] ids, long seed, LongConsumer progress) {
    return new HnswIndexBuilder().m(m).efConstruction(efConstruction).threads(threads).seed(seed)
        .version(version).progress(progress).build(embeddings, dim, ids);
  }

  /**
   * Writes a built index, reads it back, verifies it, and returns its descriptor ({@code items}
   * counts the live items; tombstoned nodes are not).
   *
   * @throws SnapshotException if the written file does not read back identically
   */
  public IndexDescriptor publish(HnswIndex built) {
    return publish(built, directory.resolve(SnapshotStore.fileName(built.meta().version())));
  }

  /**
   * Writes, reads back and verifies one shard's snapshot ({@code index-v<version>-s<shard>.nann},
   * version = the shard's own build version) and returns its one-shard descriptor: version, uri,
   * sha256 and items name the shard's file, and {@code shards} holds its {@link ShardSnapshot}.
   *
   * @throws SnapshotException if the written file does not read back identically
   */
  public IndexDescriptor publishShard(HnswIndex built, int shard) {
    IndexDescriptor d = publish(built, directory.resolve(SnapshotStore.shardFileName(built.meta().version(), shard)));
    d.setShards(java.util.List.of(ShardSnapshot.newBuilder().setShard(shard).setVersion(d.getVersion())
        .setUri(d.getUri()).setSha256(d.getSha256()).setItems(d.getItems()).build()));
    return d;
  }

  private IndexDescriptor publish(HnswIndex built, Path file) {
    long version = built.meta().version();
    HnswIndex written = SnapshotFormat.write(built, file);
    HnswIndex readBack = SnapshotFormat.read(file);
    if (!readBack.sha256().equals(written.sha256()) || readBack.size() != built.size()
        || readBack.meta().version() != version || readBack.deletedCount() != built.deletedCount()) {
      throw new SnapshotException("snapshot " + file + " did not read back as written; not publishing version " + version);
    }
    return IndexDescriptor.newBuilder()
        .setVersion(version)
        .setUri(file.toAbsolutePath().toUri().toString())
        .setSha256(readBack.sha256())
        .setItems(readBack.size() - readBack.deletedCount())
        .setDim(built.dim())
        .setM(m)
        .setEfConstruction(efConstruction)
        .setCreatedAtMillis(readBack.meta().createdAtMillis())
        .build();
  }
}
