package dev.nann.scorer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/**
 * Per-thread scratch for one scoring call: candidate embeddings in a direct buffer (handed to the
 * runtime without a copy), the {@code user_idx} column, and the output scores. Reused across
 * calls and queries; never shared between threads.
 */
public final class ScoreBatch {
  private final int capacity;
  private final int dim;
  private final FloatBuffer items;
  private final LongBuffer userIdx;
  private final float[] scores;
  private final FloatBuffer output;
  private final float[] stage;

  public ScoreBatch(int capacity, int dim) {
    if (capacity < 1 || dim < 1) {
      throw new IllegalArgumentException("capacity and dim must be >= 1, got " + capacity + ", " + dim);
    }
    this.capacity = capacity;
    this.dim = dim;
    this.items = ByteBuffer.allocateDirect(capacity * dim * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    this.userIdx = ByteBuffer.allocateDirect(capacity * Long.BYTES).order(ByteOrder.nativeOrder()).asLongBuffer();
    this.scores = new float[capacity];
    this.output = ByteBuffer.allocateDirect(capacity * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
    this.stage = new float[capacity * dim];
  }

  /** Rows the batch holds. */
  public int capacity() {
    return capacity;
  }

  public int dim() {
    return dim;
  }

  /** Row-major candidate embeddings; row i starts at float index {@code i * dim}. */
  public FloatBuffer items() {
    return items;
  }

  /** Heap scratch of {@code capacity * dim} floats for gathering rows before one bulk write into {@link #items}. */
  public float[] stage() {
    return stage;
  }

  /** Which user state row each candidate row is scored against (0 for single-user calls). */
  public LongBuffer userIdx() {
    return userIdx;
  }

  /** Scores written by the last call. */
  public float[] scores() {
    return scores;
  }

  /**
   * Direct buffer a runtime may write a call's scores into in place (no output allocated per call);
   * the scorer copies them to {@link #scores}.
   */
  public FloatBuffer output() {
    return output;
  }

  /**
   * Fails the call when any of the last call's first {@code n} scores is NaN. A NaN has no place in
   * a ranking (as a heap key it would sort above every real score and lead the walk), so an answer
   * built on one could not be trusted; the request gets an error that names the model instead.
   *
   * @param model the model's version, for the message
   */
  public void requireScores(int n, String model) {
    int nan = 0;
    for (int i = 0; i < n; i++) {
      nan += scores[i] != scores[i] ? 1 : 0;
    }
    if (nan > 0) {
      throw new ScorerException("the score network of model " + model + " returned NaN for " + nan + " of the " + n
          + " items of one call: the model is not defined for this user and those items, so it cannot rank them",
          null);
    }
  }

  /** Writes one candidate row from an array. */
  public void putRow(int row, float[] src, int srcOffset) {
    items.put(row * dim, src, srcOffset, dim);
  }
}
