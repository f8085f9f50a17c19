package dev.nann.scorer;

import java.util.Arrays;
import java.util.TreeSet;

/**
 * The fixed batch sizes the scorer runs (paper §4.2 "auto-padding"): a batch of n rows is padded
 * to the smallest grid size >= n, so the runtime only ever sees a few shapes, each warmed up at
 * load. The default grid has four sizes per octave (padding wastes at most ~19%, ~9% on average).
 */
public final class ShapeGrid {
  private final int[] sizes;

  public ShapeGrid(int... sizes) {
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

  /** Smallest grid size >= n; n must not exceed {@link #max()}. */
  public int padTo(int n) {
    if (n > max()) {
      throw new IllegalArgumentException("batch of " + n + " exceeds the largest grid size " + max());
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

  @Override
  public String toString() {
    return Arrays.toString(sizes);
  }
}
