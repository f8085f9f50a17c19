package dev.nann.scorer;

import java.util.Arrays;
import java.util.TreeSet;

/**
 * The batch sizes the scorer runs (paper §4.2 "auto-padding"): a batch of n rows is padded to the
 * smallest grid size >= n, so the runtime only ever sees a few shapes, each warmed up at load. The
 * default grid has four sizes per octave (padding wastes at most ~19%, ~9% on average). That is
 * what a GPU wants (a new shape there means new kernels and allocations); ONNX Runtime's CPU
 * provider runs any batch size at the cost of its rows, so on the CPU an {@link #unpadded} grid
 * scores each batch as it is, and its sizes are only the shapes warmed up at load.
 */
public final class ShapeGrid {
  private final int[] sizes;
  private final boolean padded;

  /** A padding grid of these sizes. */
  public ShapeGrid(int... sizes) {
    this(true, sizes);
  }

  private ShapeGrid(boolean padded, int... sizes) {
    this.padded = padded;
    if (sizes.length == 0) {
      throw new IllegalArgumentException("a shape grid needs at least one size");
    }
    int[] s = sizes.clone();
    Arrays.sort(s);
    if (s[0] < 1) {
      throw new IllegalArgumentException("grid sizes must be >= 1, got " + s[0]);
    }
    this.sizes = s;
  }

  /** Four sizes per octave from {@code min} to {@code max}, rounded up to multiples of 8. */
  public static ShapeGrid geometric(int min, int max) {
    if (min < 1 || max < min) {
      throw new IllegalArgumentException("need 1 <= min <= max, got " + min + ", " + max);
    }
    TreeSet<Integer> s = new TreeSet<>();
    for (double v = min; v < max; v *= Math.pow(2, 0.25)) {
      s.add(Math.min(max, (int) Math.ceil(v / 8.0) * 8));
    }
    s.add(max);
    return new ShapeGrid(s.stream().mapToInt(Integer::intValue).toArray());
  }

  /** The default grid: 16 .. 8192. */
  public static ShapeGrid defaults() {
    return geometric(16, 8192);
  }

  /** Batches of any size up to {@code max}, run as they are; the default grid's sizes are warmed up. */
  public static ShapeGrid unpadded(int max) {
    return new ShapeGrid(false, geometric(Math.min(16, max), max).sizes);
  }

  /**
   * The grid for an execution provider as {@code OnnxModel#provider} names it ({@code CPU} or
   * {@code CUDA:<device>}): unpadded on the CPU, where padding only adds rows (measured: 4–7% more queries/s
   * on MovieLens + 1M with the attention scorer), the default grid on a GPU.
   */
  public static ShapeGrid forProvider(String provider) {
    return "CPU".equals(provider) ? unpadded(defaults().max()) : defaults();
  }

  /** Smallest grid size >= n, or n itself when unpadded; n must not exceed {@link #max()}. */
  public int padTo(int n) {
    if (n > max()) {
      throw new IllegalArgumentException("batch of " + n + " exceeds the largest grid size " + max());
    }
    if (!padded) {
      return n;
    }
    int i = Arrays.binarySearch(sizes, n);
    return sizes[i >= 0 ? i : -i - 1];
  }

  public int max() {
    return sizes[sizes.length - 1];
  }

  public int[] sizes() {
    return sizes.clone();
  }

  /** Whether batches are padded up to a grid size. */
  public boolean padded() {
    return padded;
  }

  @Override
  public String toString() {
    return (padded ? "" : "unpadded, warmed at ") + Arrays.toString(sizes);
  }
}
