package dev.nann.search;

/**
 * Primitive heap of (score, node) pairs packed in a {@code long}: the score's sortable bits high,
 * the node low, so comparing longs compares scores (ties by node id). No boxing per candidate.
 * A min-heap keeps the best {@code capacity} entries (the worst at the root); with
 * {@code max = true} it is an unbounded max-heap (best at the root).
 */
public final class ScoredHeap {
  private long[] heap;
  private int size;
  private int capacity;
  private final boolean max;

  /** @param max true for an unbounded max-heap, false for a bounded min-heap (see {@link #reset}) */
  public ScoredHeap(int initialCapacity, boolean max) {
    this.heap = new long[Math.max(16, initialCapacity)];
    this.max = max;
  }

  public static long pack(int node, float score) {
    int bits = Float.floatToIntBits(score);
    int sortable = bits ^ ((bits >> 31) & 0x7fffffff);
    return ((long) sortable << 32) | (node & 0xffffffffL);
  }

  public static int node(long packed) {
    return (int) packed;
  }

  public static float score(long packed) {
    int sortable = (int) (packed >>> 32);
    int bits = sortable ^ ((sortable >> 31) & 0x7fffffff);
    return Float.intBitsToFloat(bits);
  }

  /** Empties the heap and sets how many entries a bounded min-heap keeps. */
  public void reset(int capacity) {
    this.size = 0;
    this.capacity = capacity;
    if (heap.length < capacity + 1) {
      heap = new long[capacity + 1];
    }
  }

  /** Changes a min-heap's capacity, dropping the worst entries if it now holds too many. */
  void resize(int capacity) {
    while (size > capacity) {
      poll();
    }
    this.capacity = capacity;
    if (heap.length < capacity + 1) {
      heap = java.util.Arrays.copyOf(heap, capacity + 1);
    }
  }

  public int size() {
    return size;
  }

  public boolean isFull() {
    return !max && size >= capacity;
  }

  /** Root entry: the worst kept (min-heap) or the best (max-heap). */
  public long peek() {
    return heap[0];
  }

  /** Adds an entry; a full min-heap keeps it only if it beats the worst. Returns whether it was kept. */
  public boolean offer(long packed) {
    if (!max && size >= capacity) {
      if (packed <= heap[0]) {
        return false;
      }
      heap[0] = packed;
      down(0);
      return true;
    }
    if (size == heap.length) {
      heap = java.util.Arrays.copyOf(heap, size * 2);
    }
    heap[size] = packed;
    up(size++);
    return true;
  }

  public long poll() {
    long top = heap[0];
    heap[0] = heap[--size];
    down(0);
    return top;
  }

  /**
   * Empties the heap into {@code out} (at least {@link #size} long): its best {@code k} entries that
   * {@code keep} accepts, best first; returns how many. A selection and a sort of those k, not a poll
   * per entry: a query drains W entries of which it answers k.
   */
  int drainBest(int k, java.util.function.LongPredicate keep, long[] out) {
    int n = 0;
    for (int i = 0; i < size; i++) {
      if (keep.test(heap[i])) {
        out[n++] = heap[i];
      }
    }
    size = 0;
    int from = Math.max(0, n - k);
    if (from > 0) {
      selectRank(out, n, from);
    }
    java.util.Arrays.sort(out, from, n);
    for (int i = from, j = n - 1; i < j; i++, j--) {
      long t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    System.arraycopy(out, from, out, 0, n - from);
    return n - from;
  }

  /**
   * Hoare's selection: afterwards {@code a[rank]} holds the entry of that rank in ascending order,
   * no entry before it is larger and none after it smaller. Entries are distinct (node ids differ).
   */
  static void selectRank(long[] a, int n, int rank) {
    int lo = 0;
    int hi = n - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      long pivot = Math.max(Math.min(a[lo], a[mid]), Math.min(Math.max(a[lo], a[mid]), a[hi]));
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (a[i] < pivot) {
          i++;
        }
        while (a[j] > pivot) {
          j--;
        }
        if (i <= j) {
          long t = a[i];
          a[i++] = a[j];
          a[j--] = t;
        }
      }
      if (rank <= j) {
        hi = j;
      } else if (rank >= i) {
        lo = i;
      } else {
        return;
      }
    }
  }

  /** Entry {@code i} in heap order (not sorted). */
  long get(int i) {
    return heap[i];
  }

  private boolean before(long a, long b) {
    return max ? a > b : a < b;
  }

  private void up(int i) {
    long v = heap[i];
    while (i > 0) {
      int parent = (i - 1) >>> 1;
      if (!before(v, heap[parent])) {
        break;
      }
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = v;
  }

  private void down(int i) {
    long v = heap[i];
    int half = size >>> 1;
    while (i < half) {
      int child = 2 * i + 1;
      int right = child + 1;
      if (right < size && before(heap[right], heap[child])) {
        child = right;
      }
      if (!before(heap[child], v)) {
        break;
      }
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = v;
  }
}
