package dev.nann.graph;

import java.nio.FloatBuffer;

/**
 * Row-major item embeddings e_v, {@code size x dim} floats, on the heap or memory-mapped.
 * Immutable: the backing buffer is never written through this type.
 */
public final class Embeddings {
  private final FloatBuffer data;
  private final int dim;
  private final int size;

  public Embeddings(FloatBuffer data, int dim) {
    if (dim <= 0) {
      throw new IllegalArgumentException("dim must be > 0, got " + dim);
    }
    if (data.limit() % dim != 0) {
      throw new IllegalArgumentException("embedding buffer of " + data.limit() + " floats is not a multiple of dim " + dim);
    }
    this.data = data;
    this.dim = dim;
    this.size = data.limit() / dim;
  }

  /** Wraps a row-major heap array. */
  public static Embeddings of(float[] rowMajor, int dim) {
    return new Embeddings(FloatBuffer.wrap(rowMajor), dim);
  }

  public int dim() {
    return dim;
  }

  public int size() {
    return size;
  }

  /** Copies row {@code node} into {@code dst} at float index {@code dstIndex} (absolute, no position change). */
  public void copyRow(int node, FloatBuffer dst, int dstIndex) {
    dst.put(dstIndex, data, node * dim, dim);
  }

  /**
   * Copies rows {@code nodes[from, from + count)} into {@code stage} rows {@code 0..count-1} and then
   * into {@code dst} from index 0 in one bulk write.
   *
   * <p>Why two passes: the rows are random reads from a table far larger than the caches. A first
   * pass that only loads one float per 64-byte line of every row has tiny iterations, so the CPU
   * keeps many of those misses in flight at once; the copy pass then finds the rows in cache. A
   * single copy loop leaves roughly one miss in flight at a time (measured: ~2x slower per row).
   *
   * @param stage heap scratch of at least {@code count * dim} floats (the caller's, reused)
   * @return the sum of the floats the first pass read; keep it (add it to a field) so the JIT
   *     cannot drop those loads as dead
   */
  public float gatherRows(int[] nodes, int from, int count, float[] stage, FloatBuffer dst) {
    float[] heap = heapArray();
    float touch = 0;
    if (heap == null) {
      for (int i = 0; i < count; i++) {
        data.get(nodes[from + i] * dim, stage, i * dim, dim);
      }
    } else {
      for (int block = 0; block < count; block += TOUCH_BLOCK) {
        int end = Math.min(count, block + TOUCH_BLOCK);
        for (int i = block; i < end; i++) {
          int o = nodes[from + i] * dim;
          for (int j = 0; j < dim; j += 16) {
            touch += heap[o + j];
          }
          touch += heap[o + dim - 1];   // rows are not 64-byte aligned: the last line may be one more
        }
        for (int i = block; i < end; i++) {
          System.arraycopy(heap, nodes[from + i] * dim, stage, i * dim, dim);
        }
      }
    }
    dst.put(0, stage, 0, count * dim);
    return touch;
  }

  private static final int TOUCH_BLOCK = 64;        // rows touched ahead of their copy (16 KiB, stays in L1)

  /** Copies row {@code node} into {@code dst} from {@code dstOffset}. */
  public void copyRow(int node, float[] dst, int dstOffset) {
    data.get(node * dim, dst, dstOffset, dim);
  }

  /** One row as a new array (tools and tests). */
  public float[] row(int node) {
    float[] r = new float[dim];
    copyRow(node, r, 0);
    return r;
  }

  /** The row-major heap array behind these embeddings, or null when they are memory-mapped. */
  public float[] heapArray() {
    return data.hasArray() && data.arrayOffset() == 0 ? data.array() : null;
  }

  FloatBuffer buffer() {
    return data;
  }
}
