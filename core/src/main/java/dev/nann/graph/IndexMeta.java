package dev.nann.graph;

/**
 * Build parameters and identity of one index snapshot.
 *
 * @param version monotonically increasing snapshot version
 * @param dim embedding dimension
 * @param m HNSW max connections per node on upper levels (level 0 keeps 2·M), Lucene's {@code maxConn}
 * @param efConstruction HNSW build beam width, Lucene's {@code beamWidth}
 * @param seed level-assignment seed of the build
 * @param createdAtMillis wall-clock time of the build
 */
public record IndexMeta(long version, int dim, int m, int efConstruction, long seed, long createdAtMillis) {
  public IndexMeta {
    if (dim <= 0) {
      throw new IllegalArgumentException("dim must be > 0, got " + dim);
    }
    if (m < 2) {
      throw new IllegalArgumentException("M must be >= 2, got " + m);
    }
    if (efConstruction < 1) {
      throw new IllegalArgumentException("efConstruction must be >= 1, got " + efConstruction);
    }
  }
}
