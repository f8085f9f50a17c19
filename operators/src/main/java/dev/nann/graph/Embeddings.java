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
