package dev.nann.search;

import java.util.Arrays;
import java.util.function.LongPredicate;

/**
 * The default walk's beam W: its best {@code capacity} entries (packed as in {@link ScoredHeap})
 * in one array sorted best first, each with an expanded flag.
 *
 * <p>The walk asks two things of W at every step: keep the best entries of the batch just scored,
 * and hand out the best entries not yet expanded. Two heaps did that at a sift of log W levels per
 * entry kept and per node expanded, each level a branch the predictor cannot guess; here a step's
 * survivors (those above W's worst) are sorted once and merged into W from its worst end, and the best
 * unexpanded entries are read off the front, from a cursor below which every entry is expanded. The
 * content equals what a bounded heap keeps after the same offers, entry for entry.
 *
 * <p>Per-query state of one {@link Searcher}; not thread-safe.
 */
final class SortedBeam {
  private long[] entries = new long[512];
  private boolean[] expanded = new boolean[512];
  private long[] survivors = new long[512];
  private int size;
  private int capacity;
  private int cursor;   // entries before it are all expanded

  /** Empties W and sets how many entries it keeps. */
  void reset(int capacity) {
    this.capacity = capacity;
    size = 0;
    cursor = 0;
    if (entries.length < capacity) {
      entries = new long[capacity];
      expanded = new boolean[capacity];
    }
  }

  int size() {
    return size;
  }

  /** Entry {@code i}, best first. */
  long get(int i) {
    return entries[i];
  }

  /** The best entry, or {@link Long#MIN_VALUE} when W is empty. */
  long best() {
    return size == 0 ? Long.MIN_VALUE : entries[0];
  }

  /** W's worst entry once full, else {@link Long#MIN_VALUE}: an entry must beat it to enter. */
  long worst() {
    return size >= capacity ? entries[size - 1] : Long.MIN_VALUE;
  }

  /** Marks every entry unexpanded (a new layer's walk starts from all of W). */
  void unexpandAll() {
    Arrays.fill(expanded, 0, size, false);
    cursor = 0;
  }

  /**
   * Takes up to {@code want} of the best unexpanded entries, best first, marks them expanded and
   * writes their nodes to {@code out}; returns how many.
   */
  int takeUnexpanded(int want, int[] out) {
    int c = 0;
    int i = cursor;
    while (i < size && expanded[i]) {
      i++;
    }
    cursor = i;
    for (; i < size && c < want; i++) {
      if (!expanded[i]) {
        expanded[i] = true;
        out[c++] = ScoredHeap.node(entries[i]);
      }
    }
    return c;
  }

  /**
   * Offers {@code batch[0, n)} (distinct entries, none already in W): W keeps the best {@code
   * capacity} of its entries and the batch's, new ones unexpanded. Unexpanded entries that do not
   * stay in W go to {@code dropped} when given (a filtered walk's candidates outside W).
   */
  void offerAll(long[] batch, int n, ScoredHeap dropped) {
    if (survivors.length < n) {
      survivors = new long[Math.max(n, 2 * survivors.length)];
    }
    long floor = worst();
    int s = 0;
    for (int i = 0; i < n; i++) {
      long e = batch[i];
      if (e > floor) {
        survivors[s++] = e;
      } else if (dropped != null) {
        dropped.offer(e);
      }
    }
    if (s == 0) {
      return;
    }
    Arrays.sort(survivors, 0, s);   // ascending: merged into W worst first
    merge(s, dropped);
  }

  /**
   * Merges the sorted survivors into W in place, from the worst end: the worst entries beyond the
   * capacity go first, then each survivor moves the entries below it down; entries above the best
   * survivor are not touched, and late in a walk most survivors land near W's end.
   */
  private void merge(int s, ScoredHeap dropped) {
    int kept = Math.min(capacity, size + s);
    int i = size - 1;   // W's worst entry not yet placed
    int j = 0;          // the worst survivor not yet placed
    for (int drop = size + s - kept; drop > 0; drop--) {
      if (j >= s || (i >= 0 && entries[i] < survivors[j])) {
        if (dropped != null && !expanded[i]) {
          dropped.offer(entries[i]);
        }
        i--;
      } else {
        if (dropped != null) {
          dropped.offer(survivors[j]);
        }
        j++;
      }
    }
    int o = kept - 1;   // o - i is the survivors left to place: a write never lands on an unread entry
    for (; j < s; j++) {
      long next = survivors[j];
      int below = i;   // W's entries worse than the next survivor move down together, in one copy
      while (below >= 0 && entries[below] < next) {
        below--;
      }
      int run = i - below;
      if (run > 0) {
        System.arraycopy(entries, below + 1, entries, o - run + 1, run);
        System.arraycopy(expanded, below + 1, expanded, o - run + 1, run);
        o -= run;
        i = below;
      }
      entries[o] = next;
      expanded[o--] = false;
    }
    size = kept;
    cursor = Math.min(cursor, o + 1);   // the best survivor's place, unexpanded
  }

  /** The best {@code k} entries {@code keep} accepts into {@code out}, best first; returns how many. */
  int best(int k, LongPredicate keep, long[] out) {
    int n = 0;
    for (int i = 0; i < size && n < k; i++) {
      if (keep.test(entries[i])) {
        out[n++] = entries[i];
      }
    }
    return n;
  }
}
