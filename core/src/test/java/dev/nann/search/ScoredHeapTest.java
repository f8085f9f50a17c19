package dev.nann.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ScoredHeapTest {
  @Test
  void packingOrdersByScoreIncludingNegativesAndRoundTrips() {
    float[] scores = {-3.5f, -0.0f, 0f, 1e-9f, 2.5f, -1e30f, 1e30f};
    for (float a : scores) {
      assertEquals(a, ScoredHeap.score(ScoredHeap.pack(7, a)));
      assertEquals(7, ScoredHeap.node(ScoredHeap.pack(7, a)));
      for (float b : scores) {
        if (a < b) {
          assertTrue(ScoredHeap.pack(99, a) < ScoredHeap.pack(1, b), a + " < " + b);
        }
      }
    }
  }

  @Test
  void boundedMinHeapKeepsTheBestN() {
    Random rnd = new Random(1);
    ScoredHeap heap = new ScoredHeap(4, false);
    heap.reset(25);
    float[] all = new float[1000];
    for (int i = 0; i < all.length; i++) {
      all[i] = (float) rnd.nextGaussian();
      heap.offer(ScoredHeap.pack(i, all[i]));
    }
    float[] sorted = all.clone();
    Arrays.sort(sorted);
    assertEquals(25, heap.size());
    for (int i = 0; i < 25; i++) {
      assertEquals(sorted[975 + i], ScoredHeap.score(heap.poll()));
    }
    heap.reset(2);
    assertTrue(heap.offer(ScoredHeap.pack(1, 1f)));
    assertTrue(heap.offer(ScoredHeap.pack(2, 2f)));
    assertFalse(heap.offer(ScoredHeap.pack(3, 0.5f)), "worse than the worst kept");
    heap.resize(1);
    assertEquals(2f, ScoredHeap.score(heap.peek()));
  }

  @Test
  void maxHeapPollsBestFirst() {
    ScoredHeap heap = new ScoredHeap(2, true);
    heap.reset(0);
    for (int i = 0; i < 100; i++) {
      heap.offer(ScoredHeap.pack(i, (i * 37) % 100));
    }
    float prev = Float.MAX_VALUE;
    while (heap.size() > 0) {
      float s = ScoredHeap.score(heap.poll());
      assertTrue(s <= prev);
      prev = s;
    }
  }

  @Test
  void mixedOffersAndPollsMatchASortedReference() {
    Random rnd = new Random(3);
    for (boolean max : new boolean[] {false, true}) {
      ScoredHeap reused = new ScoredHeap(1, max);   // one heap across rounds: reset must forget every entry
      for (int round = 0; round < 50; round++) {
        int capacity = 1 + rnd.nextInt(round < 40 ? 40 : 400);
        ScoredHeap heap = round % 2 == 0 ? new ScoredHeap(1 + rnd.nextInt(4), max) : reused;   // small: arrays grow
        heap.reset(max ? 0 : capacity);
        java.util.TreeSet<Long> reference = new java.util.TreeSet<>();
        for (int op = 0; op < 1500; op++) {
          if (rnd.nextInt(4) == 0 && heap.size() > 0) {
            long expected = max ? reference.pollLast() : reference.pollFirst();
            assertEquals(expected, heap.poll(), "poll " + op);
          } else {
            long e = ScoredHeap.pack(op, (float) rnd.nextGaussian());
            boolean kept = heap.offer(e);
            boolean shouldKeep = max || reference.size() < capacity || e > reference.first();
            assertEquals(shouldKeep, kept, "offer " + op);
            if (kept) {
              reference.add(e);
              if (!max && reference.size() > capacity) {
                reference.pollFirst();
              }
            }
          }
          assertEquals(reference.size(), heap.size());
          if (heap.size() > 0) {
            assertEquals(max ? reference.last() : reference.first(), heap.peek());
          }
        }
      }
    }
  }

  @Test
  void visitedMarksNeedNoClearBetweenQueries() {
    VisitedMarks marks = new VisitedMarks(1000);
    marks.newQuery();
    marks.mark(3);
    marks.mark(999);
    assertTrue(marks.visited(3) && marks.visited(999));
    assertFalse(marks.visited(4) || marks.visited(998));
    marks.newQuery();
    assertFalse(marks.visited(3) || marks.visited(999), "a new query starts with nothing visited");
    for (int i = 0; i < 1000; i += 7) {
      marks.mark(i);
    }
    marks.newQuery();
    for (int i = 0; i < 1000; i++) {
      assertFalse(marks.visited(i));
    }
  }

  @Test
  void markUnvisitedKeepsOnlyNewNodesOnceAndLogsThemForClearing() {
    VisitedMarks marks = new VisitedMarks(200);
    marks.newQuery();
    marks.mark(5);
    int[] nbrs = {5, 6, 7, 6, 130, 7, 199, 0};
    int[] out = new int[nbrs.length + 3];
    out[0] = -1;
    int n = marks.markUnvisited(nbrs, 0, nbrs.length, out, 1);
    assertArrayEquals(new int[] {-1, 6, 7, 130, 199, 0}, java.util.Arrays.copyOf(out, n),
        "visited (5) and repeated (6, 7) nodes are dropped, order kept, appended after index 1");
    assertTrue(marks.visited(130) && marks.visited(199));
    assertEquals(0, marks.markUnvisited(new int[] {6, 0, 5}, 0, 3, out, 0), "all already visited");
    marks.newQuery();
    for (int v : nbrs) {
      assertFalse(marks.visited(v), "node " + v + " is cleared by the next query");
    }
  }

  @Test
  void drainBestAnswersTheBestKAcceptedEntriesBestFirst() {
    Random rnd = new Random(5);
    ScoredHeap heap = new ScoredHeap(4, false);
    for (int round = 0; round < 300; round++) {
      int capacity = 1 + rnd.nextInt(round < 200 ? 30 : 3000);
      int k = 1 + rnd.nextInt(capacity + 5);
      heap.reset(capacity);
      java.util.TreeSet<Long> kept = new java.util.TreeSet<>();
      int offers = rnd.nextInt(2 * capacity + 1);
      for (int i = 0; i < offers; i++) {
        long e = ScoredHeap.pack(i, rnd.nextInt(4) == 0 ? rnd.nextInt(8) : (float) rnd.nextGaussian());   // ties on score too
        heap.offer(e);
        kept.add(e);
        if (kept.size() > capacity) {
          kept.pollFirst();
        }
      }
      long[] expected = kept.descendingSet().stream().filter(e -> ScoredHeap.node(e) % 3 != 0)
          .limit(k).mapToLong(Long::longValue).toArray();
      long[] out = new long[heap.size()];
      int n = heap.drainBest(k, e -> ScoredHeap.node(e) % 3 != 0, out);
      assertArrayEquals(expected, Arrays.copyOf(out, n), "round " + round);
      assertEquals(0, heap.size());
    }
  }
}
